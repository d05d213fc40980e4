"""``watch`` against a REAL RTSP server on the loopback address (tests/rtsp_server.py,
GStreamer's RTSP server run by the system Python), through OpenCV's FFmpeg backend: the
server is killed mid-stream and restarted; the stream reconnects with a fresh memory
while a file source keeps going, and URL credentials appear nowhere. Skipped, with the
reason, where the server software is missing (``make rtsp-test-deps`` installs it)."""

import select
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_watch import SECRET, clip, noise_calibrated, read_csv, wait_for

import rtsp_server
from convlstm_ae.live.engine import open_engine
from convlstm_ae.live.events import EventRules
from convlstm_ae.live.models import Group, model_scoring
from convlstm_ae.live.sources import open_source
from convlstm_ae.live.watch import Watch
from media import write_avi

SERVER = Path(__file__).parents[1] / "rtsp_server.py"


@pytest.fixture(scope="module")
def rtsp_media(tmp_path_factory, release_tiny):
    missing = rtsp_server.available()
    if missing:
        pytest.skip(missing)
    root = tmp_path_factory.mktemp("rtsp")
    # long enough that no connection reaches the end of the stream during the test
    stream = np.full((400, 80, 96), 100, np.uint8)
    return {"stream": write_avi(root / "stream.avi", stream),
            "local": write_avi(root / "local.avi", clip(80, noisy=())),  # 8 s at 10 fps
            # T' = video: history never wraps
            "model": noise_calibrated(release_tiny(root / "model", None), None)}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """tests/rtsp_server.py in a subprocess, started (and waited for) in the constructor;
    ``kill`` ends it at once, as a crash or a pulled cable would."""

    def __init__(self, video, port, log, credentials=None):
        command = ["/usr/bin/python3", str(SERVER), str(video), str(port)]
        if credentials:
            command += ["--user", credentials[0], "--password", credentials[1]]
        self.log = log
        with open(log, "a") as stderr:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr,
                                            text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready and self.process.stdout.readline().strip() == "ready":
                return
            if self.process.poll() is not None:
                break
        self.kill()
        pytest.fail(f"the RTSP server did not start: {Path(log).read_text()[-2000:]}")

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.process.stdout.close()


@pytest.mark.parametrize("credentials", [None, ("viewer", SECRET)],
                         ids=["plain", "credentials"])
def test_an_rtsp_stream_whose_server_dies_reconnects_with_a_fresh_memory(
        rtsp_media, tmp_path, credentials, caplog, capfd):
    port = free_port()
    servers = [Server(rtsp_media["stream"], port, tmp_path / "server.log", credentials)]
    userinfo = f"{credentials[0]}:{credentials[1]}@" if credentials else ""
    url = f"rtsp://{userinfo}127.0.0.1:{port}/live"
    # the credentials variant names the source by its (redacted) URL, in files too
    argument = url if credentials else f"cam={url}"
    engine = open_engine(rtsp_media["model"], 2, device="cpu")
    # both with queue room for a burst: each connection of the stream starts with one
    # (FFmpeg's probe); the file, played in real time, drops its oldest frames once the
    # scorer or its decoder stalls for longer than its queue holds (8 frames, 0.8 s, by
    # default), and its CSV then never reaches 80 rows (once in a full suite on 2 cores)
    sources = [open_source(argument, 64, backoff=0.1, max_backoff=0.4, queue_frames=64),
               open_source(f"local={rtsp_media['local']}", 64, realtime=True, queue_frames=64)]
    out = tmp_path / "out"
    watch = Watch([Group.of_all(engine, model_scoring(rtsp_media["model"]))], sources, out,
                  rules=EventRules(3.0))
    runner = threading.Thread(target=watch.run)
    local = out / "frames-local.csv"

    def stream_rows():
        tables = [p for p in out.glob("frames-*.csv") if p != local]
        return read_csv(tables[0]) if tables else []

    with caplog.at_level("INFO"):
        runner.start()
        try:
            wait_for(lambda: len(stream_rows()) > 5, timeout=30)  # readable while running
            servers[0].kill()  # mid-stream
            down_at = len(read_csv(local))
            wait_for(lambda: not watch.report()[0].connected, timeout=10)
            time.sleep(1.0)
            servers.append(Server(rtsp_media["stream"], port, tmp_path / "server.log",
                                  credentials))
            wait_for(lambda: watch.report()[0].reconnects >= 1, timeout=10)
            # the second connection is up and has sent a few frames
            wait_for(lambda: _second_connection(stream_rows()) >= 10, timeout=30)
            # the file ends (read to its end, its queue emptied) whether or not it dropped
            # frames: within its 8 s and the 6.4 s of its queue
            wait_for(lambda: watch.report()[1].finished, timeout=30)
            dropped = watch.report()[1].drops
            assert dropped == 0, f"the file dropped {dropped} frames"
            # every frame of the file scored and its row flushed (every 0.1 s)
            wait_for(lambda: len(read_csv(local)) == 80, timeout=5)
        finally:
            watch.stop()
            runner.join(timeout=30)
            for server in servers:
                server.kill()
    assert not runner.is_alive()
    rows = stream_rows()
    report = watch.reports[0]
    assert report.reconnects >= 1 and report.drops == 0  # queue room for a burst
    frames, history = ([int(r[c]) for r in rows] for c in ("frame", "history"))
    assert frames.count(0) >= 2  # a frame 0 per connection
    # the memory restarts at each connection's first frame, and only there
    before = [-1, *history[:-1]]
    assert history == [0 if f == 0 else h + 1 for f, h in zip(frames, before, strict=True)]
    local_rows = read_csv(local)
    assert len(local_rows) == 80 and len(local_rows) > down_at  # the file kept going
    assert [int(r["history"]) for r in local_rows] == list(range(80))
    assert "stream lost" in caplog.text
    captured = capfd.readouterr()  # OpenCV's and FFmpeg's own messages too
    for text in (caplog.text, captured.out, captured.err):
        assert SECRET not in text
    for path in out.rglob("*"):
        assert SECRET not in path.name
        assert path.suffix == ".png" or not path.is_file() or SECRET not in path.read_text()
    if credentials:
        assert sources[0].name == f"rtsp://***@127.0.0.1:{port}/live"


def _second_connection(rows):
    """How many frames came after the last frame 0 (the latest connection's start)."""
    frames = [int(r["frame"]) for r in rows]
    return len(frames) - frames[::-1].index(0) - 1 if frames.count(0) >= 2 else -1
