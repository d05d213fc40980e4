"""``watch --config cameras.yaml`` (live/cameras.py): the file onto its dataclasses, one-line
errors naming the file and the key, masks rasterized to the located score's cells, a
masked camera that raises no event where the unmasked one does, and SIGHUP reloads of a
running watch."""

import contextlib
import csv
import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml

from convlstm_ae.errors import ConfigError
from convlstm_ae.export.paths import ONNX_SCORE
from convlstm_ae.live.cameras import Camera, camera_masks, cell_mask, read_cameras
from convlstm_ae.live.engine import open_engine
from convlstm_ae.live.events import EventRules
from convlstm_ae.live.models import Group, model_scoring
from convlstm_ae.live.outputs import Sink
from convlstm_ae.live.sources import open_source
from convlstm_ae.live.watch import Watch
from convlstm_ae.scoring.located import LocatedDesign
from media import clip, located_model, noise_calibrated, with_frame_rate, write_avi
from test_cli import assert_user_error, ctrl_c_reaches_it, run_cli

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


def flat_corner_clips() -> list[np.ndarray]:
    """Two clips of the flat corner scene with a little noise: normal footage."""
    return [np.clip(corner_clip(30, noisy=()).astype(int)
                    + np.random.default_rng(seed).integers(-3, 4, (30, 80, 96)),
                    0, 255).astype(np.uint8) for seed in range(2)]


@pytest.fixture(scope="module")
def located(media, tmp_path_factory):
    """The tiny noise-calibrated model with a located live score fitted on flat frames."""
    return located_model(media["model"], tmp_path_factory.mktemp("located") / "model",
                         LocatedDesign(unusual="excess", aggregate="max", adapt="none"),
                         flat_corner_clips())


class Statuses(Sink):
    """Keeps every status the watch hands its sinks."""

    def __init__(self):
        self.got = []

    def status(self, cameras):
        self.got.append(cameras)


@pytest.mark.parametrize("adapt", ["none", "stream"])
def test_a_camera_shows_its_warm_up_until_its_level_rests_on_enough_frames(
        media, tmp_path, adapt):
    """A running level of 20 frames: after 12 frames the camera is warming up, after 30
    not; a design without a running level has no warm-up."""
    model = located_model(media["model"], tmp_path / "model",
                          LocatedDesign(unusual="excess", aggregate="max", adapt=adapt,
                                        stream_frames=20), flat_corner_clips())
    sources = [open_source(str(write_avi(tmp_path / f"{n}.avi", corner_clip(n, noisy=()))),
                           64, realtime=False) for n in (12, 30)]
    sink, scoring = Statuses(), model_scoring(model)
    Watch([Group.of_all(open_engine(model, 2, device="cpu"), scoring)], sources,
          tmp_path / "out", rules=EventRules(scoring.threshold), sinks=[sink]).run()
    final = sink.got[-1]
    assert [c["frames"] for c in final] == [12, 30]
    assert [c["warming_up"] for c in final] == ([True, False] if adapt == "stream"
                                                else [False, False])


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


def test_a_mask_on_a_whole_frame_model_names_the_commands_that_give_a_located_score(tmp_path):
    """The error names the camera and commands that exist: each, run with --help, exits 0."""
    masked = Camera("a", "x", mask=(((0, 0), (50, 0), (0, 50)),), source_size=(100, 100))
    with pytest.raises(ConfigError, match="camera 'a': a mask needs") as error:
        camera_masks(tmp_path / "cams.yaml", [masked], 64, [None])
    message = str(error.value)
    for command in ("calibrate", "experiment live-score"):
        assert f"convlstm-ae {command} MODEL" in message
        assert run_cli(*command.split(), "--help")[0] == 0

