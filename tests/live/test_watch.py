"""``convlstm-ae watch`` (live/watch.py, live/outputs.py, the CLI verb): end to end on tiny
videos with the real engine, streaming equal to offline scoring, Ctrl-C with a fake engine,
an HTTP stream that drops and comes back, a stream down that holds up no step, and a
decoder process or the watch itself killed."""

import _thread
import csv
import functools
import http.server
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

import cv2
import numpy as np
import pytest

from convlstm_ae.data.rate import kept_frames
from convlstm_ae.data.video_io import model_frame, open_capture, read_frames, video_frames
from convlstm_ae.demo import demo_model_dir
from convlstm_ae.live.engine import open_engine
from convlstm_ae.live.events import RELEASE_FRAMES, EventRules
from convlstm_ae.live.models import Group, Scoring, model_scoring
from convlstm_ae.live.outputs import Sink
from convlstm_ae.live.sources import CaptureSource, IterableSource, open_source
from convlstm_ae.live.watch import Watch
from convlstm_ae.scoring.frame_errors import FrameErrors
from media import clip, noise_calibrated, with_frame_rate, write_avi, write_frames
from test_cli import assert_user_error, run_cli

SECRET = "s3cr3t-pw"


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def read_csv_rows(path):
    """The rows of a CSV being written; none while it does not exist."""
    try:
        return read_csv(path)
    except FileNotFoundError:
        return []


def test_watch_writes_frames_events_snapshots_and_runs_the_event_command(media, tmp_path):
    received = tmp_path / "received.jsonl"
    code, out, err = run_cli("watch", media["model"], media["video"], "--no-realtime",
                             "--out", tmp_path / "out", "--on-event",
                             f"sh -c 'cat >> {received}; echo >> {received}'")
    assert code == 0, err
    rows = read_csv(tmp_path / "out/frames-a.csv")
    assert [int(r["frame"]) for r in rows] == list(range(30))
    assert [int(r["alarm"]) for r in rows] == [12 <= i < 20 for i in range(30)]
    start, event = read_jsonl(tmp_path / "out/events.jsonl")
    assert (start["type"], event["type"]) == ("start", "end")
    assert start["id"] == event["id"] and (start["camera"], event["camera"]) == ("a", "a")
    assert (event["source"], event["video"]) == ("a", "a.avi")
    assert (event["start_frame"], event["end_frame"], event["peak_frame"]) == (12, 19, 13)
    assert event["start_time"] == pytest.approx(1.2)
    # the start: once the run holds --min-frames (3) alarmed frames, its end still unknown
    assert (start["start_frame"], start["alarm_frames"], start["end_frame"]) == (12, 3, None)
    assert start["snapshot"] is None and start["start_time"] == event["start_time"]
    snapshot = cv2.imread(str(tmp_path / "out" / event["snapshot"]), cv2.IMREAD_UNCHANGED)
    assert snapshot.shape == (64, 64) and snapshot.std() > 20  # the noise frame
    # the command runs in the background for each record; it is waited for at the end
    wait_for(lambda: received.exists() and len(read_jsonl(received)) == 2, timeout=10)
    assert read_jsonl(received) == [start, event]
    assert "a: 30 frames scored, 1 event(s), 0 dropped" in out


class Progress(Sink):
    """Records each record it is sent with how many frames the watch had scored then, and
    whether the record was on disk."""

    def __init__(self, events):
        self.events, self.watch, self.got = events, None, []

    def send(self, record):
        self.got.append((record, self.watch.report()[0].frames,
                         record in read_jsonl(self.events)))


def test_an_event_start_is_on_disk_and_delivered_within_a_second_of_its_start(media, tmp_path):
    """At 10 fps the start comes while the 3-second event goes on, at most 10 frames (a
    second) after the run became an event. Every frame is scored (not real time, which
    drops frames on a loaded machine and makes frames scored lag frame numbers)."""
    video = write_avi(tmp_path / "long.avi", clip(50, noisy=range(10, 40)))
    sink = Progress(tmp_path / "out/events.jsonl")
    group = Group.of_all(open_engine(media["model"], 1, device="cpu"),
                         model_scoring(media["model"]))
    sink.watch = Watch([group], [open_source(str(video), 64, realtime=False)], tmp_path / "out",
                       rules=EventRules(3.0), sinks=[sink])
    sink.watch.run()
    (start, started_at, on_disk), (end, ended_at, _) = sink.got
    assert on_disk and start["id"] == end["id"]
    assert (start["type"], start["start_frame"]) == ("start", 10) and end["end_frame"] >= 39
    assert 12 <= started_at <= 12 + 10  # at most a second (10 frames) after it became one
    assert ended_at >= end["end_frame"] + RELEASE_FRAMES


