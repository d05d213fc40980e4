"""Event clips of ``watch --clips``: an MP4 per event, from ``pre_seconds`` before its
start to ``post_seconds`` after its end, of the frames watch scored, at the model's frame
size (gray), or drawn with the heat map as the overlay video draws it.

Each source keeps a ring of its last :func:`ring_frames` scored frames, uint8 gray at the
model's size S: ``ring_frames(pre) * S * S`` bytes per source (5 s: 180 frames, 0.7 MB
at S = 64, 9.1 MB at S = 225), at most three times that with the overlay, which keeps
each frame's error map too (float16). A source faster than :data:`RING_FPS` gets a shorter
pre-roll. When an event starts, its clip opens with the ring's frames since ``start -
pre``; each further frame of the source goes to it until the first one past ``end +
post`` (and at least until the event's end is known: its ``release_frames`` quiet frames
later), a new video or connection, or :data:`GRACE` seconds past that time for a source
gone silent. One background thread encodes under a temporary name and links the file into
place when the clip closes, never over an earlier file: the name is known at the event's
start (and sent with both its records), the file appears after the post-roll.

Clips are H.264 MP4s, which browsers play (the page's ``<video>``), written by PyAV (the
``clips`` extra; its wheels bundle FFmpeg with libx264). Without PyAV or its H.264
encoder, OpenCV writes MPEG-4 Part 2 (``mp4v``) MP4s, which browsers do not play: one
warning says why (OpenCV's pip wheels lack an H.264 encoder).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from convlstm_ae.atomic import atomic_path
from convlstm_ae.data.video_io import read_header
from convlstm_ae.errors import ConfigError, VideoReadError
from convlstm_ae.rows import placed, put
from convlstm_ae.viz.overlay import CURVE_FRAMES, draw_overlay, upscale

log = logging.getLogger(__name__)
RING_FPS = 30  # frames a second the ring keeps for the pre-roll, at most
CONFIRM_SECONDS = 1.0  # ring beyond the pre-roll: the frames an event takes to start
QUEUED_FRAMES = 512  # frames the encoder may fall behind before the scorer waits
GRACE = 10.0  # seconds past its post-roll that a clip of a silent source waits
MAX_PRE_SECONDS = 60.0  # the ring's memory grows with it
MAX_POST_SECONDS = 3600.0
H264 = "libx264"  # PyAV's H.264 encoder: what browsers play
H264_OPTIONS = {"crf": "20", "preset": "veryfast"}  # near-lossless at model size, fast
FALLBACK_FOURCC = "mp4v"  # what OpenCV's pip wheels write into .mp4 (they lack avc1)
DEFAULT_FPS = 25.0  # a clip's frame rate when its frames' times tell none
_EPSILON = 1e-6  # seconds: frame times that are sums of 1/fps


@dataclass(frozen=True)
class ClipRules:
    """How much of a source an event's clip holds, and whether the heat map is drawn."""

    pre_seconds: float = 5.0
    post_seconds: float = 5.0
    overlay: bool = False

    def __post_init__(self) -> None:
        for flag, value, top in (("--pre-seconds", self.pre_seconds, MAX_PRE_SECONDS),
                                 ("--post-seconds", self.post_seconds, MAX_POST_SECONDS)):
            if not 0 <= value <= top:
                raise ConfigError(f"{flag} must lie in [0, {top:g}] seconds, got {value:g}")

    def ring_bytes(self, frame_size: int) -> int:
        """Memory of one source's ring: frames, and error maps for the overlay (S x S at
        most: the located score's maps are coarser)."""
        return ring_frames(self.pre_seconds) * frame_size**2 * (3 if self.overlay else 1)


@dataclass(frozen=True)
class HeatStyle:
    """What the overlay of :mod:`convlstm_ae.viz.overlay` needs besides the frame."""

    limit: float
    patch_size: int


def ring_frames(pre_seconds: float) -> int:
    """Frames each source's ring holds: the pre-roll and the frames an event takes to
    start, at :data:`RING_FPS`."""
    return math.ceil((pre_seconds + CONFIRM_SECONDS) * RING_FPS)