def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def assert_scored_as_score_scores_it(rows, model, video, tmp_path, name):
    """``rows`` of a live CSV are every frame of ``video``, from frame 0, with the errors,
    histories and scores ``score --windows reset`` gives with ``model``: a whole run of
    the video, its memory reset every T' from its first frame and never otherwise."""
    offline = tmp_path / f"offline-{name}.csv"
    code, _, err = run_cli("score", model, video, "--windows", "reset", "--out", offline,
                           "--device", "cpu")
    assert code == 0, err
    expected = read_rows(offline)
    assert [int(r["frame"]) for r in rows] == [int(r["frame"]) for r in expected], name
    for column, offline_column in (("error", "error"), ("history", "history"),
                                   ("score", "calibrated_error")):
        np.testing.assert_allclose([float(r[column]) for r in rows],
                                   [float(r[offline_column]) for r in expected],
                                   rtol=1e-4, atol=1e-4, err_msg=f"{name} {column}")


@pytest.fixture(scope="module")
def other(media, release_tiny, tmp_path_factory):
    """A second model: another normalization, other errors on the same video."""
    folder = tmp_path_factory.mktemp("other") / "model"
    return noise_calibrated(release_tiny(folder, 4, normalization="mean_frame"), 4)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_each_camera_is_scored_by_its_own_model_as_score_scores_it(media, other, backend,
                                                                    tmp_path):
    """Two models, three cameras: a and c share the top model's engine, b has its own.
    Each camera's rows are what ``score --windows reset`` gives for its model and video,
    on either backend (ONNX Runtime runs each model's exported scoring graph)."""
    if backend == "onnx":
        pytest.importorskip("onnxruntime", reason="--backend onnx needs onnxruntime")
    videos = {"a": media["video"], "b": media["video"], "c": media["folder"] / "b.avi"}
    models = {name: shutil.copytree(model, tmp_path / f"model-{name}")
              for name, model in (("a", media["model"]), ("b", other))}
    for model in models.values():
        (model / ONNX_SCORE).unlink(missing_ok=True)  # exported by the onnx backend only
    models["c"] = models["a"]  # a and c: one model, one engine
    path = write_cameras(tmp_path / "cameras.yaml", {
        "model": str(models["a"]), "out": "out",
        "cameras": [{"name": "a", "source": str(videos["a"])},
                    {"name": "b", "source": str(videos["b"]), "model": str(models["b"])},
                    {"name": "c", "source": str(videos["c"])}]})
    code, out, err = run_cli("watch", "--config", path, "--no-realtime", "--decoders", "0",
                             "--backend", backend)
    assert code == 0, err
    live = {name: read_rows(tmp_path / f"out/frames-{name}.csv") for name in models}
    for name, model in models.items():
        assert_scored_as_score_scores_it(live[name], model, videos[name], tmp_path, name)
    assert not np.allclose([float(r["error"]) for r in live["a"]],
                           [float(r["error"]) for r in live["b"]])  # the models differ
    assert "watching 3 source(s)" in out
    assert all((model / ONNX_SCORE).is_file() == (backend == "onnx") for model in models.values())


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


def test_each_camera_is_scored_at_its_own_models_frame_rate(media, tmp_path):
    """One 25 fps video, two cameras: the model trained at 10 fps scores 10 of every 25
    frames, the one recording no rate every frame."""
    write_avi(tmp_path / "fast.avi", clip(50, noisy=()), fps=25)
    ten = with_frame_rate(media["model"], tmp_path / "ten", 10.0)
    path = write_cameras(tmp_path / "cameras.yaml", {
        "model": str(media["model"]), "out": "out",
        "cameras": [{"name": "all", "source": "fast.avi"},
                    {"name": "ten", "source": "fast.avi", "model": str(ten)}]})
    code, out, err = run_cli("watch", "--config", path, "--no-realtime", "--decoders", "0")
    assert code == 0, err
    assert "scoring all every frame, ten at most 10 fps" in out
    assert "all: 50 frames scored, 0 event(s), 0 dropped, 0 reconnect(s)\n" in out
    assert ("ten: 20 frames scored, 0 event(s), 0 dropped, 0 reconnect(s), 30 skipped for "
            "the frame rate") in out


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


