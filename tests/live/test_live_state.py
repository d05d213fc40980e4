"""What the scoring loop hands the web page (live/live_state.py): the score ring and its
curve, the events, the pictures drawn only when asked."""

import time

import cv2
import numpy as np
import pytest

from convlstm_ae.live import live_state
from convlstm_ae.live.live_state import CURVE_POINTS, CURVE_WIDTH, LiveState

SECRET = "s3cr3t-pw"


def state(streams=2, heat_limit=1.0):
    return LiveState([f"cam{i}" for i in range(streams)], 3.0, frame_size=8,
                     heat_limit=heat_limit, patch_size=1)


def step(live, rows, scores, alarm=False, frame=0, error=0.0):
    rows = np.asarray(rows)
    live.update(rows, np.asarray(scores, float), np.full(rows.size, alarm),
                np.full((2, 8, 8), frame, np.uint8), np.full((2, 8, 8), error, np.float32))


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
    status = live.status()
    assert [c["score"] for c in status["cameras"]] == [(total - 1) % 2, 4.0]  # the latest
    assert [c["alarm"] for c in status["cameras"]] == [False, True] and status["running"]
    live.finish()  # the loop closes every open event as it ends
    assert not any(c["alarm"] for c in live.status()["cameras"])
    assert not live.status()["running"]


def test_events_come_newest_first_after_an_id_redacted_with_their_duration_and_clip():
    live = state()
    for number in (1, 2, 3):
        record = {"source": f"rtsp://admin:{SECRET}@10.0.0.{number}/x", "video": "v",
                  "start_frame": 10, "end_frame": 19, "start_time": 1.0, "end_time": 1.9,
                  "peak_score": 7.5, "snapshot": "snapshots/x.png"}
        if number == 3:
            record["clip"] = "clips/x.mp4"
        live.event(record, np.full((8, 8), 50 * number, np.uint8))
    events = live.events()
    assert [e["id"] for e in events] == [3, 2, 1]
    assert [e["id"] for e in live.events(since=1)] == [3, 2]
    assert live.events(since=3) == []
    assert events[0]["source"] == "rtsp://***@10.0.0.3/x" and SECRET not in str(events)
    assert events[0]["clip"] == "clips/x.mp4" and "clip" not in events[1]
    assert "snapshot" not in events[0]  # a file path of the output folder, not for the page
    assert events[0]["duration_s"] == pytest.approx(0.9) and events[0]["frames"] == 10
    snapshot = cv2.imdecode(np.frombuffer(live.snapshot(2), np.uint8), cv2.IMREAD_UNCHANGED)
    assert snapshot.shape == (8, 8) and (snapshot == 100).all()
    assert live.snapshot(99) is None


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
