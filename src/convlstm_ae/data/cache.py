"""A disk cache of decoded frames: each video decoded once, then memory-mapped.

Decoding JPEG folders or compressed videos dominates a training step's data time, so
:func:`cached_frames` decodes a video once through :func:`video_io.read_frames`
(grayscale, resized to the preset's frame size) and stores the frames as a uint8
``.npy`` file, which later calls memory-map. The file name is :func:`cache_key`, a hash
of the source's path and file statistics, the frame size and the slice, so changing the
source (editing, touching, adding or removing a frame) leads to a fresh decode::

    ~/.cache/convlstm-ae/    (config.default_cache_dir)
      3f2c...e1.npy      (N, S, S) uint8, frames [start, stop) of one video

Not in the paper: an engineering aid for training speed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convlstm_ae.atomic import atomic_path
from convlstm_ae.data import video_io
from convlstm_ae.errors import ConfigError, VideoReadError
from convlstm_ae.progress import bar as progress_bar

# Part of every key: bump it when read_frames changes its output, to retire old entries.
CACHE_FORMAT = "convlstm-ae frames v2"


def _source_stats(source: Path) -> tuple[int, ...]:
    """File: (size, mtime_ns). Frame folder: (number of images, their total size, their
    newest mtime_ns, the folder's own mtime_ns, which changes on a rename)."""
    if source.is_dir():
        stats = [f.stat() for f in video_io.image_files(source)]
        newest = max((s.st_mtime_ns for s in stats), default=0)
        return len(stats), sum(s.st_size for s in stats), newest, source.stat().st_mtime_ns
    stat = source.stat()
    return stat.st_size, stat.st_mtime_ns


def cache_key(source: Path, frame_size: int, start: int = 0, stop: int | None = None) -> str:
    """SHA-1 naming the cached frames [start, stop) of ``source`` at ``frame_size``.

    Args:
        source: a video file, ``.npy`` frame array or folder of images.
        frame_size: side of the square frames.
        start: first frame of the slice.
        stop: one past its last frame; ``None`` runs to the end of the video.
    Returns:
        40 hex digits; any change of the source's path, size or modification times, of
        the frame size or of the slice gives another key.
    """
    source = Path(source).resolve()
    fields = (CACHE_FORMAT, str(source), _source_stats(source), frame_size, start, stop)
    return hashlib.sha1(repr(fields).encode()).hexdigest()


def _check_slice(source: Path, start: int, stop: int | None) -> None:
    if start < 0 or (stop is not None and stop <= start):
        raise ConfigError(f"{source}: frame slice [{start}, {stop}) is empty or negative; "
                          f"expected 0 <= start < stop")


def _cache_path(
    source: Path, frame_size: int, cache_dir: Path, start: int, stop: int | None
) -> Path:
    if not source.exists():
        raise video_io.missing(source)
    return cache_dir / f"{cache_key(source, frame_size, start, stop)}.npy"


def _decode(source: Path, frame_size: int, path: Path, start: int, stop: int | None) -> int:
    """Decode frames [start, stop) of ``source`` into ``path``; returns their number.

    The frames go to a temporary file in the same folder, renamed into place once
    complete, so an interrupted run never leaves a partial file under the final name
    (a killed one may leave a ``.tmp`` file, which is never read).
    """
    frames = video_io.read_frames(source, frame_size)
    if stop is not None and stop > len(frames):
        raise VideoReadError(f"{source}: frame slice stops at {stop} but the video has "
                             f"{len(frames)} frames")
    if start >= len(frames):
        raise VideoReadError(f"{source}: frame slice starts at {start} but the video has "
                             f"{len(frames)} frames")
    frames = np.ascontiguousarray(frames[start:stop])
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary, open(temporary, "xb") as file:
        np.save(file, frames)
    return len(frames)


def _open(path: Path, source: Path) -> np.memmap:
    try:
        return np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        raise VideoReadError(f"{path}: cached frames of {source} cannot be read (removed or "
                             f"corrupt since caching); delete the file to decode again") from None


def cached_frames(
    source: str | Path,
    frame_size: int,
    cache_dir: str | Path,
    *,
    start: int = 0,
    stop: int | None = None,
) -> np.ndarray:
    """Frames [start, stop) of one video, decoded on the first call and cached.

    Args:
        source: a video file, ``.npy`` frame array or folder of images, as
            :func:`video_io.read_frames` takes.
        frame_size: side of the square frames.
        cache_dir: folder of the cache files, created if missing.
        start: first frame of the slice.
        stop: one past its last frame; ``None`` runs to the end of the video.
    Returns:
        (N, S, S) uint8, a read-only memory map of the cache file.
    Raises:
        VideoReadError: undecodable source, or a slice past the end of the video.
        ConfigError: an empty or negative slice.
        DatasetLayoutError: the source does not exist.
    """
    source = Path(source)
    _check_slice(source, start, stop)
    path = _cache_path(source, frame_size, Path(cache_dir), start, stop)
    if not path.exists():
        _decode(source, frame_size, path, start, stop)
    return _open(path, source)


class CachedVideos:
    """A ``FrameSource`` over videos, each decoded once into the cache.

    All caches are built in ``__init__``. The object pickles as paths and frame
    counts: each process (e.g. a DataLoader worker) maps the cache files on first use.

    Args:
        sources: video paths, or ``(path, start, stop)`` triples taking frames
            [start, stop) of a video (``stop=None``: to its end).
        frame_size: side of the square frames.
        cache_dir: folder of the cache files, created if missing.
        progress: report decoded frames while building (see :mod:`convlstm_ae.progress`).
    """

    def __init__(
        self,
        sources: Sequence[tuple[Path, int, int | None]] | Sequence[Path],
        frame_size: int,
        cache_dir: str | Path,
        *,
        progress: bool = True,
    ) -> None:
        self.sources: list[tuple[Path, int, int | None]] = [
            (Path(s[0]), s[1], s[2]) if isinstance(s, tuple) else (Path(s), 0, None)
            for s in sources
        ]
        self.frame_size = frame_size
        self.cache_dir = Path(cache_dir)
        for source, start, stop in self.sources:
            _check_slice(source, start, stop)
        self.paths = [
            _cache_path(source, frame_size, self.cache_dir, start, stop)
            for source, start, stop in self.sources
        ]
        missing = [v for v, path in enumerate(self.paths) if not path.exists()]
        with progress_bar(unit="frame", desc="caching frames", leave=False,
                          disable=not (progress and missing)) as bar:
            for v in missing:
                source, start, stop = self.sources[v]
                bar.set_postfix_str(source.name)
                bar.update(_decode(source, frame_size, self.paths[v], start, stop))
        self._videos: list[np.memmap | None] = [None] * len(self.paths)
        self._num_frames = [len(self.video(v)) for v in range(len(self.paths))]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_videos"] = [None] * len(self.paths)  # re-mapped lazily in the new process
        return state

    def __len__(self) -> int:
        return len(self.paths)

    def num_frames(self, video: int) -> int:
        """Number of cached frames of video ``video``."""
        return self._num_frames[video]

    def name(self, video: int) -> str:
        """The name of video ``video``: its file's stem, or its frame folder's name."""
        source = self.sources[video][0]
        return source.stem if source.is_file() else source.name

    def video(self, index: int) -> np.ndarray:
        """All cached frames of video ``index``: (N, S, S) uint8, read-only memory map."""
        mapped = self._videos[index]
        if mapped is None:
            mapped = self._videos[index] = _open(self.paths[index], self.sources[index][0])
        return mapped

    def frames(self, video: int, indices: np.ndarray) -> np.ndarray:
        """Frames ``indices`` of video ``video``: (T, S, S) uint8, a copy in memory."""
        return np.asarray(self.video(video)[np.asarray(indices, dtype=np.intp)])
