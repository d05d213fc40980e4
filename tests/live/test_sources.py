"""Live frame sources (live/sources.py) and their decoders (live/decoders.py): parsing,
redaction, files decoded in a worker process, drop-oldest rings, reconnection with
backoff through a fake capture."""

import logging
import os
import socket
import time

import numpy as np
import pytest

from convlstm_ae.errors import ConfigError, DatasetLayoutError
from convlstm_ae.live.decoders import Decoders, decode_threads, default_workers
from convlstm_ae.live.ring import FrameRings
from convlstm_ae.live.sources import (
    CaptureSource,
    FileSource,
    IterableSource,
    open_source,
    redact,
    split_label,
)
from media import random_frames, write_avi, write_frames

SECRET = "s3cr3t-pw"


@pytest.mark.parametrize(("name", "shown"), [
    (f"rtsp://admin:{SECRET}@10.0.0.5:554/stream1", "rtsp://***@10.0.0.5:554/stream1"),
    ("http://user@cam/x.mjpg", "http://***@cam/x.mjpg"),
    (f"http://cam/x?user=a&password={SECRET}&fps=5", "http://cam/x?user=***&password=***&fps=***"),
    (f"http://127.0.0.1:18080/cam.mp4?access_token={SECRET}", "http://127.0.0.1:18080/cam.mp4?access_token=***"),
    (f"http://cam/x?api_key={SECRET}#top", "http://cam/x?api_key=***#top"),
    (f"rtsp://admin:p@{SECRET}@host/x", "rtsp://***@host/x"),  # '@' in the password
    (f"rtsp://admin:pa/{SECRET}@host/x", "rtsp://***@host/x"),  # '/' in the password
    (f"front=rtsp://a:{SECRET}@h/s", "front=rtsp://***@h/s"),
    ("videos/ped2/01.avi", "videos/ped2/01.avi"),
])
def test_redact_hides_credentials(name, shown):
    assert redact(name) == shown


def test_split_label(tmp_path):
    assert split_label("front=rtsp://h/s") == ("front", "rtsp://h/s")
    assert split_label("rtsp://h/s?a=b") == (None, "rtsp://h/s?a=b")
    odd = tmp_path / "a=b.avi"
    odd.touch()
    assert split_label(str(odd)) == (None, str(odd))


def test_open_source_kinds(tmp_path):
    video = write_avi(tmp_path / "clips/a.avi", random_frames((3, 32, 40)))
    write_avi(tmp_path / "clips/b.avi", random_frames((2, 32, 40)))
    single = open_source(str(video), 16)
    assert isinstance(single, FileSource) and single.name == "a" and single.realtime
    folder = open_source(f"both={tmp_path / 'clips'}", 16, realtime=False)
    assert folder.name == "both" and [v.name for v in folder.videos] == ["a.avi", "b.avi"]
    url = open_source(f"rtsp://u:{SECRET}@h/s", 16, check=False)
    assert isinstance(url, CaptureSource) and url.live and SECRET not in url.name
    webcam = open_source("3", 16, check=False)
    assert webcam.target == 3


def test_sources_that_cannot_open_are_named_and_redacted(tmp_path):
    with pytest.raises(DatasetLayoutError, match="missing.avi"):
        open_source(str(tmp_path / "missing.avi"), 16)
    with pytest.raises(ConfigError) as error:
        open_source(f"rtsp://admin:{SECRET}@127.0.0.1:9/none", 16)
    assert "rtsp://***@127.0.0.1:9/none" in str(error.value) and SECRET not in str(error.value)


class Decoded:
    """``source`` grabbed by its decoder (``workers`` processes; 0: a thread here) into
    its ring; :meth:`take` gives (video, index, restart, image) of its next frame."""

    def __init__(self, source, workers=0):
        self.source = source
        self.rings = FrameRings.create([source.queue_frames], [source.drop_oldest],
                                       source.frame_size)
        self.decoders = Decoders([source], self.rings, workers)
        self.epoch = -1

    def __enter__(self):
        self.decoders.start()
        return self

    def __exit__(self, *error):
        self.decoders.stop()
        self.rings.close()

    @property
    def finished(self):
        return bool(self.rings.finished[0]) and not self.rings.available()[0]

    def take(self):
        out = np.zeros((1, self.source.frame_size, self.source.frame_size), np.uint8)
        got = self.rings.take(np.array([True]), out)
        if not got.rows.size:
            return None
        restart, self.epoch = got.epoch[0] != self.epoch, got.epoch[0]
        return (self.source.video_names[got.video[0]], int(got.index[0]), bool(restart),
                out[0])