LIGHT_RUNTIME = """
import sys
for name in ("torch", "scipy", "sklearn", "matplotlib", "pytorch_lightning", "lightning",
             "safetensors", "onnx", "mlxtend"):
    sys.modules[name] = None  # what 'convlstm-ae[train]' adds: any import of it fails
from convlstm_ae.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_light_runtime_watch_demo_writes_all_but_the_report_and_says_how(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    result = subprocess.run([sys.executable, "-c", LIGHT_RUNTIME, "watch", "--demo", "--out",
                             str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for name in ("demo.avi", "events.jsonl", "frames-demo.csv", "overlay.mp4", "labels.json"):
        assert (out / name).stat().st_size > 0, name
    assert not (out / "report.html").exists()
    assert (f"after pip install 'convlstm-ae[train]': convlstm-ae report {out} --labels "
            f"{out / 'labels.json'} -o {out / 'report.html'}") in result.stdout
    code, _, err = run_cli("report", out, "--labels", out / "labels.json", "-o",
                           out / "report.html")
    assert code == 0, err
    assert "calibrated score (deployment)" in (out / "report.html").read_text()


def test_a_ucsd_frame_folder_is_10_fps_in_watch_score_and_evaluate(media, tmp_path):
    """UCSD Ped1/Ped2 are 10 fps: frame 12 is 1.2 s (not 0.48 s at 25 fps), and a minute
    of normal video is 600 frames."""
    root = tmp_path / "UCSDped2"
    write_frames(root / "Train" / "Train001", clip(10, noisy=()), "{:03d}.tif")
    test = write_frames(root / "Test" / "Test001", clip(), "{:03d}.tif", first=1)
    code, _, err = run_cli("watch", media["model"], test, "--no-realtime", "--out",
                           tmp_path / "out")
    assert code == 0, err
    _, event = read_jsonl(tmp_path / "out/events.jsonl")
    assert (event["start_frame"], event["end_frame"]) == (12, 19)
    assert (event["start_time"], event["end_time"]) == pytest.approx((1.2, 1.9))
    scores = tmp_path / "scores.csv"
    code, _, err = run_cli("score", media["model"], test, "--out", scores)
    assert code == 0, err
    assert {row["fps"] for row in read_csv(scores)} == {"10"}
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"Test001": [0] * 12 + [1] * 8 + [0] * 10}))
    code, out, err = run_cli("evaluate", scores, "--labels", labels, "--out", tmp_path / "ev")
    assert code == 0, err
    assert "false alarms per minute of normal video at 10 fps" in out
    deployment = json.loads((tmp_path / "ev/metrics.json").read_text())["deployment"]
    assert deployment["normal_minutes"] == pytest.approx(22 / 10 / 60, rel=1e-5)
    assert deployment["threshold"] == 3.0  # the model's, not one rebuilt from the alarms


def test_overlay_video_has_every_frame_with_heat_where_the_noise_is(media, tmp_path):
    overlay = tmp_path / "overlay.avi"
    code, out, err = run_cli("watch", media["model"], media["video"], "--no-realtime",
                             "--out", tmp_path / "out", "--overlay", overlay)
    assert code == 0, err
    capture = cv2.VideoCapture(str(overlay))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    assert len(frames) == 30
    height = frames[0].shape[0] - 48  # the score strip under the frame
    colour = [np.abs(f[:height, :, 2].astype(int) - f[:height, :, 0]).mean() for f in frames]
    # flat gray frames stay gray; the noise frames (12-19) are coloured once the event is
    # open, from its third alarmed frame (MIN_FRAMES) on
    assert min(colour[14:20]) > 4 * max(colour[:10] + colour[12:14])


def test_overlay_refused_without_patch_calibration_or_with_a_bad_suffix(media, tmp_path):
    code, _, err = run_cli("watch", media["model"], media["video"], "--overlay",
                           tmp_path / "o.gif", "--out", tmp_path / "out")
    assert_user_error(code, err, ".mp4 or .avi")


def test_watch_demo_writes_events_an_overlay_clips_and_a_report(tmp_path):
    code, out, err = run_cli("watch", "--demo", "--out", tmp_path / "demo")
    assert code == 0, err
    for name in ("demo.avi", "events.jsonl", "frames-demo.csv", "overlay.mp4", "report.html"):
        assert (tmp_path / "demo" / name).stat().st_size > 0, name
    events = [e for e in read_jsonl(tmp_path / "demo/events.jsonl") if e["type"] == "end"]
    anomalies = [range(130, 140), range(167, 177)]  # write_demo_video's second half
    assert events and all(any(e["peak_frame"] in a for a in anomalies) for e in events)
    video = [model_frame(f, 64) for f in video_frames(tmp_path / "demo/demo.avi")]
    for event in events:
        assert_clip_holds_five_seconds_around(tmp_path / "demo" / event["clip"], event, video)
    assert "report ->" in out
    report = (tmp_path / "demo/report.html").read_text()
    # the known anomalies are the labels: shaded, and the page shows the AUC
    assert "AUC micro / macro, EER: calibrated score (deployment)" in report
    assert "Model: demo/model<" in report and str(demo_model_dir()) not in report
    code, _, err = run_cli("watch", "--demo", "model_dir", "--out", tmp_path / "x")
    assert_user_error(code, err, "takes no MODEL")


def assert_clip_holds_five_seconds_around(path, event, video):
    """The clip of ``event`` (an end record), decoded with OpenCV, holds the video's
    frames from 5 s (--pre-seconds' default) before its start to 5 s (--post-seconds')
    after its end, each cut short by the video's ends, within one frame: found by
    matching the clip's frames to the video's (model size) at every offset."""
    capture = cv2.VideoCapture(str(path))
    fps, frames = capture.get(cv2.CAP_PROP_FPS), []
    while (read := capture.read())[0]:
        frames.append(cv2.cvtColor(read[1], cv2.COLOR_BGR2GRAY).astype(float))
    capture.release()
    assert fps == 25  # the demo's
    assert event["end_time"] - event["start_time"] == pytest.approx(
        (event["end_frame"] - event["start_frame"]) / fps)
    pre = min(round(5 * fps), event["start_frame"])
    post = min(round(5 * fps), len(video) - 1 - event["end_frame"])
    length = event["end_frame"] - event["start_frame"] + 1
    assert len(frames) == pre + length + post, (len(frames), pre, length, post)
    offsets = range(len(video) - len(frames) + 1)
    distance = [np.mean([np.abs(f - video[o + i]).mean() for i, f in enumerate(frames)])
                for o in offsets]
    first = int(np.argmin(distance))
    assert distance[first] < 0.5 * np.median(distance)  # a clear match
    assert abs((event["start_frame"] - first) - pre) <= 1  # the pre-roll, within one frame
    last = first + len(frames) - 1
    assert abs((last - event["end_frame"]) - post) <= 1  # and the post-roll


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_streaming_equals_offline_scoring(media, tmp_path, backend):
    """A folder: each file from a fresh memory, as ``score --windows reset``."""
    code, _, err = run_cli("score", media["model"], media["folder"], "--windows", "reset",
                           "--out", tmp_path / "offline.csv", "--device", "cpu")
    assert code == 0, err
    code, _, err = run_cli("watch", media["model"], f"clips={media['folder']}",
                           "--no-realtime", "--backend", backend, "--out", tmp_path / "live",
                           "--queue", "1")
    assert code == 0, err
    offline, live = read_csv(tmp_path / "offline.csv"), read_csv(tmp_path / "live/frames-clips.csv")
    assert [(r["video"], r["frame"]) for r in offline] == [
        (r["video"].removesuffix(".avi"), r["frame"]) for r in live]
    for column, offline_column in (("error", "error"), ("patch_error", "patch_error"),
                                   ("history", "history"), ("score", "calibrated_error")):
        np.testing.assert_allclose([float(r[column]) for r in live],
                                   [float(r[offline_column]) for r in offline], rtol=1e-4,
                                   atol=1e-4)


def test_bad_watch_arguments_are_one_line_errors(media, tmp_path):
    code, _, err = run_cli("watch", tmp_path / "nomodel", media["video"])
    assert_user_error(code, err, "nomodel")
    url = f"rtsp://admin:{SECRET}@127.0.0.1:9/cam"
    code, _, err = run_cli("watch", media["model"], url, "--out", tmp_path / "o")
    assert_user_error(code, err, "rtsp://***@127.0.0.1:9/cam")
    assert SECRET not in err
    (tmp_path / "file").touch()
    code, _, err = run_cli("watch", media["model"], media["video"], "--out", tmp_path / "file")
    assert_user_error(code, err, "file")
    code, _, err = run_cli("watch", media["model"], media["video"], "--release-margin", "5")
    assert_user_error(code, err, "--release-margin")
    code, _, err = run_cli("watch", media["model"], media["video"], "--backoff", "0")
    assert_user_error(code, err, "--backoff")
    for rate in ("-10", "nan", "inf"):
        code, _, err = run_cli("watch", media["model"], media["video"], "--rate", rate)
        assert_user_error(code, err, "--rate")


class FakeEngine:
    """Scores each frame by its mean pixel; simulates Ctrl-C at call ``interrupt_at``."""

    frame_size, t_prime, maps = 8, None, None

    def __init__(self, streams, interrupt_at, on_interrupt):
        self.streams, self.calls = streams, 0
        self.batches = [np.zeros((streams, 8, 8), np.uint8) for _ in range(2)]
        self.batch = self.batches[0]
        self.interrupt_at, self.on_interrupt = interrupt_at, on_interrupt
        self.position = np.zeros(streams, dtype=int)
        self.launched = deque()

    def reset(self, streams=None):
        self.position[list(streams)] = 0

    def add_streams(self, count):
        self.streams += count
        self.batches = [np.zeros((self.streams, 8, 8), np.uint8) for _ in range(2)]
        self.batch = self.batches[0]
        self.position = np.concatenate([self.position, np.zeros(count, int)])

    def launch(self, frames, scored=None):
        if frames is self.batch:  # two buffers taking turns, as the engines' do
            self.batches.reverse()
            self.batch = self.batches[0]
        self.calls += 1
        if self.calls == self.interrupt_at:
            self.on_interrupt()
            _thread.interrupt_main()
        scored = np.ones(self.streams, bool) if scored is None else scored
        history, self.position = self.position.copy(), self.position + scored
        mean = frames.reshape(len(frames), -1).mean(1)
        self.launched.append(FrameErrors(mean, np.zeros_like(mean), mean, history))

    def collect(self):
        return self.launched.popleft()


def test_ctrl_c_ends_cleanly_and_nothing_written_is_lost(tmp_path, caplog, ctrl_c_raises):
    values = [0] * 5 + [200] * 20  # an event under way at the interrupt
    # any query parameter, and a password holding '@', as issue 20 found them leaking
    names = [f"rtsp://admin:p@{SECRET}@10.0.0.1/a", f"front=http://cam/x?access_token={SECRET}"]
    sources = [IterableSource(n, (np.full((8, 8), v, np.uint8) for v in values), 8)
               for n in names]
    seen = {}

    def counts():
        return [len(read_csv(p)) for p in sorted((tmp_path / "out").glob("*.csv"))]

    def read_while_running():  # the writer flushes within FLUSH_EVERY (0.1 s); the 12th
        # step is launched while the 11th is on the engine: 10 read
        wait_for(lambda: counts() == [10, 10], timeout=10)
        seen["rows"] = counts()

    engine = FakeEngine(2, interrupt_at=12, on_interrupt=read_while_running)
    watch = Watch([Group.of_all(engine, Scoring("sum", None, 100.0))], sources,
                  tmp_path / "out", rules=EventRules(100.0, 0.5, 2, 2))
    with caplog.at_level("INFO"):
        reports = watch.run()
    assert seen["rows"] == [10, 10]  # on disk while running, before the interrupt
    # the step launched before the interrupt is read; the one under way is lost
    assert reports[0].frames in (11, 12) and reports[0].events == 1
    written = sorted((tmp_path / "out").rglob("*.*"))
    for path in written:
        if path.suffix in (".csv", ".jsonl"):
            assert SECRET not in path.read_text()
        assert SECRET not in path.name
    assert SECRET not in caplog.text
    events = read_jsonl(tmp_path / "out/events.jsonl")
    assert sorted(e["type"] for e in events) == ["end", "end", "start", "start"]
    assert {e["source"] for e in events} == {"rtsp://***@10.0.0.1/a",
                                             "front=http://cam/x?access_token=***"}
    assert all(e["start_frame"] == 5 for e in events)
    rows = read_csv(tmp_path / "out/frames-rtsp_10.0.0.1_a.csv")
    assert len(rows) == reports[0].frames


class Clip(http.server.SimpleHTTPRequestHandler):
    """Serves the test folder at about 10 frames a second (``server.chunk`` bytes every
    0.1 s); with ``server.cut``, the connection closes after that many bytes (a stream
    dropping mid-way), or with ``server.hold`` (an event) too, stays open and silent
    until it is set (a server that stopped sending)."""

    def log_message(self, *args):
        pass

    def copyfile(self, source, destination):
        data = source.read()[: self.server.cut]
        try:
            for start in range(0, len(data), self.server.chunk):
                destination.write(data[start:start + self.server.chunk])
                destination.flush()
                time.sleep(0.1)
            if self.server.hold:
                self.server.hold.wait()
        except (BrokenPipeError, ConnectionResetError):  # the reader stopped
            pass


def serve(folder, chunk, port=0, cut=None, hold=None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                             functools.partial(Clip, directory=str(folder)))
    server.cut, server.chunk, server.hold = cut, chunk, hold
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_http_stream_of_an_mjpg_file_gives_the_frames_the_file_gives(tmp_path):
    """The stream's JPEGs decode to their luma as the file's do, so watching a stream
    and scoring its recording agree frame for frame."""
    video = write_avi(tmp_path / "web/stream.avi", clip(20, noisy=range(5, 10)))
    server = serve(tmp_path / "web", video.stat().st_size)
    try:
        capture = open_capture(f"http://127.0.0.1:{server.server_port}/stream.avi")
        streamed = []
        while capture.grab():
            streamed.append(model_frame(capture.retrieve(), 64))
        capture.release()
    finally:
        server.shutdown()
        server.server_close()
    np.testing.assert_array_equal(streamed, read_frames(video, 64))


def test_an_http_stream_that_drops_reconnects_with_a_fresh_memory(media, tmp_path, release_tiny):
    root = media["root"]
    write_avi(root / "web/stream.avi", clip(40, noisy=()))
    # T' = video: history never wraps
    model = noise_calibrated(release_tiny(root / "model-unbounded", None), None)
    size = (root / "web/stream.avi").stat().st_size
    first = serve(root / "web", size // 40, cut=size // 2)
    url = f"http://viewer:{SECRET}@127.0.0.1:{first.server_port}/stream.avi"
    engine = open_engine(model, 2, device="cpu")
    sources = [open_source(f"web={url}", 64, backoff=0.1, max_backoff=0.4, queue_frames=64),
               open_source(str(media["video"]), 64, realtime=True)]
    watch = Watch([Group.of_all(engine, model_scoring(model))], sources, tmp_path / "out",
                  rules=EventRules(3.0))
    runner = threading.Thread(target=watch.run)
    runner.start()
    try:
        web, local = tmp_path / "out/frames-web.csv", tmp_path / "out/frames-a.csv"
        wait_for(lambda: web.exists() and len(read_csv(web)) > 5)  # readable while running
        first.shutdown()
        first.server_close()
        down_at = len(read_csv(local))
        time.sleep(1.0)
        second = serve(root / "web", size // 40, port=first.server_port)
        wait_for(lambda: any(int(r["frame"]) >= 30 for r in read_csv(web)))  # whole file
        wait_for(lambda: watch.report()[1].finished)
    finally:
        watch.stop()
        runner.join(timeout=30)
        second.shutdown()
    rows = read_csv(web)
    assert watch.reports[0].reconnects >= 1 and watch.reports[0].drops == 0  # queue room for a file
    frames, history = ([int(r[c]) for r in rows] for c in ("frame", "history"))
    assert frames.count(0) >= 2
    # the memory restarts at each connection's first frame, and only there
    before = [-1, *history[:-1]]
    assert history == [0 if f == 0 else h + 1 for f, h in zip(frames, before, strict=True)]
    local_rows = read_csv(local)
    assert len(local_rows) > down_at  # the file source kept going meanwhile
    assert [int(r["history"]) for r in local_rows] == list(range(len(local_rows)))
    for path in (tmp_path / "out").rglob("*.*"):
        assert SECRET not in path.name and (path.suffix == ".png" or
                                            SECRET not in path.read_text())


class FakeCapture:
    """A stream connection (see ``Capture``) that sends ``frames`` (each when ``times``
    says, seconds after it opened; else at once) and then drops; it states ``fps``."""

    def __init__(self, frames, times=None, fps=None):
        self.frames, self.fps, self.times = iter(frames), fps, times
        self.opened, self.index = time.monotonic(), 0

    def grab(self):
        self.frame = next(self.frames, None)
        if self.frame is not None and self.times is not None:
            time.sleep(max(0.0, self.opened + self.times[self.index] - time.monotonic()))
        self.index += 1
        return self.frame is not None

    def retrieve(self):
        return self.frame

    def release(self):
        pass


def test_a_stream_down_and_reconnecting_holds_up_no_step(tmp_path):
    """A live source that lost its connection is skipped at once while it retries, though
    a step waits up to ``max_wait`` (here a minute) for one that is connected: a file
    beside it, never skipped, is scored to its end meanwhile."""
    connections = iter([FakeCapture([np.zeros((8, 8), np.uint8)] * 2)])  # then refused
    retrying = threading.Event()

    def opener(target):
        connection = next(connections, None)
        if connection is None:
            retrying.set()
        return connection

    def file_frames():
        for index in range(40):
            if index == 5:  # the rest while the stream is down and retrying
                assert retrying.wait(timeout=10)
            yield np.full((8, 8), 50, np.uint8)

    stream = CaptureSource("cam", "rtsp://cam/live", 8, backoff=0.05, max_backoff=0.05,
                           opener=opener)
    file = IterableSource("file", file_frames(), 8)
    watch = Watch([Group.of_all(FakeEngine(2, None, None), Scoring("sum", None, 100.0))],
                  [stream, file], tmp_path / "out", rules=EventRules(100.0), max_wait=60.0,
                  decoders=0)
    runner = threading.Thread(target=watch.run)
    runner.start()
    try:
        wait_for(lambda: watch.report()[1].finished, timeout=20)  # 40 steps of a minute else
    finally:
        watch.stop()
        runner.join(timeout=30)
    assert not runner.is_alive()
    down, played = watch.reports
    assert (down.frames, down.connected) == (2, False) and down.reconnects >= 1
    assert (played.frames, played.drops) == (40, 0)
    assert len(read_csv(tmp_path / "out/frames-file.csv")) == 40


def test_a_camera_at_another_frame_rate_paces_no_other_and_both_keep_their_memory(tmp_path):
    """Two cameras of 2 s each, at 25 and 5 frames/s, with a ring of 8 frames and a minute
    of ``max_wait``: the slow one is skipped whenever the fast one has a second frame
    queued, so neither drops a frame (the fast one dropped 29 of 50 when steps waited for
    both), and each is scored in order with an unbroken memory (its memory held, not
    restarted, in the steps it sits out)."""
    fast = IterableSource("fast", (np.full((8, 8), i, np.uint8) for i in range(50)), 8, fps=25)
    slow = IterableSource("slow", (np.full((8, 8), i, np.uint8) for i in range(10)), 8, fps=5)
    watch = Watch([Group.of_all(FakeEngine(2, None, None), Scoring("sum", None, 1000.0))],
                  [fast, slow], tmp_path / "out", rules=EventRules(1000.0), max_wait=60.0,
                  decoders=0)
    runner = threading.Thread(target=watch.run)
    runner.start()
    runner.join(timeout=30)
    watch.stop()
    assert not runner.is_alive()
    for report, frames in zip(watch.reports, (50, 10), strict=True):
        assert (report.frames, report.drops) == (frames, 0), report
        rows = read_csv(tmp_path / f"out/frames-{report.name}.csv")
        assert [float(r["error"]) for r in rows] == list(range(frames))
        assert [int(r["history"]) for r in rows] == list(range(frames))


FAST = [k + offset for k in range(0, 50, 5) for offset in (0, 2)]  # 10 of every 25


def test_the_status_counts_the_frames_skipped_for_the_rate_apart_from_drops(tmp_path):
    """A 25-fps camera scored at 10 fps: its last status (MQTT, the page, /metrics) says
    20 frames scored, 30 skipped, none dropped."""
    statuses = []

    class Statuses(Sink):
        def status(self, cameras):
            statuses.append(cameras)

    source = IterableSource("cam", (np.full((8, 8), i, np.uint8) for i in range(50)), 8,
                            fps=25, rate=10)
    watch = Watch([Group.of_all(FakeEngine(1, None, None), Scoring("sum", None, 1000.0))],
                  [source], tmp_path / "out", rules=EventRules(1000.0), sinks=[Statuses()],
                  decoders=0)
    watch.run()
    last = statuses[-1][0]
    assert (last["frames"], last["skipped"], last["drops"]) == (20, 30, 0)


@pytest.mark.parametrize("realtime", [False, True])
def test_a_25_fps_file_is_scored_at_its_models_10_fps_and_nothing_counts_as_dropped(
        media, tmp_path, realtime):
    """A model trained on 10 fps footage scores frames 0, 2, 5, 7, 10, ... of a 25 fps
    file: every 2.5th, as its training footage moved; they keep the file's frame numbers
    and times, and its memory runs over the frames scored."""
    video = write_avi(tmp_path / "fast.avi", clip(50, noisy=()), fps=25)
    model = with_frame_rate(media["model"], tmp_path / "model", 10.0)
    code, out, err = run_cli("watch", model, video, "--out", tmp_path / "out", "--queue", 64,
                             *([] if realtime else ["--no-realtime"]))
    assert code == 0, err
    rows = read_csv(tmp_path / "out/frames-fast.csv")
    assert [int(r["frame"]) for r in rows] == FAST == kept_frames(50, 25.0, 10.0)  # calibrate's
    assert [float(r["time"]) for r in rows] == pytest.approx([i / 25 for i in FAST])
    assert [int(r["history"]) for r in rows] == [k % 4 for k in range(20)]  # T' = 4
    assert "scoring at most 10 fps" in out
    assert ("fast: 20 frames scored, 0 event(s), 0 dropped, 0 reconnect(s), 30 skipped for "
            "the frame rate") in out


@pytest.mark.parametrize(("recorded", "flags", "frames"), [
    (None, [], list(range(50))),  # a model released without a frame rate: every frame
    (10.0, ["--rate", "0"], list(range(50))),
    (None, ["--rate", "10"], FAST),
])
def test_a_model_without_a_frame_rate_or_rate_0_scores_every_frame(media, tmp_path, recorded,
                                                                   flags, frames):
    video = write_avi(tmp_path / "fast.avi", clip(50, noisy=()), fps=25)
    model = media["model"] if recorded is None else with_frame_rate(
        media["model"], tmp_path / "model", recorded)
    code, out, err = run_cli("watch", model, video, "--out", tmp_path / "out", "--no-realtime",
                             *flags)
    assert code == 0, err
    assert [int(r["frame"]) for r in read_csv(tmp_path / "out/frames-fast.csv")] == frames
    assert ("at most" in out) == (frames == FAST)


@pytest.mark.parametrize(("fps", "times"), [
    (10.0, [k // 5 / 2 + k % 5 / 1000 for k in range(20)]),  # 10 fps, five at once
    (None, [k / 5 for k in range(10)]),  # 5 fps, stating none
])
def test_a_camera_at_or_below_its_models_rate_loses_no_frame(tmp_path, fps, times):
    """A camera stating its models's 10 fps keeps every frame however they arrive (here
    in bursts, which by their times alone look faster); one slower keeps every frame by
    their times."""
    frames = [np.full((8, 8), k, np.uint8) for k in range(len(times))]
    connections = iter([FakeCapture(frames, times, fps)])
    ended = threading.Event()

    def opener(target):  # one connection, then refused
        connection = next(connections, None)
        if connection is None:
            ended.set()
        return connection

    camera = CaptureSource("cam", "rtsp://cam/live", 8, backoff=0.05, max_backoff=0.05,
                           opener=opener, rate=10.0)
    watch = Watch([Group.of_all(FakeEngine(1, None, None), Scoring("sum", None, 1000.0))],
                  [camera], tmp_path / "out", rules=EventRules(1000.0), decoders=0)
    runner = threading.Thread(target=watch.run)
    runner.start()
    try:
        assert ended.wait(timeout=20)
        wait_for(lambda: watch.report()[0].frames + watch.report()[0].skipped == len(frames),
                 timeout=5)
    finally:
        watch.stop()
        runner.join(timeout=30)
    report = watch.reports[0]
    assert (report.frames, report.skipped, report.drops) == (len(frames), 0, 0)
    rows = read_csv(tmp_path / "out/frames-cam.csv")
    assert [int(r["frame"]) for r in rows] == list(range(len(frames)))


@pytest.mark.parametrize("decoders", [0, 1])  # grab loops in threads, in a process
def test_removing_a_stream_stuck_in_a_read_holds_up_no_step(media, tmp_path, decoders):
    """A stream camera added beside a file played in real time (20 fps, its ring 1 s):
    its HTTP server sends half its video, then stays silent, the connection open, so its
    grab loop is stuck in a read. Removed, and another camera added into its stream at
    once, it holds up no step while its decoder is stopped (a stuck loop is waited for
    2 s): the file drops no frame, and the added camera is scored to its end, also after
    the stuck loop ends (when the server lets go) and its rings are closed."""
    write_avi(tmp_path / "web/stream.avi", clip(40, noisy=()))
    video = write_avi(tmp_path / "file.avi", clip(160, noisy=()), fps=20)
    size = (tmp_path / "web/stream.avi").stat().st_size
    hold = threading.Event()
    server = serve(tmp_path / "web", size, cut=size // 2, hold=hold)
    engine, scoring = FakeEngine(1, None, None), Scoring("sum", None, 100.0)
    file = open_source(f"file={video}", 8, queue_frames=20)
    watch = Watch([Group.of_all(engine, scoring)], [file], tmp_path / "out",
                  rules=EventRules(100.0), max_wait=0.01, decoders=decoders)
    runner = threading.Thread(target=watch.run)
    runner.start()
    try:
        stream = CaptureSource("web", f"http://127.0.0.1:{server.server_port}/stream.avi", 8)
        watch.add_camera(stream, engine, scoring, EventRules(100.0), None)
        wait_for(lambda: len(watch.report()) == 2 and watch.report()[1].frames > 0, timeout=20)
        time.sleep(0.5)  # the half sent is decoded: its grab loop waits for more
        watch.remove_camera(1)
        added = IterableSource("added", (np.full((8, 8), 50, np.uint8) for _ in range(60)), 8)
        assert watch.add_camera(added, engine, scoring, EventRules(100.0), None) == 1
        wait_for(lambda: len(watch.report()) == 3, timeout=20)  # removed, added
        hold.set()  # the stuck read ends
        runner.join(timeout=30)
    finally:
        watch.stop()
        hold.set()
        runner.join(timeout=30)
        server.shutdown()
    assert not runner.is_alive()
    web, played, after = watch.report()
    assert 0 < web.frames < 40 and web.finished
    assert (played.frames, played.drops) == (160, 0)
    assert (after.frames, after.drops, after.finished) == (60, 0, True)


def test_score_overlay_draws_every_frame_and_alarms(media, tmp_path):
    code, _, err = run_cli("score", media["model"], media["folder"], "--out",
                           tmp_path / "s.csv", "--overlay", tmp_path / "ov.avi")
    assert_user_error(code, err, "--overlay needs the model's located calibration")
    located = tmp_path / "located"  # two videos: each scored from the other's statistics
    code, _, err = run_cli("calibrate", media["model"], media["folder"], "--out", located,
                           "--quantile", 0.9)
    assert code == 0, err
    code, out, err = run_cli("score", located, media["folder"], "--out",
                             tmp_path / "s.csv", "--overlay", tmp_path / "ov.avi")
    assert code == 0, err
    for name, frames in (("a", 30), ("b", 20)):
        capture = cv2.VideoCapture(str(tmp_path / f"ov-{name}.avi"))
        count = 0
        while capture.read()[0]:
            count += 1
        assert count == frames
    code, _, err = run_cli("score", media["model"], media["video"], "--out",
                           tmp_path / "t.csv", "--overlay", tmp_path / "ov.gif")
    assert_user_error(code, err, ".mp4 or .avi")


@pytest.mark.parametrize(("flags", "named"), [
    (["--webhook", "notaurl"], "--webhook notaurl: expected an http:// or https:// URL"),
    (["--webhook", "http://127.0.0.1:1/a b"], "--webhook"),
    (["--webhook", "file:///etc/hostname"], "expected an http:// or https:// URL"),
    (["--webhook", f"ftp://u:{SECRET}@host/x"], "--webhook ftp://***@host/x"),
    (["--on-event", "echo 'unclosed"], "--on-event \"echo 'unclosed\": not a command line"),
    (["--on-event", ""], "--on-event: empty command"),
    (["--threshold", "nan"], "--threshold must be a finite number"),
    (["--release-margin", "nan"], "--release-margin must lie in [0, 1]"),
    (["--max-wait", "inf"], "--max-wait must be positive seconds"),
    (["--backoff", "inf", "--max-backoff", "inf"], "--backoff must be positive seconds"),
    (["--max-backoff", "inf"], "--max-backoff must be positive seconds"),
    (["--notify-timeout", "1e300"], "--notify-timeout must be positive seconds"),
    (["--threshold", "abc"], "argument --threshold: invalid float value: 'abc'"),
])
def test_bad_notification_and_alarm_flags_are_one_line_errors(media, tmp_path, flags, named):
    code, _, err = run_cli("watch", media["model"], media["video"], "--no-realtime",
                           "--out", tmp_path / "out", *flags)
    assert_user_error(code, err, named)
    assert SECRET not in err
    assert not list((tmp_path / "out").glob("frames-*.csv"))  # nothing was scored


def test_a_source_that_stops_on_an_error_makes_the_exit_status_one_the_others_run_on(
        media, tmp_path):
    broken = tmp_path / "huge.npy"  # a header promising 10^12 frames, a few bytes behind it
    with open(broken, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "|u1", "fortran_order": False, "shape": (10**12, 64, 64)})
        handle.write(b"\0" * 4096)
    code, out, err = run_cli("watch", media["model"], media["video"], broken, "--no-realtime",
                             "--out", tmp_path / "out")
    assert code == 1
    assert "30 frames scored" in out  # the good source ran to its end
    errors = [line for line in err.splitlines() if line.startswith("convlstm-ae: error:")]
    assert len(errors) == 1 and "huge" in errors[0] and "Traceback" not in err
    assert err.strip().splitlines()[-1] == errors[0]  # the last word, after the status lines


def test_a_decoder_process_killed_ends_its_sources_with_the_reason_and_the_others_run_on(
        tmp_path):
    """Two files played in real time (20 fps, 3 s), each in a decoder process of its own.
    The second's process is killed (as the kernel's out-of-memory killer would) a second
    in: within a second its source is reported finished, with the exit code, and no step
    waits for it; the first is scored to its end, nothing dropped, and watch ends."""
    videos = [write_avi(tmp_path / f"{name}.avi", clip(60, noisy=(), seed=k), fps=20)
              for k, name in enumerate(("kept", "killed"))]
    engine, scoring = FakeEngine(2, None, None), Scoring("sum", None, 100.0)
    sources = [open_source(str(video), 8, queue_frames=20) for video in videos]
    watch = Watch([Group.of_all(engine, scoring)], sources, tmp_path / "out",
                  rules=EventRules(100.0), max_wait=0.01, decoders=2)
    runner = threading.Thread(target=watch.run)
    runner.start()
    try:
        wait_for(lambda: watch.report()[1].frames >= 20, timeout=20)
        victim, = [p for p in multiprocessing.active_children() if p.name == "decoder 1"]
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(lambda: watch.report()[1].finished, timeout=10)
        noticed = time.monotonic() - killed_at
        runner.join(timeout=30)
    finally:
        watch.stop()
        runner.join(timeout=30)
    assert not runner.is_alive()
    kept, killed = watch.report()
    assert noticed < 2.0
    assert "decoder process ended with exit code -9" in killed.error
    assert 20 <= killed.frames < 60
    assert (kept.frames, kept.drops, kept.error) == (60, 0, None)


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (an orphan waiting for its
    reaper, which a container's first process may never be)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").is_file() or not Path("/dev/shm").is_dir(),
                    reason="needs /proc and /dev/shm (Linux)")
def test_a_watch_killed_leaves_no_decoder_running_and_no_shared_memory(media, tmp_path):
    """The scoring process killed with SIGKILL (the out-of-memory killer's usual pick):
    its decoder processes notice within a second and end, and the frame rings' shared
    memory is freed (by multiprocessing's resource tracker); nothing is left behind."""
    long = write_avi(tmp_path / "long.avi", clip(400, noisy=()), fps=20)
    before = set(os.listdir("/dev/shm"))
    process = subprocess.Popen(
        [sys.executable, "-m", "convlstm_ae.cli", "watch", str(media["model"]), str(long),
         f"again={long}", "--decoders", "2", "--out", str(tmp_path / "out")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")})
    try:
        wait_for(lambda: len(read_csv_rows(tmp_path / "out/frames-again.csv")) > 5, timeout=60)
        below = _descendants(process.pid)
        rings = set(os.listdir("/dev/shm")) - before
        assert len(below) >= 2 and rings  # the decoders, and their rings
    finally:
        process.kill()
        process.wait()
    wait_for(lambda: not any(map(_running, below)), timeout=10)
    wait_for(lambda: not rings & set(os.listdir("/dev/shm")), timeout=10)
