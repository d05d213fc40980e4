"""Frame sources of ``convlstm-ae watch``: video files, folders of videos, webcams, stream
URLs and Python iterables, each grabbed in its own thread into a bounded queue.

Frames are converted to gray and resized to the model's frame size as they are grabbed.
Live sources (webcams, URLs, files played in real time) drop their OLDEST queued frame
when scoring falls behind, and count it; files played with ``realtime=False`` wait for
the scorer instead, so every frame is scored. A webcam or URL that drops is reopened
with bounded exponential backoff; its first frame after that starts a new memory.
Source names are shown only through :func:`redact`, which hides URL credentials.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convlstm_ae.data.layouts import DEFAULT_FPS, frame_rate
from convlstm_ae.data.video_io import (
    VIDEO_SUFFIXES,
    Capture,
    list_videos,
    model_frame,
    open_capture,
    read_frames,
    read_header,
    video_frames,
)
from convlstm_ae.errors import ConfigError, ConvLSTMAEError, DatasetLayoutError

log = logging.getLogger(__name__)
QUEUE_FRAMES = 8
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


@dataclass(frozen=True)
class Frame:
    """One grabbed frame, ready for the engine."""

    image: np.ndarray  # (S, S) uint8 gray at the model's frame size
    index: int  # frame number in its video, or since the (re)connection
    time: float  # seconds into the video file, or wall-clock (Unix) time of live frames
    grabbed: float  # time.monotonic() when it was grabbed, for the latency
    video: str  # the file's name, or the source's for live sources
    reset: bool  # first frame of a video or connection: the memory starts afresh


class FrameQueue:
    """A bounded frame queue: drops the oldest frame when full (``drop_oldest``), else
    makes the producer wait. A dropped frame's ``reset`` passes to the next one."""

    def __init__(self, size: int = QUEUE_FRAMES, drop_oldest: bool = True) -> None:
        self._frames: deque[Frame] = deque()
        self._size = size
        self._drop_oldest = drop_oldest
        self._space = threading.Condition()
        self.drops = 0

    def put(self, frame: Frame, stop: threading.Event) -> None:
        """Queue ``frame``; waits for space unless dropping (or until ``stop`` is set)."""
        with self._space:
            while not self._drop_oldest and len(self._frames) >= self._size:
                if stop.is_set():
                    return
                self._space.wait(0.05)
            if len(self._frames) >= self._size:
                dropped = self._frames.popleft()
                self.drops += 1
                if dropped.reset and self._frames:
                    self._frames[0] = _with_reset(self._frames[0])
                elif dropped.reset:
                    frame = _with_reset(frame)
            self._frames.append(frame)

    def get(self) -> Frame | None:
        """The oldest queued frame, or None if none is queued."""
        with self._space:
            if not self._frames:
                return None
            frame = self._frames.popleft()
            self._space.notify()
            return frame

    def __len__(self) -> int:
        return len(self._frames)


def _with_reset(frame: Frame) -> Frame:
    return Frame(frame.image, frame.index, frame.time, frame.grabbed, frame.video, True)