def collect(source, workers=0, timeout=10.0):
    """Every frame ``source`` delivers, taken as fast as they come."""
    with Decoded(source, workers) as decoded:
        frames, deadline = [], time.monotonic() + timeout
        while not decoded.finished and time.monotonic() < deadline:
            frame = decoded.take()
            frames.append(frame) if frame else time.sleep(0.001)
    return frames


def test_folder_plays_each_file_from_a_fresh_memory_without_dropping(tmp_path):
    write_avi(tmp_path / "a.avi", random_frames((5, 32, 40)))
    write_avi(tmp_path / "b.avi", random_frames((4, 32, 40), seed=1))
    source = open_source(str(tmp_path), 16, realtime=False, queue_frames=2)
    frames = collect(source, workers=1)  # decoded in a worker process
    assert [f[:3] for f in frames][4:6] == [("a.avi", 4, False), ("b.avi", 0, True)]
    assert len(frames) == 9 and frames[0][3].shape == (16, 16)


def test_a_video_far_from_square_warns_and_an_absurd_one_stops_its_source(tmp_path, caplog):
    """The frame readers' aspect check (data/video_io.check_aspect) holds for watch too."""
    wide = write_avi(tmp_path / "wide.avi", random_frames((3, 32, 160)))
    with caplog.at_level(logging.WARNING):
        assert len(collect(open_source(str(wide), 16, realtime=False))) == 3
    assert f"{wide}: frames are 160x32 (5:1)" in caplog.text
    tall = write_avi(tmp_path / "tall.avi", random_frames((3, 504, 24)))
    with Decoded(open_source(str(tall), 16, realtime=False)) as decoded:
        while not decoded.finished:
            time.sleep(0.01)
        assert f"{tall}: frames are 24x504 (21:1)" in decoded.rings.error_of(0)
        assert decoded.take() is None


def test_a_slow_consumer_drops_the_oldest_frames_and_counts_them():
    source = IterableSource("gen", (np.full((8, 8), i, np.uint8) for i in range(40)), 8,
                            fps=1000, queue_frames=4)
    with Decoded(source) as decoded:
        while not decoded.rings.finished[0]:
            time.sleep(0.01)
        taken = [f[3][0, 0] for f in iter(decoded.take, None)]
        assert taken == [36, 37, 38, 39]  # only the newest frames are left
        assert decoded.rings.drops()[0] == 36 and decoded.rings.written[0] == 40


def test_decoders_default_to_a_core_each_but_the_scorers():
    assert default_workers(1) == 1
    assert 1 <= default_workers(1000) <= max(1, (os.cpu_count() or 2) - 1)
    assert decode_threads(1) == max(1, len(os.sched_getaffinity(0))) and decode_threads(1000) == 1


def decoder_threads(video, sources: int) -> int:
    """Threads of one decoder process grabbing ``sources`` copies of ``video``, once each
    has opened its capture and filled its ring."""
    made = [open_source(f"s{i}={video}", 16, realtime=False, queue_frames=2)
            for i in range(sources)]
    rings = FrameRings.create([2] * sources, [False] * sources, 16)
    decoders = Decoders(made, rings, 1)
    decoders.start()
    try:
        deadline = time.monotonic() + 30
        while not (rings.available() == 2).all() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (rings.available() == 2).all()
        return len(os.listdir(f"/proc/{decoders._processes[0].pid}/task"))
    finally:
        decoders.stop()
        rings.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
def test_a_decoder_process_adds_one_thread_per_source_not_ffmpegs_per_core(tmp_path):
    """Left alone, FFmpeg gives each capture a thread per core (plus one): thousands of
    threads at hundreds of cameras. With the cores shared out, each source adds only its
    grab thread."""
    video = write_avi(tmp_path / "a.avi", random_frames((8, 32, 40)))
    assert decoder_threads(video, 6) - decoder_threads(video, 2) == 4


