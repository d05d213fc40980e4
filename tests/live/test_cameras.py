"""``watch --config cameras.yaml`` (live/cameras.py): the file onto its dataclasses, one-line
errors naming the file and the key, masks rasterized to the located score's cells, a
masked camera that raises no event where the unmasked one does, and SIGHUP reloads of a
running watch."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from convlstm_ae.data.video_io import model_frame
from convlstm_ae.errors import ConfigError
from convlstm_ae.live.cameras import Camera, cell_mask, read_cameras
from convlstm_ae.live.engine import open_engine
from convlstm_ae.pipeline.calibrate import install_located
from convlstm_ae.scoring.located import LocatedDesign, fit_located
from media import noise_calibrated, write_avi
from test_cli import assert_user_error, run_cli

CORNER = [[0, 0], [48, 0], [48, 40], [0, 40]]  # the top-left quarter of an 96x80 frame
# the corner's noise leaks into the cells around it (the decoder blurs): a margin
MASK = [[0, 0], [66, 0], [66, 55], [0, 55]]


def corner_clip(length=40, noisy=range(15, 25), seed=0):
    """Flat gray 96x80 frames with noise in the top-left quarter at ``noisy``."""
    frames = np.full((length, 80, 96), 100, np.uint8)
    rng = np.random.default_rng(seed)
    for index in noisy:
        frames[index, :40, :48] = rng.integers(0, 256, (40, 48), dtype=np.uint8)
    return frames


@pytest.fixture(scope="module")
def located(media, tmp_path_factory):
    """The tiny noise-calibrated model with a located live score fitted on flat frames."""
    folder = shutil.copytree(media["model"], tmp_path_factory.mktemp("located") / "model")
    engine = open_engine(folder, 1, device="cpu")
    cells, histories = [], []
    for seed in range(2):
        video = np.clip(corner_clip(30, noisy=()).astype(int)
                        + np.random.default_rng(seed).integers(-3, 4, (30, 80, 96)), 0, 255)
        engine.reset()
        errors = []
        for frame in video.astype(np.uint8):
            engine.batch[0] = model_frame(frame, engine.frame_size)
            errors.append(engine(engine.batch))
        cells.append(np.stack([np.asarray(e.cells)[0] for e in errors]))
        histories.append(np.array([int(np.asarray(e.history)[0]) for e in errors]))
    design = LocatedDesign(unusual="excess", aggregate="max", adapt="none")
    install_located(folder, fit_located(cells, histories, design, 8, 0.99, ("n0", "n1")))
    return folder


def write_cameras(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return path


def test_a_cameras_file_maps_onto_its_dataclasses_paths_from_its_folder(tmp_path):
    path = write_cameras(tmp_path / "cams/cameras.yaml", {
        "model": "models/m", "serve": "127.0.0.1:8080", "clips": True, "pre_seconds": 2,
        "cameras": [{"name": "door", "source": "rtsp://u:p@h/s", "threshold": 4,
                     "min_frames": 2, "source_size": [1280, 720],
                     "mask": [[[0, 0], [10, 0], [10, 10]]]},
                    {"name": "yard", "source": "videos/yard.avi", "release_frames": 7,
                     "model": "models/yard"},
                    {"name": "gate", "source": "0"}]})
    config = read_cameras(path)
    door, yard, _ = config.cameras
    assert config.model == tmp_path / "cams/models/m"
    assert config.by_model() == {tmp_path / "cams/models/m": [0, 2],  # one engine each
                                 tmp_path / "cams/models/yard": [1]}
    assert config.out == tmp_path / "cams/watch-out" and config.pre_seconds == 2.0
    assert (door.source, door.threshold, door.min_frames) == ("rtsp://u:p@h/s", 4, 2)
    assert door.mask == (((0, 0), (10, 0), (10, 10)),) and door.source_size == (1280, 720)
    assert yard.source == str(tmp_path / "cams/videos/yard.avi")
    assert yard.rules(3.5).threshold == 3.5 and door.rules(3.5).threshold == 4
    assert yard.rules(3.5).release_frames == 7


@pytest.mark.parametrize(("text", "named"), [
    ("model: m\ncameras: [{name: a, source: x, treshold: 3}]",
     "camera 'a': unknown key 'treshold'"),
    ("model: m\nservee: 1\ncameras: [{name: a, source: x}]", "unknown key 'servee'"),
    ("model: m\ncameras: [{name: a, source: x, threshold: high}]",
     "camera 'a': threshold must be of type"),
    ("model: m\ncameras: [{name: a, source: x, min_frames: 0}]", "camera 'a'"),
    ("model: m\ncameras: [{name: a, source: x, mask: [[[0, 0], [1, 1]]]}]",
     "camera 'a': a mask polygon needs 3"),
    ("model: m\ncameras: [{name: a}]", "camera 'a': missing key 'source'"),
    ("model: m\ncameras: [{name: a, source: x}, {name: a, source: y}]", "'a' is used twice"),
    ("cameras: [{name: a, source: x}]", "camera 'a' has no model"),
    ("model: m\ncameras: {a: x}", "'cameras' must be a list"),
    ("model: [unclosed", "not valid YAML"),
])
def test_a_bad_cameras_file_is_one_line_naming_it_and_the_key(tmp_path, text, named):
    path = tmp_path / "cameras.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        read_cameras(path)
    assert str(error.value).startswith(f"{path}: ") and named in str(error.value)
    assert "\n" not in str(error.value)


def test_a_cell_is_masked_when_more_than_half_of_it_lies_in_the_polygons():
    """A 100x100 source on a 64 px model of 8 px cells: 12.5 source px per cell."""
    half = Camera("a", "x", mask=(((0, 0), (100, 0), (100, 6.25 + 0.2), (0, 6.25 + 0.2)),),
                  source_size=(100, 100))  # just over half of the first row of cells
    assert cell_mask(half, 64, 8, (8, 8)).sum(axis=1).tolist() == [8] + [0] * 7
    under = Camera("a", "x", mask=(((0, 0), (100, 0), (100, 6.0), (0, 6.0)),),
                   source_size=(100, 100))  # just under half
    assert not cell_mask(under, 64, 8, (8, 8)).any()
    triangle = Camera("a", "x", mask=(((0, 0), (20, 0), (0, 20)),), source_size=(100, 100))
    assert np.argwhere(cell_mask(triangle, 64, 8, (8, 8))).tolist() == [[0, 0]]
    outside = Camera("a", "x", mask=(((0, 0), (120, 0), (0, 5)),), source_size=(100, 100))
    with pytest.raises(ConfigError, match=r"camera 'a': mask point \[120, 0\] lies outside "
                                          r"its 100x100 frame"):
        cell_mask(outside, 64, 8, (8, 8))
    with pytest.raises(ConfigError, match="camera 'a': its mask needs source_size"):
        cell_mask(Camera("a", "rtsp://h/s", mask=half.mask), 64, 8, (8, 8))


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_each_camera_is_scored_by_its_own_model_as_score_scores_it(media, release_tiny,
                                                                    tmp_path):
    """Two models, three cameras: a and c share the top model's engine, b has its own
    (another normalization: other errors on the same video). Each camera's rows are
    what ``score --windows reset`` gives for its model and video."""
    other = noise_calibrated(release_tiny(tmp_path / "other", 4, normalization="mean_frame"), 4)
    videos = {"a": media["video"], "b": media["video"], "c": media["folder"] / "b.avi"}
    path = write_cameras(tmp_path / "cameras.yaml", {
        "model": str(media["model"]), "out": "out",
        "cameras": [{"name": "a", "source": str(videos["a"])},
                    {"name": "b", "source": str(videos["b"]), "model": str(other)},
                    {"name": "c", "source": str(videos["c"])}]})
    code, out, err = run_cli("watch", "--config", path, "--no-realtime", "--decoders", "0")
    assert code == 0, err
    models = {"a": media["model"], "b": other, "c": media["model"]}
    live = {name: read_rows(tmp_path / f"out/frames-{name}.csv") for name in models}
    for name, model in models.items():
        offline = tmp_path / f"offline-{name}.csv"
        code, _, err = run_cli("score", model, videos[name], "--windows", "reset", "--out",
                               offline, "--device", "cpu")
        assert code == 0, err
        expected = read_rows(offline)
        assert [int(r["frame"]) for r in live[name]] == [int(r["frame"]) for r in expected]
        for column, offline_column in (("error", "error"), ("history", "history"),
                                       ("score", "calibrated_error")):
            np.testing.assert_allclose([float(r[column]) for r in live[name]],
                                       [float(r[offline_column]) for r in expected],
                                       rtol=1e-4, atol=1e-4, err_msg=f"{name} {column}")
    assert not np.allclose([float(r["error"]) for r in live["a"]],
                           [float(r["error"]) for r in live["b"]])  # the models differ
    assert "watching 3 source(s)" in out


def test_a_camera_model_that_does_not_open_or_fit_is_one_line_naming_it(
        media, release_tiny, tmp_path):
    small = noise_calibrated(release_tiny(tmp_path / "small", 4, frame_size=32), 4)
    for model, named in ((tmp_path / "missing", "missing"),
                         (small, "scores 32x32 frames, the watch's first model 64x64")):
        path = write_cameras(tmp_path / "cameras.yaml", {
            "model": str(media["model"]),
            "cameras": [{"name": "a", "source": str(media["video"])},
                        {"name": "b", "source": str(media["video"]), "model": str(model)}]})
        code, _, err = run_cli("watch", "--config", path, "--no-realtime")
        assert_user_error(code, err, f"{path}: camera 'b': ", named)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_masked_camera_raises_no_event_where_the_unmasked_one_does(located, tmp_path):
    video = write_avi(tmp_path / "corner.avi", corner_clip())
    path = write_cameras(tmp_path / "cameras.yaml", {
        "model": str(located), "out": "out",
        "cameras": [{"name": "open", "source": "corner.avi", "threshold": 3.0},
                    {"name": "masked", "source": str(video), "threshold": 3.0,
                     "mask": [MASK]}]})
    code, out, err = run_cli("watch", "--config", path, "--no-realtime", "--decoders", "0")
    assert code == 0, err
    ends = [r for r in read_jsonl(tmp_path / "out/events.jsonl") if r["type"] == "end"]
    assert [(e["camera"], e["start_frame"]) for e in ends] == [("open", 15)]
    assert "open: 40 frames scored, 1 event(s)" in out
    assert "masked: 40 frames scored, 0 event(s)" in out


def test_the_corner_alone_would_alarm_under_a_mask_elsewhere(located, tmp_path):
    """The mask, not the second camera, silences it: the same mask on the other corner."""
    write_avi(tmp_path / "corner.avi", corner_clip())
    elsewhere = [[96 - x, 80 - y] for x, y in MASK]
    path = write_cameras(tmp_path / "cameras.yaml", {
        "model": str(located), "out": "out",
        "cameras": [{"name": "c", "source": "corner.avi", "threshold": 3.0,
                     "mask": [elsewhere]}]})
    code, out, err = run_cli("watch", "--config", path, "--no-realtime", "--decoders", "0")
    assert code == 0, err
    assert "c: 40 frames scored, 1 event(s)" in out


def test_bad_configs_and_flags_are_one_line(located, media, tmp_path):
    write_avi(tmp_path / "corner.avi", corner_clip(10, noisy=()))
    good = {"model": str(located), "cameras": [{"name": "c", "source": "corner.avi"}]}
    path = write_cameras(tmp_path / "cameras.yaml", good)
    for extra, named in ((["MODEL"], "takes no MODEL, SOURCE or --demo"),
                         (["--demo"], "takes no MODEL, SOURCE or --demo"),
                         (["--threshold", "2"], "--threshold cannot go with --config"),
                         (["--mqtt", "mqtt://h"], "--mqtt cannot go with --config")):
        code, _, err = run_cli("watch", "--config", path, *extra)
        assert_user_error(code, err, named, path)
    outside = write_cameras(tmp_path / "outside.yaml", {**good, "cameras": [
        {"name": "c", "source": "corner.avi", "mask": [[[0, 0], [200, 0], [0, 10]]]}]})
    code, _, err = run_cli("watch", "--config", outside, "--no-realtime")
    assert_user_error(code, err, outside, "camera 'c'", "[200, 0] lies outside its 96x80 frame")
    whole = write_cameras(tmp_path / "whole.yaml", {**good, "model": str(media["model"]),
                                                    "cameras": [{"name": "c", "source":
                                                                 "corner.avi", "mask": [MASK]}]})
    code, _, err = run_cli("watch", "--config", whole, "--no-realtime")
    assert_user_error(code, err, whole, "camera 'c'", "located live score")
    code, _, err = run_cli("watch", "--config", tmp_path / "missing.yaml")
    assert_user_error(code, err, "missing.yaml", "not found")


class Lines:
    """The lines a process writes to a pipe, read by a thread."""

    def __init__(self, pipe):
        self.lines, self._pipe = [], pipe
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self._pipe:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = [line for line in self.lines if text in line]
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} in {self.lines}")


def test_sighup_moves_a_mask_removes_a_camera_keeps_a_bad_file_out_and_the_others_run_on(
        located, tmp_path):
    """Three cameras play 12 s of video in real time; b's mask hides the corner where the
    late burst comes; d's video is noisy throughout (its event never ends by itself). By
    SIGHUP: a bad file, then a file moving b's mask to the other corner and lowering its
    min_frames, removing d (and adding a camera). a runs through untouched, every frame
    in its CSV; b alarms on the burst; d stops, its open event closed at its last scored
    frame; the new camera is not started."""
    write_avi(tmp_path / "late.avi", corner_clip(120, noisy=range(95, 105)))
    write_avi(tmp_path / "noisy.avi", corner_clip(120, noisy=range(120)))
    elsewhere = [[96 - x, 80 - y] for x, y in MASK]
    cameras = [{"name": "a", "source": "late.avi", "threshold": 3.0},
               {"name": "b", "source": "late.avi", "threshold": 3.0, "mask": [MASK]}]
    path = write_cameras(tmp_path / "cameras.yaml", {
        "model": str(located), "out": "out",
        "cameras": [*cameras, {"name": "d", "source": "noisy.avi", "threshold": 3.0}]})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parents[2] / "src"), str(Path(__file__).parents[1])])}
    process = subprocess.Popen([sys.executable, "-m", "convlstm_ae.cli", "watch", "--config",
                                str(path), "--decoders", "0", "--queue", "200"], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = Lines(process.stdout), Lines(process.stderr)
        out.wait_for("watching 3 source(s), threshold 3")
        path.write_text("model: [unclosed")
        process.send_signal(signal.SIGHUP)
        (bad,) = err.wait_for("not valid YAML")
        assert bad.endswith("the running cameras keep their configuration")
        cameras[1] |= {"mask": [elsewhere], "min_frames": 2}
        d_rows = tmp_path / "out/frames-d.csv"
        end = time.monotonic() + 60
        while len(d_rows.read_text().splitlines()) < 11 and time.monotonic() < end:
            time.sleep(0.05)  # d's event is under way: 10 alarmed frames scored
        write_cameras(path, {"model": str(located), "out": "out",
                             "cameras": [*cameras, {"name": "c", "source": "late.avi"}]})
        process.send_signal(signal.SIGHUP)
        err.wait_for("camera 'c' added: a restart applies that")
        out.wait_for("camera 'd' removed: its source stopped")
        (moved,) = out.wait_for("camera 'b' now: threshold 3")
        assert "min frames 2" in moved and " 0 masked" not in moved
        assert not any("camera 'a' now" in line for line in out.lines + err.lines)
        assert process.wait(timeout=120) == 0, "\n".join(err.lines)
    finally:
        process.kill()
    assert not any("Traceback" in line for line in err.lines), err.lines
    ends = [r for r in read_jsonl(tmp_path / "out/events.jsonl") if r["type"] == "end"]
    assert sorted((e["camera"], e["start_frame"]) for e in ends) == [
        ("a", 95), ("b", 95), ("d", 0)]
    rows = (tmp_path / "out/frames-d.csv").read_text().splitlines()[1:]
    frames = [int(row.split(",")[2]) for row in rows]
    assert frames == list(range(len(frames))) and 0 < len(frames) < 120  # stopped early
    (closed,) = [e for e in ends if e["camera"] == "d"]
    assert closed["end_frame"] == frames[-1]  # closed at its last scored frame
    out.wait_for(f"d: {len(frames)} frames scored, 1 event(s)", timeout=1)
    for name in ("a", "b"):  # the ring holds the whole video: no frame dropped, no gap
        out.wait_for(f"{name}: 120 frames scored, 1 event(s), 0 dropped", timeout=1)
        rows = (tmp_path / f"out/frames-{name}.csv").read_text().splitlines()[1:]
        assert [int(row.split(",")[2]) for row in rows] == list(range(120))
        times = np.array([float(row.split(",")[0]) for row in rows])
        assert np.allclose(np.diff(times), 0.1)
    assert not (tmp_path / "out/frames-c.csv").exists()
