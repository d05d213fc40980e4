"""What the scoring loop hands the web page (live/live_state.py): the score ring and its
curve, the status and events it gets as a sink, the pictures drawn only when asked."""

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from convlstm_ae.live import live_state
from convlstm_ae.live.clips import HeatStyle
from convlstm_ae.live.live_state import CURVE_POINTS, CURVE_WIDTH, LiveState
from convlstm_ae.live.outputs import write_snapshot

SECRET = "s3cr3t-pw"


def state(streams=2, heat_limit=1.0, out=None):
    heat = None if heat_limit is None else HeatStyle(heat_limit, 1)
    return LiveState([f"cam{i}" for i in range(streams)], 3.0, out or Path("."), frame_size=8,
                     heat=[heat] * streams)


def step(live, rows, scores, alarm=False, frame=0, error=0.0):
    rows = np.asarray(rows)
    live.update(rows, np.asarray(scores, float), np.full(rows.size, alarm),
                np.full((2, 8, 8), frame, np.uint8), np.full((rows.size, 8, 8), error, np.float32))


def test_the_curve_keeps_the_newest_scores_and_pools_them_by_their_maximum():
    live = state()
    total = CURVE_POINTS + 1000  # the ring wraps
    for index in range(total):
        step(live, [0], [5.0 if index == total - 3 else index % 2])
    curve = live.curve(0)
    assert len(curve["scores"]) <= CURVE_WIDTH and curve["threshold"] == 3.0
    assert max(curve["scores"]) == 5.0  # a one-frame peak survives the pooling
    assert set(curve["scores"]) == {1.0, 5.0}  # every bin holds a 1 next to its 0s
    assert live.curve(1)["scores"] == []  # camera 1 never scored
    step(live, [1], [2.0])
    assert live.curve(1)["scores"] == [2.0]
    step(live, [1], [4.0], alarm=True)
    live.status([{"camera": f"cam{i}", "fps_in": 2.0, "latency_ms": 12.5, "alarm": "OFF",
                  "error": f"rtsp://admin:{SECRET}@x/" if i else None} for i in (0, 1)])
    status = live.page_status()
    assert [c["score"] for c in status["cameras"]] == [(total - 1) % 2, 4.0]  # the latest
    # the open event as the last step saw it, not as the status of up to a second ago
    assert [c["alarm"] for c in status["cameras"]] == [False, True] and status["running"]
    assert [(c["id"], c["name"], c["fps_in"], c["latency_ms"]) for c in status["cameras"]
            ] == [(0, "cam0", 2.0, 12.5), (1, "cam1", 2.0, 12.5)]
    assert SECRET not in str(status)
    live.close()  # the loop closes every open event as it ends
    assert not any(c["alarm"] for c in live.page_status()["cameras"])
    assert not live.page_status()["running"]


def test_events_come_newest_first_after_an_id_redacted_with_their_duration_and_clip(tmp_path):
    live = state(out=tmp_path)
    (tmp_path / "clips").mkdir()
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "clips/x.mp4").write_bytes(b"mp4")
    for number in (1, 2, 3):
        record = {"type": "end", "id": f"1718000000.00000{number}-abcdef",
                  "source": f"rtsp://admin:{SECRET}@10.0.0.{number}/x", "video": "v",
                  "start_frame": 10, "end_frame": 19, "start_time": 1.0, "end_time": 1.9,
                  "peak_score": 7.5, "snapshot": f"snapshots/{number}.png",
                  "clip": "clips/x.mp4" if number == 3 else None}
        write_snapshot(tmp_path / record["snapshot"], np.full((8, 8), 50 * number, np.uint8))
        live.send(record | {"type": "start", "end_frame": None, "end_time": None,
                            "snapshot": None})  # not shown: the end record is
        live.send(record)
    events = live.events()
    assert [e["id"] for e in events] == [3, 2, 1]
    assert [e["id"] for e in live.events(since=1)] == [3, 2]
    assert live.events(since=3) == []
    assert events[0]["event_id"] == "1718000000.000003-abcdef" and "type" not in events[0]
    assert events[0]["source"] == "rtsp://***@10.0.0.3/x" and SECRET not in str(events)
    assert events[0]["clip"] == "clips/x.mp4" and events[1]["clip"] is None
    assert "snapshot" not in events[0]  # a file path of the output folder, not for the page
    assert events[0]["duration_s"] == pytest.approx(0.9) and events[0]["frames"] == 10
    snapshot = cv2.imread(str(live.snapshot(2)), cv2.IMREAD_UNCHANGED)
    assert snapshot.shape == (8, 8) and (snapshot == 100).all()
    assert live.snapshot(99) is None
    assert live.clip(3) == (tmp_path / "clips/x.mp4").resolve()
    assert live.clip(2) is None  # no clip
    (tmp_path / "clips/x.mp4").unlink()
    assert live.clip(3) is None  # not written yet


def test_a_clip_or_snapshot_is_served_only_from_its_own_folder(tmp_path):
    live = state(out=tmp_path)
    for name in ("clips/c.mp4", "snapshots/s.png", "events.jsonl", "clips/deeper/c.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    named = [("snapshots/s.png", "clips/c.mp4"), ("clips/c.mp4", "snapshots/s.png"),
             ("events.jsonl", "events.jsonl"), ("snapshots/../clips/c.mp4", "../clips/c.mp4"),
             ("clips/deeper/c.mp4", "clips/deeper/c.mp4")]
    for snapshot, clip_name in named:
        live.send({"type": "end", "id": "x", "source": "a", "video": "v", "start_frame": 1,
                   "end_frame": 2, "peak_score": 5.0, "snapshot": snapshot, "clip": clip_name})
    assert live.snapshot(1) == (tmp_path / "snapshots/s.png").resolve()
    assert live.clip(1) == (tmp_path / "clips/c.mp4").resolve()
    for event in (2, 3, 4, 5):  # each in another folder, or above the output folder
        assert live.snapshot(event) is None and live.clip(event) is None, event


def test_a_picture_is_drawn_only_for_a_new_frame_and_at_most_every_quarter_second(monkeypatch):
    monkeypatch.setattr(live_state, "PICTURE_EVERY", 0.2)
    live = state()
    step(live, [0, 1], [1.0, 9.0], frame=100, error=1.0)
    first = live.picture(0)
    step(live, [0, 1], [1.0, 9.0], frame=100, error=1.0)
    assert live.picture(0) is first  # too soon
    time.sleep(0.25)
    second = live.picture(0)
    assert second is not first  # a new frame, time passed
    time.sleep(0.25)
    assert live.picture(0) is second  # no new frame since
    image = cv2.imdecode(np.frombuffer(second, np.uint8), cv2.IMREAD_COLOR)
    assert min(image.shape[:2]) >= 320  # upscaled as in the overlay
    plain = state(heat_limit=None)  # no patch calibration: the frame as it is
    step(plain, [0, 1], [1.0, 9.0], frame=100, error=1.0)
    gray = cv2.imdecode(np.frombuffer(plain.picture(0), np.uint8), cv2.IMREAD_COLOR)
    colour = [np.abs(i[..., 2].astype(int) - i[..., 0]).mean() for i in (image, gray)]
    assert colour[0] > 50 and colour[1] < 2  # full heat (jet red) against gray
