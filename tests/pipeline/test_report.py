"""Tests of ``convlstm-ae report``: one self-contained HTML page from a score table or a
watch folder, names escaped, AUC with labels, one-line errors on bad input, and a real
headless Chromium rendering when one is installed."""

import base64
import json
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from convlstm_ae.cli import main

EVIL = "<script>alert(1)</script>.avi"
PLOT = re.compile(r'<img class="plot"[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _score_table(path, names, frames=60, calibrated=True):
    """A score table of ``names``, each abnormal (high error) from frame 30 to 44."""
    rng = np.random.default_rng(0)
    columns = ["error", "patch_error", "regularity", "patch_regularity"]
    columns += ["calibrated_error", "calibrated_patch_error", "alarm"] if calibrated else []
    lines = [",".join(["video", "frame", *columns])]
    labels = {}
    for name in names:
        truth = np.zeros(frames, dtype=int)
        truth[30:45] = 1
        error = 1 + truth + 0.3 * rng.random(frames)
        regularity = 1 - (error - error.min()) / np.ptp(error)
        calibrated_error = 3 * error - 3
        values = [error, error / 10, regularity, regularity, calibrated_error,
                  calibrated_error, calibrated_error > 2.5]
        for frame in range(frames):
            row = [f"{float(v[frame]):.6g}" for v in values[: len(columns)]]
            lines.append(",".join(['"' + name + '"', str(frame), *row]))
        labels[name] = truth.tolist()
    path.write_text("\n".join(lines) + "\n")
    return labels


def _watch_folder(folder, sources=("cam1", "cam2"), frames=50):
    """A watch output folder: per-source CSVs, events.jsonl (a start and an end line per
    event, as watch writes it; the end records are returned) and a PNG snapshot."""
    folder.mkdir()
    (folder / "snaps").mkdir()
    events = []
    for index, source in enumerate(sources):
        alarm = np.zeros(frames, dtype=int)
        alarm[20:26] = 1
        video = f"{source}-clip.avi"
        rows = ["time,video,frame,history,error,patch_error,score,alarm"]  # as watch writes
        rows += [f"{f / 10:.1f},{video},{f},{f % 10},{1 + alarm[f] + 0.01 * (f % 7)},0.1,"
                 f"{1 + 3 * alarm[f]},{alarm[f]}" for f in range(frames)]
        (folder / f"frames-{source}.csv").write_text("\n".join(rows) + "\n")
        snapshot = np.full((48, 64, 3), 40 * index, np.uint8)
        cv2.circle(snapshot, (32, 24), 10, (0, 0, 255), -1)
        cv2.imwrite(str(folder / "snaps" / f"{source}.png"), snapshot)
        events.append({"type": "end", "id": f"1.{index}", "source": source, "start_frame": 20,
                       "end_frame": 25, "start_time": 2.0, "end_time": 2.5, "peak_score": 4.0,
                       "peak_frame": 22, "snapshot": f"snaps/{source}.png", "video": video})
    starts = [e | {"type": "start", "end_frame": None, "end_time": None, "snapshot": None}
              for e in events]
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in starts + events))
    return events


def _report(args, capsys):
    code = main(["report", *map(str, args)])
    return code, capsys.readouterr()