def h264_missing() -> str | None:
    """Why clips cannot be H.264 here (PyAV or its libx264 encoder missing); None if
    they can."""
    try:
        import av
    except ImportError:
        return "PyAV is not installed (pip install 'convlstm-ae[clips]')"
    if H264 not in av.codecs_available:
        return f"PyAV {av.__version__} has no {H264} encoder"
    return None


@dataclass
class _Clip:
    key: int
    end_time: float | None = None  # the event's, once ended
    deadline: float = math.inf  # monotonic: closed then, frames or not


class Clips:
    """The rings of B streams and their open clips; :meth:`add` each step's frames,
    :meth:`start` and :meth:`end` each event, :meth:`cut` at a new video, :meth:`close`
    at the end. A write that fails (a full disk) stops the encoder and is raised by the
    next call.

    Args:
        labels: each stream's camera label (drawn on the overlay).
        frame_size: the models' frame size S.
        heat: each stream's overlay scale (its model's); None: gray frames
            (``rules.overlay`` off).
    """

    def __init__(self, labels: Sequence[str], frame_size: int, rules: ClipRules,
                 heat: Sequence[HeatStyle] | None = None) -> None:
        streams, size = len(labels), ring_frames(rules.pre_seconds)
        self.labels, self.rules = list(labels), rules
        self.heat = None if heat is None else list(heat)
        self._frames = np.zeros((streams, size, frame_size, frame_size), np.uint8)
        # each stream's error maps, on its first map's shape (its model's)
        self._maps: list[np.ndarray | None] = [None] * streams
        self._times = np.full((streams, size), np.nan)
        self._scores = np.zeros((streams, size), np.float32)
        self._alarms = np.zeros((streams, size), bool)
        self._next = np.zeros(streams, np.int64)  # slot of each ring's next frame
        self._open: list[list[_Clip]] = [[] for _ in range(streams)]
        self._opened = np.zeros(streams, np.int64)  # open clips per stream
        self._keys = 0
        missing = h264_missing()
        if missing:
            log.warning("event clips are %s MP4s, which browsers do not play: %s",
                        FALLBACK_FOURCC, missing)
        self._encoder = _Encoder(h264=missing is None)

    def add_stream(self, stream: int, label: str, heat: HeatStyle | None) -> None:
        """A new source at ``stream`` (one more, after the others, or a removed one's,
        its clips cut), with an empty ring; ``heat``: its overlay scale (None without
        ``rules.overlay``)."""
        put(self.labels, stream, label)
        if self.heat is not None:
            put(self.heat, stream, heat)
        put(self._maps, stream, None)
        for name, empty in (("_frames", 0), ("_times", np.nan), ("_scores", 0),
                            ("_alarms", False), ("_next", 0)):
            setattr(self, name, placed(getattr(self, name), stream, empty))
        put(self._open, stream, [])
        self._opened = placed(self._opened, stream, 0)

    def add(self, rows: np.ndarray, frames: np.ndarray, times: np.ndarray, scores: np.ndarray,
            alarms: np.ndarray, maps: Sequence[np.ndarray] | None = None) -> None:
        """One step's frames (k, S, S) of the streams ``rows``, their times, scores,
        whether an event is under way, and their error maps (k of them, for the
        overlay)."""
        self._encoder.check()
        slots = self._next[rows] % self._times.shape[1]
        self._frames[rows, slots] = frames
        self._times[rows, slots], self._scores[rows, slots] = times, scores
        self._alarms[rows, slots] = alarms
        if self.heat is not None:
            for stream, slot, error_map in zip(rows.tolist(), slots.tolist(), maps, strict=True):
                if self._maps[stream] is None:
                    self._maps[stream] = np.zeros((self._times.shape[1], *error_map.shape),
                                                  np.float16)
                self._maps[stream][slot] = error_map
        self._next[rows] += 1
        now = time.monotonic()
        for k in np.flatnonzero(self._opened[rows]).tolist():  # the streams with clips only
            stream = int(rows[k])
            for clip in list(self._open[stream]):
                past = clip.end_time is not None and (
                    times[k] > clip.end_time + self.rules.post_seconds + _EPSILON)
                if past:
                    self._close(stream, clip)
                else:
                    self._send(clip, stream, int(slots[k]))
        for stream in np.flatnonzero(self._opened).tolist():
            for clip in [c for c in self._open[stream] if c.deadline < now]:
                self._close(stream, clip)

    def start(self, stream: int, path: Path, start_time: float, threshold: float,
              mask: np.ndarray | None = None) -> None:
        """Open a clip at ``path`` for the event of ``stream`` that started at
        ``start_time``, with the ring's frames since ``start_time - pre_seconds``; its
        overlay draws the stream's ``threshold`` and hatches its ``mask`` (ignored cells)."""
        self._encoder.check()
        size = self._times.shape[1]
        order = (self._next[stream] + np.arange(size)) % size  # oldest first
        times = self._times[stream, order]
        kept = order[times >= start_time - self.rules.pre_seconds - _EPSILON]
        self._keys += 1
        clip = _Clip(self._keys)
        self._open[stream].append(clip)
        self._opened[stream] += 1
        self._encoder.put(("open", clip.key, path, _frame_rate(times), self.labels[stream],
                           threshold, mask, None if self.heat is None else self.heat[stream]))
        for slot in kept.tolist():
            self._send(clip, stream, slot)

    def end(self, stream: int, end_time: float) -> None:
        """The event of ``stream``'s newest clip ended at ``end_time``: the post-roll runs."""
        clips = [c for c in self._open[stream] if c.end_time is None]
        if clips:
            clips[-1].end_time = end_time
            clips[-1].deadline = time.monotonic() + self.rules.post_seconds + GRACE

    def cut(self, rows: np.ndarray) -> None:
        """Close the clips of ``rows`` and empty their rings: their video or connection
        has changed (and their frame times start again)."""
        self._times[rows] = np.nan
        for stream in rows.tolist():
            for clip in list(self._open[stream]):
                self._close(stream, clip)

    def close(self) -> None:
        """Close every clip, write what is queued, stop; raise a failed write."""
        self.cut(np.arange(len(self._open)))
        self._encoder.close()

    def _send(self, clip: _Clip, stream: int, slot: int) -> None:
        maps = self._maps[stream]
        error_map = None if maps is None else maps[slot].copy()
        self._encoder.put(("frame", clip.key, self._frames[stream, slot].copy(),
                           float(self._times[stream, slot]), float(self._scores[stream, slot]),
                           bool(self._alarms[stream, slot]), error_map))

    def _close(self, stream: int, clip: _Clip) -> None:
        self._open[stream].remove(clip)
        self._opened[stream] -= 1
        self._encoder.put(("close", clip.key))