class Source:
    """A frame source grabbed in its own thread (:meth:`start`); the scorer takes frames
    with :meth:`get`. Subclasses yield decoded frames from :meth:`_decoded`.

    Attributes:
        name: what the user gave, redacted: safe to print and write.
        live: frames arrive at the source's pace (not the scorer's); a gap means a lost
            connection, not a slow decoder.
        connected: False while a live source is reconnecting.
        reconnects: how often a live source was reopened.
    """

    live = False

    def __init__(self, name: str, frame_size: int, *, drop_oldest: bool = True,
                 queue_frames: int = QUEUE_FRAMES) -> None:
        self.name = redact(name)
        self.frame_size = frame_size
        self.queue = FrameQueue(queue_frames, drop_oldest)
        self.connected = True
        self.reconnects = 0
        self.grabbed = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"source {self.name}", daemon=True)
        self._wake: threading.Event | None = None

    @property
    def drops(self) -> int:
        """Frames dropped because the scorer fell behind."""
        return self.queue.drops

    def start(self, wake: threading.Event | None = None) -> None:
        """Start grabbing; ``wake`` is set whenever a frame is queued."""
        self._wake = wake
        self._thread.start()

    def stop(self) -> None:
        """Stop grabbing and wait (briefly) for the thread to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def get(self) -> Frame | None:
        """The oldest queued frame, or None."""
        return self.queue.get()

    @property
    def finished(self) -> bool:
        """No frame will come any more: the thread ended and the queue is empty."""
        return self._thread.ident is not None and not self._thread.is_alive() \
            and not len(self.queue)

    def _run(self) -> None:
        try:
            for frame in self._decoded():
                if self._stop.is_set():
                    return
                self.grabbed += 1
                self.queue.put(frame, self._stop)
                if self._wake is not None:
                    self._wake.set()
        except ConvLSTMAEError as error:
            self.error = redact(str(error))
            log.warning("%s: %s", self.name, self.error)
        finally:
            if self._wake is not None:
                self._wake.set()

    def _frame(self, image: np.ndarray, index: int, seconds: float, video: str,
               reset: bool) -> Frame:
        return Frame(model_frame(image, self.frame_size), index, seconds, time.monotonic(),
                     video, reset)

    def _decoded(self) -> Iterator[Frame]:
        raise NotImplementedError

    def _pace(self, start: float, seconds: float) -> None:
        """Wait until ``seconds`` after ``start`` (monotonic), or until stopped."""
        delay = start + seconds - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)


class FileSource(Source):
    """Video files (or frame folders, ``.npy`` arrays) played one after another, each
    from a fresh memory; at their frame rate when ``realtime``, else as fast as the
    scorer takes them (no frame dropped). Frame times count at the same rate: ``fps``
    if given, else the video's own (its header, or its dataset layout for a frame
    folder, see :func:`frame_rate`), else :data:`DEFAULT_FPS`."""

    def __init__(self, name: str, videos: list[Path], frame_size: int, *,
                 realtime: bool = True, queue_frames: int = QUEUE_FRAMES,
                 fps: float | None = None) -> None:
        super().__init__(name, frame_size, drop_oldest=realtime, queue_frames=queue_frames)
        self.videos = videos
        self.realtime = realtime
        self.fps = fps

    def _decoded(self) -> Iterator[Frame]:
        for video in self.videos:
            header = read_header(video) if video.is_file() else None
            fps = self.fps or frame_rate(video) or DEFAULT_FPS
            if video.is_file() and header is not None:
                images: Iterable[np.ndarray] = video_frames(video)
            else:
                images = read_frames(video, self.frame_size)
            start = time.monotonic()
            for index, image in enumerate(images):
                if self.realtime:
                    self._pace(start, index / fps)
                yield self._frame(image, index, index / fps, video.name, index == 0)
                if self._stop.is_set():
                    return


class CaptureSource(Source):
    """A webcam or stream URL; reopened after a drop, waiting ``backoff`` seconds first,
    doubling up to ``max_backoff``, back to ``backoff`` once frames flow again."""

    live = True

    def __init__(self, name: str, target: str | int, frame_size: int, *,
                 backoff: float = 0.5, max_backoff: float = 10.0,
                 opener: Callable[[str | int], Capture | None] = open_capture,
                 queue_frames: int = QUEUE_FRAMES) -> None:
        super().__init__(name, frame_size, queue_frames=queue_frames)
        self.target = target
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._open = opener

    def _decoded(self) -> Iterator[Frame]:
        delay = self.backoff
        while not self._stop.is_set():
            capture = self._open(self.target)
            if capture is not None:
                try:
                    index = 0
                    while not self._stop.is_set() and (image := capture.read()) is not None:
                        self.connected = True
                        delay = self.backoff
                        yield self._frame(image, index, time.time(), self.name, index == 0)
                        index += 1
                finally:
                    capture.release()
            if self._stop.is_set():
                return
            self.connected = False
            log.warning("%s: %s; reconnecting in %.3g s", self.name,
                        "stream lost" if capture is not None else "cannot open", delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self.max_backoff)
            self.reconnects += 1


class IterableSource(Source):
    """Frames (gray or BGR uint8, any size) from a Python iterable: tests, or a stand-in
    for a webcam. With ``fps`` they come at that rate and may be dropped; without, they
    wait for the scorer."""

    def __init__(self, name: str, frames: Iterable[np.ndarray], frame_size: int, *,
                 fps: float | None = None, queue_frames: int = QUEUE_FRAMES) -> None:
        super().__init__(name, frame_size, drop_oldest=fps is not None,
                         queue_frames=queue_frames)
        self.frames = frames
        self.fps = fps

    def _decoded(self) -> Iterator[Frame]:
        start = time.monotonic()
        for index, image in enumerate(self.frames):
            if self.fps:
                self._pace(start, index / self.fps)
            yield self._frame(image, index, index / (self.fps or DEFAULT_FPS), self.name,
                              index == 0)


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
                fps: float | None = None) -> Source:
    """The source a SOURCE argument names: a video file, a folder of videos, a webcam
    index (``0``) or a stream URL (``rtsp://``, ``http://``); ``NAME=SOURCE`` names it.

    Args:
        check: open a webcam or URL once now, so a wrong one fails up front.
        fps: the frame rate of files (see :class:`FileSource`); None: their own.
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
                             max_backoff=max_backoff, queue_frames=queue_frames)
    path = Path(target)
    if not path.exists():
        raise DatasetLayoutError(f"{redact(name)}: no such file or folder, webcam index or URL")
    videos = list_videos(path)
    if check and path.suffix.lower() in VIDEO_SUFFIXES and read_header(path) is None:
        raise ConfigError(f"{redact(name)}: cannot open video (corrupt, or a codec OpenCV lacks)")
    return FileSource(label or (path.stem if path.is_file() else path.name), videos, frame_size,
                      realtime=realtime, queue_frames=queue_frames, fps=fps)