def _assert_self_contained(html):
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""src=(?!["']?data:)""", html)  # every image embedded
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()


def _plots(html):
    images = PLOT.findall(html)
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    return images


def test_score_table_with_labels(tmp_path, capsys):
    labels = _score_table(tmp_path / "scores.csv", ["a", EVIL])
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    out = tmp_path / "report.html"
    code, printed = _report([tmp_path / "scores.csv", "-o", out, "--labels",
                             tmp_path / "labels.json"], capsys)
    assert code == 0, printed.err
    html = out.read_text()
    _assert_self_contained(html)
    assert len(_plots(html)) == 3  # the ROC, then one timeline per video
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.avi" in html
    assert "AUC micro / macro" in html and "micro AUC" in html
    assert re.search(r"regularity s\(t\), Eq. 4</th><td class=\"num\">1\.000", html)
    assert not list(tmp_path.glob(".*.tmp"))


def test_score_table_without_labels_has_no_roc(tmp_path, capsys):
    _score_table(tmp_path / "scores.csv", ["a", "b", "c"], calibrated=False)
    out = tmp_path / "report.html"
    assert _report([tmp_path / "scores.csv", "-o", out], capsys)[0] == 0
    html = out.read_text()
    assert len(_plots(html)) == 3
    assert "micro AUC" not in html and "ROC (" not in html and "no alarm column" in html


def test_watch_folder_with_events_and_model(tmp_path, capsys):
    events = _watch_folder(tmp_path / "watch")
    events[0]["source"] = "cam9 <b>"  # matches no table: listed apart, escaped
    (tmp_path / "watch" / "events.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events) + "\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(
        {"format": "convlstm-ae/1", "model": {"preset": "tiny<i>"}, "scoring": {"t_prime": 10}}))
    (model / "calibration.json").write_text(json.dumps({kind: {
        "mean": [1.0], "std": [1.0], "t_prime": 10, "threshold": 2.5, "quantile": 0.99,
        "windows": "reset", "error": "sum"}
        for kind in ("frame", "patch")}))
    labels = {name: [0] * 20 + [1] * 6 + [0] * 24 for name in ("cam1-clip", "cam2-clip")}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    out = tmp_path / "report.html"
    code, printed = _report([tmp_path / "watch", "-o", out, "--model", model, "--labels",
                             tmp_path / "labels.json"], capsys)
    assert code == 0, printed.err
    assert "2 videos, 2 events" in printed.out
    html = out.read_text()
    _assert_self_contained(html)
    assert len(_plots(html)) == 3
    assert len(re.findall(r'<img class="thumb"[^>]*src="data:image/jpeg;base64,', html)) == 2
    assert "Events of other sources" in html and "cam9 &lt;b&gt;" in html
    assert "tiny&lt;i&gt;" in html and "threshold" in html and "2.5" in html
    assert "calibrated score (deployment)" in html


def test_watch_table_as_file_and_missing_snapshot(tmp_path, capsys):
    _watch_folder(tmp_path / "watch")
    (tmp_path / "watch" / "snaps" / "cam1.png").unlink()
    out = tmp_path / "report.html"
    code, _ = _report([tmp_path / "watch" / "frames-cam1.csv", "-o", out, "--events",
                       tmp_path / "watch" / "events.jsonl"], capsys)
    assert code == 0
    html = out.read_text()
    assert len(_plots(html)) == 1
    assert "snapshot not found" in html


@pytest.mark.parametrize("snapshot", ["../outside.png", "{outside}"])
def test_a_snapshot_outside_the_events_folder_is_never_embedded(tmp_path, capsys, snapshot):
    """A planted ../../etc/passwd, or any image elsewhere on the disk, stays out of the page."""
    events = _watch_folder(tmp_path / "watch")
    outside = tmp_path / "outside.png"
    cv2.imwrite(str(outside), np.full((48, 64, 3), 200, np.uint8))
    events[0]["snapshot"] = snapshot.format(outside=outside)
    (tmp_path / "watch" / "events.jsonl").write_text("".join(json.dumps(e) + "\n"
                                                             for e in events))
    out = tmp_path / "report.html"
    code, streams = _report([tmp_path / "watch", "-o", out], capsys)
    assert code == 0 and "lies outside" in streams.err
    html = out.read_text()
    assert html.count('class="thumb"') == 1 and "no snapshot" in html


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "absent.csv", "not found"),
    (lambda p: _write(p / "garbage.csv", b"\xff\xfe\x00garbage\x80\x81"), "not a readable CSV"),
    (lambda p: _write(p / "other.csv", b"a,b\n1,2\n"), "neither a score table"),
    (lambda p: _write(p / "bad.csv", b"time,video,frame,error,score,alarm\n0,a.avi,0,x,1,0\n"),
     "line 2"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no *.csv"),
])
def test_bad_input_is_one_line_error(tmp_path, capsys, make, message):
    code, printed = _report([make(tmp_path), "-o", tmp_path / "r.html"], capsys)
    assert code == 1
    assert printed.err.count("\n") == 1 and message in printed.err
    assert not (tmp_path / "r.html").exists()


def test_an_event_with_a_start_and_an_end_line_is_listed_once(tmp_path, capsys):
    _watch_folder(tmp_path / "watch")
    code, printed = _report([tmp_path / "watch", "-o", tmp_path / "r.html"], capsys)
    assert code == 0, printed.err
    assert "2 videos, 2 events" in printed.out
    assert (tmp_path / "r.html").read_text().count("frames 20-25") == 2  # one per camera


@pytest.mark.parametrize("line, message", [
    ("not json", "line 2: not a JSON object"),
    ('{"type": "update", "source": "cam1", "start_frame": 1, "end_frame": 3}',
     "'type' must be 'start' or 'end'"),
    ('{"source": "cam1", "start_frame": 1.5, "end_frame": 3}', "'start_frame' must be"),
    ('{"start_frame": 1, "end_frame": 3}', "'source' must be"),
])
def test_bad_events_are_one_line_errors(tmp_path, capsys, line, message):
    _watch_folder(tmp_path / "watch")
    events = tmp_path / "watch" / "events.jsonl"
    events.write_text(events.read_text().splitlines()[0] + "\n" + line + "\n")
    code, printed = _report([tmp_path / "watch", "-o", tmp_path / "r.html"], capsys)
    assert code == 1
    assert printed.err.count("\n") == 1 and message in printed.err


def test_labels_of_missing_video_are_one_line_error(tmp_path, capsys):
    _score_table(tmp_path / "scores.csv", ["a"])
    (tmp_path / "labels.json").write_text(json.dumps({"b": [0] * 60}))
    code, printed = _report([tmp_path / "scores.csv", "--labels", tmp_path / "labels.json",
                             "-o", tmp_path / "r.html"], capsys)
    assert code == 1 and printed.err.count("\n") == 1 and "labels.json" in printed.err


def _write(path, data):
    path.write_bytes(data)
    return path


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium installed "
                    "(apt-get install chromium)")
def test_chromium_renders_report(tmp_path, capsys):
    labels = _score_table(tmp_path / "scores.csv", ["a", EVIL])
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    out = tmp_path / "report.html"
    assert _report([tmp_path / "scores.csv", "-o", out, "--labels",
                    tmp_path / "labels.json"], capsys)[0] == 0
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1280,2000", out.as_uri()],
                   check=True, capture_output=True, timeout=120)
    image = cv2.imread(str(shot))
    assert image.shape[:2] == (2000, 1280)
    colours = np.unique(image.reshape(-1, 3) // 8, axis=0)
    assert len(colours) > 200  # plots and text, not a blank or error page
    assert (image < 100).all(axis=2).mean() > 0.005  # dark text and lines drawn