class FakeCapture:
    """``frames`` frames, then the stream drops."""

    fps = None

    def __init__(self, frames):
        self.frames = iter(np.full((frames, 12, 12), 50, np.uint8))

    def grab(self):
        self.frame = next(self.frames, None)
        return self.frame is not None

    def retrieve(self):
        return self.frame

    def release(self):
        pass


class FlakyCamera:
    """An opener: connection k is refused ``refusals[k]`` times first, then gives
    ``frames`` frames and drops; after the last connection every open is refused."""

    def __init__(self, refusals, frames=3):
        self.refusals, self.frames = list(refusals), frames
        self.opened_at = []

    def __call__(self, target):
        self.opened_at.append(time.monotonic())
        if not self.refusals:
            return None
        if self.refusals[0] > 0:
            self.refusals[0] -= 1
            return None
        self.refusals.pop(0)
        return FakeCapture(self.frames)


def test_a_dropped_stream_reconnects_with_bounded_exponential_backoff(caplog):
    camera = FlakyCamera([0, 3])
    source = CaptureSource(f"rtsp://u:{SECRET}@cam/1", "rtsp://cam/1", 8, backoff=0.05,
                           max_backoff=0.12, opener=camera)
    with caplog.at_level(logging.WARNING), Decoded(source) as decoded:
        frames = []
        deadline = time.monotonic() + 5
        while (len(frames) < 6 or len(camera.opened_at) < 6) and time.monotonic() < deadline:
            frame = decoded.take()
            frames.append(frame) if frame else time.sleep(0.005)
        reconnects, drops = decoded.rings.reconnects[0], decoded.rings.drops()[0]
    assert [f[1:3] for f in frames] == [(0, True), (1, False), (2, False)] * 2
    gaps = np.diff(camera.opened_at)
    # the drop, then three refusals: waits of 0.05, 0.1, 0.12 (capped), 0.12 s; frames
    # flowing again bring the wait back to 0.05 s
    assert gaps[:5] == pytest.approx([0.05, 0.1, 0.12, 0.12, 0.05], abs=0.04)
    assert reconnects >= 5 and drops == 0
    assert "reconnecting" in caplog.text and SECRET not in caplog.text
    assert "rtsp://***@cam/1" in caplog.text


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("workers", [0, 1])
def test_a_halted_stream_stops_at_once_while_it_waits_to_reconnect(workers):
    """A real stream URL on a closed port: refused, it waits 30 s to reconnect; its ring
    halted (its camera removed), its grab loop (a thread here or in a decoder process)
    ends within a second, without trying again."""
    source = open_source(f"http://127.0.0.1:{free_port()}/cam.avi", 8, backoff=30,
                         max_backoff=30, check=False)
    with Decoded(source, workers) as decoded:
        rings = decoded.rings
        deadline = time.monotonic() + 10
        while rings.connected[0] and time.monotonic() < deadline:  # refused: waiting
            time.sleep(0.01)
        assert not rings.connected[0] and not rings.finished[0]
        rings.halt(0)
        halted = time.monotonic()
        while not rings.finished[0] and time.monotonic() < halted + 5:
            time.sleep(0.01)
        assert rings.finished[0] and time.monotonic() - halted < 1.0
        assert rings.reconnects[0] == 0  # not tried again


@pytest.mark.parametrize(("fps", "warned"), [(None, True), (10.0, False)])
def test_a_frame_folder_that_states_no_rate_is_played_at_25_fps_with_a_warning_naming_fps(
        tmp_path, caplog, fps, warned):
    """A frame folder of one's own states no frame rate: played at 25 fps, a 10 fps
    model's source keeps 10 of every 25 frames and says so, naming --fps; with the rate
    given (--fps 10), every frame and no warning."""
    folder = write_frames(tmp_path / "own", random_frames((25, 16, 16)))
    source = open_source(str(folder), 16, realtime=False, fps=fps, rate=10.0)
    with caplog.at_level(logging.WARNING):
        frames = collect(source)
    assert len(frames) == (10 if warned else 25)
    line = "own: states no frame rate, so it is played at 25 fps and scored at 10 fps; " \
        "--fps gives its rate"
    assert (line in caplog.text) == warned