@contextlib.contextmanager
def watching(path, *flags):
    """``watch --config path`` in a process of its own, playing files in real time, each
    ring holding a whole test video (so no frame is dropped): the process, its stdout and
    stderr read by :class:`Lines`; killed at the end, whatever happened."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parents[2] / "src"), str(Path(__file__).parents[1])])}
    process = subprocess.Popen([sys.executable, "-m", "convlstm_ae.cli", "watch", "--config",
                                str(path), "--queue", "200", *flags], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=ctrl_c_reaches_it)
    try:
        yield process, Lines(process.stdout), Lines(process.stderr)
    finally:
        process.kill()


def wait_for_rows(path, rows, timeout=60):
    """Wait until the CSV at ``path`` holds ``rows`` rows."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and len(path.read_text().splitlines()) > rows:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path}: fewer than {rows} rows after {timeout} s")


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
    min_frames, removing d and changing the clips' pre-roll (an output: it needs a
    restart). a runs through untouched, every frame in its CSV; b alarms on the burst; d
    stops, its open event closed at its last scored frame."""
    write_avi(tmp_path / "late.avi", corner_clip(120, noisy=range(95, 105)))
    write_avi(tmp_path / "noisy.avi", corner_clip(120, noisy=range(120)))
    elsewhere = [[96 - x, 80 - y] for x, y in MASK]
    cameras = [{"name": "a", "source": "late.avi", "threshold": 3.0},
               {"name": "b", "source": "late.avi", "threshold": 3.0, "mask": [MASK]}]
    path = write_cameras(tmp_path / "cameras.yaml", {
        "model": str(located), "out": "out",
        "cameras": [*cameras, {"name": "d", "source": "noisy.avi", "threshold": 3.0}]})
    with watching(path, "--decoders", "0") as (process, out, err):
        out.wait_for("watching 3 source(s), threshold 3")
        path.write_text("model: [unclosed")
        process.send_signal(signal.SIGHUP)
        (bad,) = err.wait_for("not valid YAML")
        assert bad.endswith("the running cameras keep their configuration")
        cameras[1] |= {"mask": [elsewhere], "min_frames": 2}
        wait_for_rows(tmp_path / "out/frames-d.csv", 10)  # d's event is under way
        write_cameras(path, {"model": str(located), "out": "out", "pre_seconds": 2,
                             "cameras": cameras})
        process.send_signal(signal.SIGHUP)
        err.wait_for("cameras.yaml: pre_seconds: a restart applies that")
        out.wait_for("camera 'd' removed: its source stopped")
        (moved,) = out.wait_for("camera 'b' now: threshold 3")
        assert "min frames 2" in moved and " 0 masked" not in moved
        assert not any("camera 'a' now" in line for line in out.lines + err.lines)
        assert process.wait(timeout=120) == 0, "\n".join(err.lines)
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


def test_sighup_adds_cameras_with_a_fresh_memory_and_the_others_run_on(media, other,
                                                                       release_tiny, tmp_path):
    """a (top model) and b (another model) play 12 s of video in real time, each decoded
    in a process of its own. A SIGHUP removes b and adds c (a's model: its engine grows),
    d (a third model, not loaded yet: a new engine) and x (a missing file); a second one
    adds b again. Each added camera's CSV starts at frame 0 and holds what ``score
    --windows reset`` gives for its video and model; a's CSV holds every frame of its
    video scored as one run (its memory never reset by the others coming); b's CSV holds
    its first run, cut short, then a whole second one; x is one error line."""
    third = noise_calibrated(release_tiny(tmp_path / "third", 4, lstm_channels=16), 4)
    video = write_avi(tmp_path / "late.avi", corner_clip(120, noisy=range(95, 105)))
    a = {"name": "a", "source": "late.avi"}
    b = {"name": "b", "source": "late.avi", "model": str(other)}
    path = write_cameras(tmp_path / "cameras.yaml", {
        "model": str(media["model"]), "out": "out", "cameras": [a, b]})
    rows = {name: tmp_path / f"out/frames-{name}.csv" for name in "abcd"}
    with watching(path, "--decoders", "1") as (process, out, err):
        out.wait_for("watching 2 source(s)")
        wait_for_rows(rows["a"], 20)
        c = {"name": "c", "source": "late.avi"}
        d = {"name": "d", "source": "late.avi", "model": str(third)}
        x = {"name": "x", "source": "missing.avi"}
        write_cameras(path, {"model": str(media["model"]), "out": "out",
                             "cameras": [a, c, d, x]})
        process.send_signal(signal.SIGHUP)
        (missing,) = err.wait_for("camera 'x': ")
        assert missing.endswith("no such file or folder, webcam index or URL; not added, "
                                "the other cameras run on")
        for name in "cd":
            out.wait_for(f"camera {name!r} added")
        out.wait_for("camera 'b' removed")
        wait_for_rows(rows["c"], 10)
        write_cameras(path, {"model": str(media["model"]), "out": "out",
                             "cameras": [a, c, d, b]})
        process.send_signal(signal.SIGHUP)
        out.wait_for("camera 'b' added")
        assert process.wait(timeout=120) == 0, "\n".join(err.lines)
    assert not any("Traceback" in line for line in err.lines), err.lines
    assert sum("camera 'x'" in line for line in err.lines) == 1  # tried once: one line
    live = {name: read_rows(rows[name]) for name in "abcd"}
    first = next(k for k, row in enumerate(live["b"]) if k and row["frame"] == "0")
    assert 0 < first < 120  # b's first run was cut short by its removal
    assert_scored_as_score_scores_it(live["b"][first:], other, video, tmp_path, "b")
    for name, model in (("a", media["model"]), ("c", media["model"]), ("d", third)):
        assert_scored_as_score_scores_it(live[name], model, video, tmp_path, name)
    assert not (tmp_path / "out/frames-x.csv").exists()
    for name in "acd":
        out.wait_for(f"{name}: 120 frames scored, 1 event(s), 0 dropped", timeout=1)


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("decoders", ["0", "1"])  # grab loops in threads, in a process
def test_cameras_added_after_removals_reuse_their_streams_and_start_afresh(media, decoders,
                                                                           tmp_path):
    """a plays 12 s of video in real time beside b, whose video is noisy throughout (its
    event never ends by itself), with the page up. Three SIGHUPs each remove the second
    camera and add another of the same model (b -> c -> d -> e): each takes the removed
    one's stream, so the engine keeps 2 slots. Each added camera's rows are what ``score
    --windows reset`` gives for its video (nothing of the noisy memory or located state
    before it: c's and d's until their removal, e's whole video); a's CSV holds every
    frame of its video scored as one run; the page lists a and e, under e's id b's; the
    removed cameras' CSVs, events and final lines stay theirs."""
    late = write_avi(tmp_path / "late.avi", corner_clip(120, noisy=range(95, 105)))
    write_avi(tmp_path / "noisy.avi", corner_clip(120, noisy=range(120)))
    a = {"name": "a", "source": "late.avi", "threshold": 2.0}
    config = {"model": str(media["model"]), "out": "out", "serve": "127.0.0.1:0"}
    path = write_cameras(tmp_path / "cameras.yaml", config | {"cameras": [
        a, {"name": "b", "source": "noisy.avi", "threshold": 2.0}]})
    rows = {name: tmp_path / f"out/frames-{name}.csv" for name in "abcde"}
    with watching(path, "--decoders", decoders) as (process, out, err):
        (page,) = out.wait_for("page -> ")
        url = page.split("page -> ", 1)[1].strip()
        before = "b"
        for name in "cde":
            wait_for_rows(rows[before], 10)
            write_cameras(path, config | {"cameras": [
                a, {"name": name, "source": "late.avi", "threshold": 2.0}]})
            process.send_signal(signal.SIGHUP)
            out.wait_for(f"{name}: added as stream 1; its model scores 2 source(s) in 2 "
                         "slot(s)")
            before = name
        out.wait_for("the sources ended; the page stays up")
        listed = get_json(url + "api/cameras")["cameras"]
        status = get_json(url + "api/status")["cameras"]
        shown = get_json(url + "api/events")["events"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, "\n".join(err.lines)
    assert not any("Traceback" in line for line in err.lines), err.lines
    assert listed == [{"id": 0, "name": "a"}, {"id": 1, "name": "e"}]
    assert [(c["id"], c["name"], c["frames"]) for c in status] == [(0, "a", 120), (1, "e", 120)]
    live = {name: read_rows(rows[name]) for name in "abcde"}
    for name in "ae":
        assert_scored_as_score_scores_it(live[name], media["model"], late, tmp_path, name)
    offline = read_rows(tmp_path / "offline-e.csv")
    for name in "cd":  # cut short, from frame 0: the offline rows so far
        cut = live[name]
        assert 10 <= len(cut) < 120 and {r["video"] for r in cut} == {"late.avi"}, name
        assert [int(r["frame"]) for r in cut] == list(range(len(cut))), name
        for column, offline_column in (("error", "error"), ("history", "history"),
                                       ("score", "calibrated_error")):
            np.testing.assert_allclose([float(r[column]) for r in cut],
                                       [float(r[offline_column]) for r in offline[:len(cut)]],
                                       rtol=1e-4, atol=1e-4, err_msg=f"{name} {column}")
    noisy = live["b"]
    assert [int(r["frame"]) for r in noisy] == list(range(len(noisy)))
    assert 10 <= len(noisy) < 120 and {r["video"] for r in noisy} == {"noisy.avi"}
    ends = [(e["camera"], e["video"], e["start_frame"], e["end_frame"]) for e in read_jsonl(
        tmp_path / "out/events.jsonl") if e["type"] == "end"]
    (burst,) = [e[2:] for e in ends if e[0] == "a"]
    assert 95 <= burst[0] < burst[1] <= 105
    assert sorted(ends) == [("a", "late.avi", *burst), ("b", "noisy.avi", 0, len(noisy) - 1),
                            ("e", "late.avi", *burst)]
    assert sorted((e["camera"], e["start_frame"]) for e in shown) == [
        ("a", burst[0]), ("b", 0), ("e", burst[0])]
    out.wait_for(f"b: {len(noisy)} frames scored, 1 event(s)", timeout=1)
    for name in "cd":
        out.wait_for(f"{name}: {len(live[name])} frames scored, 0 event(s)", timeout=1)
    for name in "ae":
        out.wait_for(f"{name}: 120 frames scored, 1 event(s), 0 dropped", timeout=1)


def test_sighup_replaces_a_camera_whose_source_or_model_changed_and_the_others_run_on(
        media, other, tmp_path):
    """a, b and c play 12 s of video in real time; b's video is noisy throughout (its event
    never ends by itself). A SIGHUP changes b's source and c's model: each is stopped (b's
    open event closed at its last scored frame) and started again under its name, its CSV
    going on with a new run from frame 0 that holds what ``score --windows reset`` gives
    for its new video or model; a's CSV holds every frame of its video scored as one run."""
    late = write_avi(tmp_path / "late.avi", corner_clip(120, noisy=range(95, 105)))
    write_avi(tmp_path / "noisy.avi", corner_clip(120, noisy=range(120)))
    # noise scores over 2 from its first frame, also at the memory's resets: every noisy
    # frame alarms, so b's last scored frame is in its event
    cameras = [{"name": name, "source": source, "threshold": 2.0} for name, source in (
        ("a", "late.avi"), ("b", "noisy.avi"), ("c", "late.avi"))]
    path = write_cameras(tmp_path / "cameras.yaml", {
        "model": str(media["model"]), "out": "out", "cameras": cameras})
    rows = {name: tmp_path / f"out/frames-{name}.csv" for name in "abc"}
    with watching(path, "--decoders", "1") as (process, out, err):
        out.wait_for("watching 3 source(s)")
        wait_for_rows(rows["b"], 20)
        cameras[1] |= {"source": "late.avi"}
        cameras[2] |= {"model": str(other)}
        write_cameras(path, {"model": str(media["model"]), "out": "out", "cameras": cameras})
        process.send_signal(signal.SIGHUP)
        out.wait_for("camera 'b' replaced (its source changed): its source stopped, its "
                     "open event closed")
        out.wait_for("camera 'c' replaced (its model changed)")
        for name in "bc":
            out.wait_for(f"camera {name!r} added")
        assert process.wait(timeout=120) == 0, "\n".join(err.lines)
    assert not any("Traceback" in line or "restart" in line for line in err.lines), err.lines
    assert not any("camera 'a'" in line for line in out.lines + err.lines)
    live = {name: read_rows(rows[name]) for name in "abc"}
    assert_scored_as_score_scores_it(live["a"], media["model"], late, tmp_path, "a")
    for name, model in (("b", media["model"]), ("c", other)):
        first = next(k for k, row in enumerate(live[name]) if k and row["frame"] == "0")
        assert [int(r["frame"]) for r in live[name][:first]] == list(range(first))
        assert 0 < first < 120, name  # the first run was cut short by the change
        assert {r["video"] for r in live[name][first:]} == {"late.avi"}
        assert_scored_as_score_scores_it(live[name][first:], model, late, tmp_path, name)
        if name == "b":
            assert {r["video"] for r in live[name][:first]} == {"noisy.avi"}
    ends = {name: [(e["video"], e["start_frame"], e["end_frame"]) for e in read_jsonl(
        tmp_path / "out/events.jsonl") if e["type"] == "end" and e["camera"] == name]
        for name in "ab"}
    (burst,) = ends["a"]
    assert burst[0] == "late.avi" and 95 <= burst[1] < burst[2] <= 105
    first = next(k for k, row in enumerate(live["b"]) if k and row["frame"] == "0")
    # b's noisy event closed at its last scored frame, then the new run's burst as a's
    assert ends["b"] == [("noisy.avi", 0, first - 1), burst]


def test_sighup_removes_a_stream_waiting_to_reconnect_and_its_retries_stop(media, tmp_path):
    """A stream camera whose HTTP server is gone retries every 0.2 s beside a file camera;
    a SIGHUP removes it: its decoder stops within the wait it was in, and no retry follows
    while the file camera plays on to its end."""
    write_avi(tmp_path / "late.avi", corner_clip(120, noisy=range(95, 105)))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    a = {"name": "a", "source": "late.avi"}
    path = write_cameras(tmp_path / "cameras.yaml", {
        "model": str(media["model"]), "out": "out", "cameras": [a, {
            "name": "web", "source": f"http://127.0.0.1:{server.server_port}/late.avi"}]})
    retries = "web: cannot open; reconnecting in 0.2 s"
    flags = ("--decoders", "2", "--backoff", "0.2", "--max-backoff", "0.2")
    with watching(path, *flags) as (process, out, err):
        out.wait_for("watching 2 source(s)")  # its URL opened once: the server goes
        server.shutdown()
        server.server_close()
        err.wait_for(retries)
        write_cameras(path, {"model": str(media["model"]), "out": "out", "cameras": [a]})
        process.send_signal(signal.SIGHUP)
        out.wait_for("web: removed;")
        time.sleep(0.5)  # a retry under way when it was removed has been logged
        before = sum(retries in line for line in err.lines)
        assert not any("a: 120 frames scored" in line for line in out.lines)  # a plays on
        assert process.wait(timeout=60) == 0, "\n".join(err.lines)
    out.wait_for("a: 120 frames scored, 1 event(s), 0 dropped", timeout=1)
    assert sum(retries in line for line in err.lines) == before  # none after its removal
    assert not any("Traceback" in line for line in err.lines), err.lines
