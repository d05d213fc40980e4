"""Frame sources of ``convlstm-ae watch``: video files, folders of videos, webcams, stream
URLs and Python iterables, each grabbed by its own loop (:meth:`Source.run`) into its
frame ring (:mod:`convlstm_ae.live.ring`), in a decoder process (:mod:`convlstm_ae.live.decoders`).

Frames are converted to gray and resized to the model's frame size as they are grabbed.
A source faster than its model's frame rate (:attr:`Source.rate`) has frames left out,
by their times, before they are decoded to pixels (:mod:`convlstm_ae.data.rate`); the
frames kept keep their own numbers and times. Live sources (webcams, URLs, files played
in real time) drop their OLDEST frame when scoring falls behind, and count it; files
played with ``realtime=False`` wait for the scorer instead, so every frame kept is
scored. A webcam or URL that drops is reopened with bounded exponential backoff; its
first frame after that starts a new memory. A source whose ring is halted (its camera
removed) stops within :data:`HALT_CHECK` seconds, even while it waits to reconnect or
for a frame's time. Source names are shown only through :func:`redact`, which hides URL
credentials.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path

import numpy as np

from convlstm_ae.data.layouts import DEFAULT_FPS, frame_rate
from convlstm_ae.data.rate import RateGate, faster
from convlstm_ae.data.video_io import (
    VIDEO_SUFFIXES,
    Capture,
    check_aspect,
    list_videos,
    model_frame,
    open_capture,
    read_frames,
    read_header,
    video_frames,
)
from convlstm_ae.errors import ConfigError, ConvLSTMAEError, DatasetLayoutError
from convlstm_ae.live.ring import FrameRings

log = logging.getLogger(__name__)
QUEUE_FRAMES = 8
HALT_CHECK = 0.1  # seconds between a waiting source's looks at its ring's halt flag
_QUERY_VALUE = re.compile(r"([?&;][^=&#;]*=)[^&#;]*")
_LABEL = re.compile(r"^([A-Za-z0-9_.-]+)=(.+)$")


def redact(name: str) -> str:
    """``name`` with whatever may be a credential of a URL in it hidden, safe by default:
    everything between ``://`` and the last ``@`` before the query (a password may hold
    ``@`` or ``/``): ``rtsp://user:pass@host/x`` becomes ``rtsp://***@host/x``; and the
    value of every query parameter, whatever its name (``?access_token=***&fps=***``)."""
    start = name.find("://")
    if start < 0:
        return name
    start += 3
    query = min((i for i in (name.find("?", start), name.find("#", start)) if i >= 0),
                default=len(name))
    at = name.rfind("@", start, query)
    head = name[:start] + ("***" + name[at:query] if at >= 0 else name[start:query])
    return head + _QUERY_VALUE.sub(r"\1***", name[query:])


class Source:
    """A frame source: where frames come from and how fast. :meth:`run` grabs them (in
    a decoder process, or a thread) into the source's ring; subclasses yield decoded
    frames from :meth:`_decoded`. A source is picklable unless its frames live in this
    process (:attr:`local`).

    Attributes:
        name: what the user gave, redacted: safe to print and write.
        live: frames arrive at the source's pace (not the scorer's); a gap means a lost
            connection, not a slow decoder.
        drop_oldest: when scoring falls behind, drop the oldest frames (else wait).
        queue_frames: frames its ring holds.
        rate: frames per second to score at most (its model's frame rate); None: every
            frame.
        videos: the names of the videos it plays (live sources: its name).
    """

    live = False
    local = False

    def __init__(self, name: str, frame_size: int, *, drop_oldest: bool = True,
                 queue_frames: int = QUEUE_FRAMES, rate: float | None = None) -> None:
        self.name = redact(name)
        self.frame_size = frame_size
        self.drop_oldest = drop_oldest
        self.queue_frames = queue_frames
        self.rate = rate

    @property
    def video_names(self) -> list[str]:
        """The name of each video, by the number :meth:`_decoded` yields."""
        return [self.name]

    def run(self, rings: FrameRings, stream: int, stop: threading.Event,
            room: threading.Condition) -> None:
        """Decode, convert to gray, resize and write every frame kept into ring ``stream``
        until the source ends, ``stop`` is set or the ring is halted
        (:meth:`FrameRings.halt`); an error is logged and kept there.
        ``room`` is notified when the scorer has taken frames (see :meth:`FrameRings.put`)."""
        try:
            for image, index, seconds, video in self._decoded(rings, stream, stop):
                if stop.is_set() or rings.halted[stream] or not rings.put(
                        stream, model_frame(image, self.frame_size), index, seconds,
                        time.monotonic(), video, stop, room):
                    return
        except ConvLSTMAEError as error:
            message = redact(str(error))
            rings.fail(stream, message)
            log.warning("%s: %s", self.name, message)
        finally:
            rings.finished[stream] = 1

    def _decoded(self, rings: FrameRings, stream: int, stop: threading.Event
                 ) -> Iterator[tuple[np.ndarray, int, float, int]]:
        """(image, index, seconds, video) per frame kept (:meth:`_kept`);
        :meth:`FrameRings.restart` before the first frame of each video or connection."""
        raise NotImplementedError

    def _kept(self, gate: RateGate, seconds: float, rings: FrameRings, stream: int) -> bool:
        """Whether the next frame, of time ``seconds``, is scored at :attr:`rate`; one
        left out is counted in ring ``stream``."""
        if gate.keep(seconds):
            return True
        rings.skip(stream)
        return False


def _wait(rings: FrameRings, stream: int, stop: threading.Event, until: float) -> bool:
    """Wait until ``until`` (monotonic) unless ``stop`` is set or ring ``stream`` is halted
    first (its camera removed; the flag is looked at every :data:`HALT_CHECK` seconds).
    Returns whether it was."""
    while not (stop.is_set() or rings.halted[stream]):
        delay = until - time.monotonic()
        if delay <= 0:
            return False
        stop.wait(min(delay, HALT_CHECK))
    return True


class FileSource(Source):
    """Video files (or frame folders, ``.npy`` arrays) played one after another, each
    from a fresh memory; at their frame rate when ``realtime``, else as fast as the
    scorer takes them (no frame dropped). Frame times count at the same rate: ``fps``
    if given, else the video's own (its header, or its dataset layout for a frame
    folder, see :func:`frame_rate`), else :data:`DEFAULT_FPS`; a video faster than
    :attr:`rate` has frames left out by these times, before they are decoded."""

    def __init__(self, name: str, videos: list[Path], frame_size: int, *,
                 realtime: bool = True, queue_frames: int = QUEUE_FRAMES,
                 fps: float | None = None, rate: float | None = None) -> None:
        super().__init__(name, frame_size, drop_oldest=realtime, queue_frames=queue_frames,
                         rate=rate)
        self.videos = videos
        self.realtime = realtime
        self.fps = fps

    @property
    def video_names(self) -> list[str]:
        return [video.name for video in self.videos]

    def _decoded(self, rings: FrameRings, stream: int, stop: threading.Event
                 ) -> Iterator[tuple[np.ndarray, int, float, int]]:
        for number, video in enumerate(self.videos):
            if (yield from self._played(number, video, rings, stream, stop)):
                return

    def _played(self, number: int, video: Path, rings: FrameRings, stream: int,
                stop: threading.Event) -> Generator[tuple[np.ndarray, int, float, int], None,
                                                    bool]:
        """The kept frames of video ``number``, as :meth:`_decoded` yields them; returns
        whether ``stop`` (or a halt) ended it."""
        header = read_header(video) if video.is_file() else None
        stated = self.fps or frame_rate(video)
        fps = stated or DEFAULT_FPS
        if stated is None and faster(fps, self.rate):
            which = "" if video.name == self.name else f" {video.name}"
            log.warning("%s:%s states no frame rate, so it is played at %g fps and scored "
                        "at %g fps; --fps gives its rate", self.name, which, fps, self.rate)
        gate = RateGate(self.rate, fps)

        def kept(index: int) -> bool:
            return self._kept(gate, index / fps, rings, stream)

        if video.is_file() and header is not None:
            check_aspect(video, header.size, self.frame_size)
            images: Iterable[np.ndarray | None] = video_frames(video, kept)
        else:  # a frame folder or array, read whole
            images = (image if kept(index) else None
                      for index, image in enumerate(read_frames(video, self.frame_size)))
        rings.restart(stream)
        start = time.monotonic()
        for index, image in enumerate(images):
            if image is None:  # left out for the rate
                continue
            if self.realtime and _wait(rings, stream, stop, start + index / fps):
                return True
            yield image, index, index / fps, number
            if stop.is_set():
                return True
        return False


class CaptureSource(Source):
    """A webcam or stream URL; reopened after a drop, waiting ``backoff`` seconds first,
    doubling up to ``max_backoff``, back to ``backoff`` once frames flow again. Halting
    its ring (its camera removed) ends a wait at once: it is not reopened. A frame's time
    is when it arrived (Unix time); a camera faster than :attr:`rate` (by the rate it
    states, where it states one) has frames left out by these times, grabbed but never
    decoded."""

    live = True

    def __init__(self, name: str, target: str | int, frame_size: int, *,
                 backoff: float = 0.5, max_backoff: float = 10.0,
                 opener: Callable[[str | int], Capture | None] = open_capture,
                 queue_frames: int = QUEUE_FRAMES, rate: float | None = None) -> None:
        super().__init__(name, frame_size, queue_frames=queue_frames, rate=rate)
        self.target = target
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._open = opener

    def _decoded(self, rings: FrameRings, stream: int, stop: threading.Event
                 ) -> Iterator[tuple[np.ndarray, int, float, int]]:
        delay = self.backoff
        while not stop.is_set():
            capture = self._open(self.target)
            if capture is not None:
                try:
                    gate = RateGate(self.rate, capture.fps)
                    index = 0
                    while not stop.is_set() and capture.grab():
                        seconds = time.time()
                        if index == 0:
                            rings.restart(stream)
                        rings.connected[stream] = 1
                        delay = self.backoff
                        if self._kept(gate, seconds, rings, stream) and (
                                image := capture.retrieve()) is not None:
                            yield image, index, seconds, 0
                        index += 1
                finally:
                    capture.release()
            if stop.is_set() or rings.halted[stream]:
                return
            rings.connected[stream] = 0
            log.warning("%s: %s; reconnecting in %.3g s", self.name,
                        "stream lost" if capture is not None else "cannot open", delay)
            if _wait(rings, stream, stop, time.monotonic() + delay):
                return
            delay = min(delay * 2, self.max_backoff)
            rings.reconnects[stream] += 1


class IterableSource(Source):
    """Frames (gray or BGR uint8, any size) from a Python iterable: tests, or a stand-in
    for a webcam. With ``fps`` they come at that rate and may be dropped; without, they
    wait for the scorer. Their times count at ``fps`` (else :data:`DEFAULT_FPS`), which
    :attr:`rate` reads. Grabbed in a thread of this process (:attr:`local`)."""

    local = True

    def __init__(self, name: str, frames: Iterable[np.ndarray], frame_size: int, *,
                 fps: float | None = None, queue_frames: int = QUEUE_FRAMES,
                 rate: float | None = None) -> None:
        super().__init__(name, frame_size, drop_oldest=fps is not None,
                         queue_frames=queue_frames, rate=rate)
        self.frames = frames
        self.fps = fps

    def _decoded(self, rings: FrameRings, stream: int, stop: threading.Event
                 ) -> Iterator[tuple[np.ndarray, int, float, int]]:
        rings.restart(stream)
        fps = self.fps or DEFAULT_FPS
        gate = RateGate(self.rate, fps)
        start = time.monotonic()
        for index, image in enumerate(self.frames):
            if not self._kept(gate, index / fps, rings, stream):
                continue
            if self.fps and _wait(rings, stream, stop, start + index / self.fps):
                return
            yield image, index, index / fps, 0


def split_label(argument: str) -> tuple[str | None, str]:
    """``NAME=SOURCE`` -> (NAME, SOURCE); a plain SOURCE (or an existing path holding
    ``=``) -> (None, SOURCE)."""
    match = _LABEL.match(argument)
    if match and not Path(argument).exists():
        return match.group(1), match.group(2)
    return None, argument


def open_source(argument: str, frame_size: int, *, realtime: bool = True,
                backoff: float = 0.5, max_backoff: float = 10.0,
                queue_frames: int = QUEUE_FRAMES, check: bool = True,
                fps: float | None = None, rate: float | None = None) -> Source:
    """The source a SOURCE argument names: a video file, a folder of videos, a webcam
    index (``0``) or a stream URL (``rtsp://``, ``http://``); ``NAME=SOURCE`` names it.

    Args:
        check: open a webcam or URL once now, so a wrong one fails up front.
        fps: the frame rate of files (see :class:`FileSource`); None: their own.
        rate: frames per second to score at most (:attr:`Source.rate`); None: every frame.
    Raises:
        ConfigError: a webcam or URL that cannot be opened (named, redacted).
        DatasetLayoutError, VideoReadError: a missing path, or one holding no video.
    """
    label, target = split_label(argument)
    name = label or target
    if "://" in target or target.isdigit():
        device: str | int = int(target) if target.isdigit() else target
        if check:
            capture = open_capture(device)
            if capture is None:
                kind = "webcam" if isinstance(device, int) else "stream"
                raise ConfigError(f"{redact(name)}: cannot open this {kind}")
            capture.release()
        return CaptureSource(name, device, frame_size, backoff=backoff,
                             max_backoff=max_backoff, queue_frames=queue_frames, rate=rate)
    path = Path(target)
    if not path.exists():
        raise DatasetLayoutError(f"{redact(name)}: no such file or folder, webcam index or URL")
    videos = list_videos(path)
    if check and path.suffix.lower() in VIDEO_SUFFIXES and read_header(path) is None:
        raise ConfigError(f"{redact(name)}: cannot open video (corrupt, or a codec OpenCV lacks)")
    return FileSource(label or (path.stem if path.is_file() else path.name), videos, frame_size,
                      realtime=realtime, queue_frames=queue_frames, fps=fps, rate=rate)