def _frame_rate(times: np.ndarray) -> float:
    """Frames per second of a ring's frame times (NaN: empty slots)."""
    times = times[np.isfinite(times)]
    span = times.max() - times.min() if times.size > 1 else 0.0
    return (times.size - 1) / span if span > 0 else DEFAULT_FPS


@dataclass
class _Writing:
    path: Path
    fps: float
    label: str
    threshold: float
    mask: np.ndarray | None
    heat: HeatStyle | None  # None: gray frames
    files: ExitStack = field(default_factory=ExitStack)
    temporary: Path | None = None
    video: _H264Writer | cv2.VideoWriter | None = None
    frames: int = 0  # written
    scores: deque = field(default_factory=lambda: deque(maxlen=CURVE_FRAMES))


class _Encoder:
    """The thread writing the clips: ``open``, ``frame`` and ``close`` items in order."""

    def __init__(self, h264: bool) -> None:
        self.h264 = h264
        self.error: BaseException | None = None
        self._work: queue.Queue[tuple | None] = queue.Queue(maxsize=QUEUED_FRAMES)
        self._clips: dict[int, _Writing] = {}
        self._thread = threading.Thread(target=self._run, name="clip encoder", daemon=True)
        self._thread.start()

    def put(self, item: tuple) -> None:
        self._work.put(item)

    def check(self) -> None:
        """Raise the encoder's failure, once."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def close(self) -> None:
        if self._thread.is_alive():
            self._work.put(None)
            self._thread.join()
        self.check()

    def _run(self) -> None:
        try:
            while (item := self._work.get()) is not None:
                getattr(self, f"_{item[0]}")(*item[1:])
        except Exception as error:  # handed to the scorer's thread, which raises it
            self.error = error
            for clip in self._clips.values():
                with suppress(VideoReadError):  # the first failure is the one told
                    _release(clip)
                clip.files.__exit__(type(error), error, None)  # the temporaries go
            while self._work.get() is not None:  # let the scorer finish; it raises then
                pass

    def _open(self, key: int, path: Path, fps: float, label: str, threshold: float,
              mask: np.ndarray | None, heat: HeatStyle | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        clip = self._clips[key] = _Writing(path, fps, label, threshold, mask, heat)
        clip.temporary = clip.files.enter_context(
            atomic_path(path, keep_suffix=True, replace=False))

    def _frame(self, key: int, image: np.ndarray, seconds: float, score: float, alarm: bool,
               error_map: np.ndarray | None) -> None:
        clip = self._clips[key]
        clip.scores.append(score)
        if clip.heat is not None:
            image = draw_overlay(upscale(image), error_map.astype(np.float32),
                                 limit=clip.heat.limit, patch_size=clip.heat.patch_size,
                                 scores=clip.scores, threshold=clip.threshold,
                                 alarm=alarm, label=f"{clip.label} {seconds:.1f}s",
                                 mask=clip.mask)
        if clip.video is None:
            clip.video = self._video(clip, image)
        clip.video.write(image)
        clip.frames += 1

    def _video(self, clip: _Writing, image: np.ndarray) -> _H264Writer | cv2.VideoWriter:
        """The writer of ``clip``, whose first frame is ``image``."""
        height, width = image.shape[:2]
        if self.h264:
            return _H264Writer(clip.temporary, clip.path, clip.fps, width, height)
        video = cv2.VideoWriter(str(clip.temporary), cv2.VideoWriter_fourcc(*FALLBACK_FOURCC),
                                clip.fps, (width, height), image.ndim == 3)
        if not video.isOpened():
            raise VideoReadError(
                f"{clip.path}: OpenCV cannot write an {FALLBACK_FOURCC} clip here")
        return video

    def _close(self, key: int) -> None:
        clip = self._clips.pop(key)
        try:
            _release(clip)
            header = read_header(clip.temporary)  # OpenCV's writer fails silently
            if header is None or header.num_frames != clip.frames:
                raise VideoReadError(f"{clip.path}: the clip could not be written (disk full?)")
        except Exception as error:
            clip.files.__exit__(type(error), error, None)  # the temporary goes
            raise
        clip.files.close()  # renamed into place


class _H264Writer:
    """An H.264 MP4 (yuv420p, its index first so that a browser plays it as it loads),
    written frame by frame as by OpenCV's ``VideoWriter``; an odd side gets one more row
    or column, a copy of the last. A failed write raises :class:`VideoReadError`."""

    def __init__(self, temporary: Path, path: Path, fps: float, width: int, height: int
                 ) -> None:
        import av

        self._av, self._path = av, path
        self._pad = ((0, height % 2), (0, width % 2))
        with self._failing():
            self._box = av.open(str(temporary), "w", format="mp4",
                                options={"movflags": "+faststart"})
            self._stream = self._box.add_stream(
                H264, rate=Fraction(fps).limit_denominator(1001), options=H264_OPTIONS)
            self._stream.width, self._stream.height = width + width % 2, height + height % 2
            self._stream.pix_fmt = "yuv420p"

    def write(self, image: np.ndarray) -> None:
        """Append one frame, gray (H, W) or BGR (H, W, 3)."""
        image = np.pad(image, self._pad + ((0, 0),) * (image.ndim - 2), mode="edge")
        frame = self._av.VideoFrame.from_ndarray(
            image, format="bgr24" if image.ndim == 3 else "gray")
        with self._failing():
            self._box.mux(self._stream.encode(frame))

    def release(self) -> None:
        """Flush the encoder and finish the file."""
        with self._failing():
            try:
                self._box.mux(self._stream.encode(None))
            finally:
                self._box.close()

    @contextmanager
    def _failing(self) -> Iterator[None]:
        try:
            yield
        except (self._av.FFmpegError, OSError) as error:
            raise VideoReadError(f"{self._path}: the clip could not be written ({error})"
                                 ) from error


def _release(clip: _Writing) -> None:
    video, clip.video = clip.video, None
    if video is not None:
        video.release()
