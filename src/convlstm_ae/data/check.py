"""``convlstm-ae data check PATH``: parse a dataset, decode every frame, report problems.

Problems found: corrupt, truncated or empty videos and images, folders without
frames, frames of mixed size within a video, unreadable label files, label counts
that differ from a video's frame count, and test videos without labels.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convlstm_ae.config import ModelConfig
from convlstm_ae.data.layouts import scan_dataset
from convlstm_ae.data.records import Dataset, VideoRecord
from convlstm_ae.data.video_io import (
    decode_image,
    image_files,
    read_header,
    read_image,
    size_mismatch,
    video_frames,
)
from convlstm_ae.errors import DatasetLayoutError
from convlstm_ae.progress import bar as progress_bar

JPEG_SUFFIXES = {".jpg", ".jpeg"}


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_dataset` found.

    Attributes:
        dataset: the parsed dataset; None when the folder could not be parsed.
        summary: lines on layout, label convention, videos and frames per split,
            resolutions and label coverage.
        problems: one line each, ``"<path>: <problem>"``; empty for a clean dataset.
    """

    dataset: Dataset | None
    summary: list[str]
    problems: list[str]


@dataclass
class _Source:
    """One video file or frame folder, decoded (or, without decoding, counted)."""

    frames: int = 0
    size: tuple[int, int] | None = None  # (W, H) of the first frame
    problems: list[str] = field(default_factory=list)


def check_dataset(
    root: str | Path,
    *,
    layout: str | None = None,
    labels: str | Path | None = None,
    decode: bool = True,
    clip_length: int = ModelConfig.clip_length,
) -> CheckReport:
    """Parse the dataset at ``root`` and decode every frame of every video.

    Args:
        root: the dataset folder.
        layout: a layout name (see ``layouts.LAYOUTS``); None detects it.
        labels: a label file or folder to use instead of the layout's.
        decode: decode every frame (reporting progress); False counts image files and
            reads video headers only, so corrupt frames go unnoticed.
        clip_length: T; the summary counts the videos shorter than this.
    Returns:
        The report; ``report.problems`` is empty for a clean dataset.
    Raises:
        ConfigError: an unknown layout name.
    """
    try:
        dataset, problems = scan_dataset(root, layout=layout, labels=labels)
    except DatasetLayoutError as error:
        return CheckReport(None, [], [str(error)])
    label_file_failed = bool(problems) and all(r.labels is None for r in dataset.test)
    paths = list(dict.fromkeys(r.source for r in dataset.train + dataset.test))
    sources = _decode_all(paths) if decode else {p: _count(p) for p in paths}
    for path in paths:
        problems += sources[path].problems
        if sources[path].frames == 1:
            problems.append(f"{path}: a single frame; a video needs at least 2 (Eq. 3 and "
                            "every training clip compare a frame with the one before)")
    if labels is not None and not dataset.test:
        problems.append(f"{labels}: labels given, but the {dataset.layout} layout has no test "
                        "videos to label")
    for record in dataset.test:
        frames = _frames_used(record, sources[record.source].frames)
        if record.labels is None:
            if not label_file_failed:  # else the label file's problem says it all
                problems.append(f"{record.source}: test video without labels")
        elif record.source.is_file() and frames and len(record.labels) != frames:
            # frame folders were compared to their image counts by scan_dataset
            problems.append(f"{record.source}: {len(record.labels)} labels but {frames} frames")
    summary = _summary(dataset, sources)
    short = [p for p in paths if 1 < sources[p].frames < clip_length]
    if short:
        summary.append(f"short videos: {len(short)} of fewer than T = {clip_length} frames "
                       f"(no training clip fits them), e.g. {short[0]}")
    return CheckReport(dataset, summary, problems)


def _frames_used(record: VideoRecord, frames: int) -> int:
    stop = frames if record.stop is None else min(record.stop, frames)
    return max(stop - record.start, 0)


def _summary(dataset: Dataset, sources: dict[Path, _Source]) -> list[str]:
    t_prime = "whole video" if dataset.t_prime is None else dataset.t_prime
    lines = [
        f"layout: {dataset.layout} ({dataset.root})",
        f"labels: {dataset.label_convention}",
        f"fps: {dataset.fps:g}; T': {t_prime}",
    ]
    for split, records in (("train", dataset.train), ("test", dataset.test)):
        frames = sum(_frames_used(r, sources[r.source].frames) for r in records)
        minutes = frames / dataset.fps / 60
        lines.append(f"{split}: {len(records)} videos, {frames:,} frames ({minutes:.1f} min)")
    sizes = Counter(s.size for s in sources.values() if s.size is not None)
    shown = ", ".join(f"{w}x{h} ({n} videos)" for (w, h), n in sizes.most_common())
    lines.append(f"resolution: {shown or 'none readable'}")
    labelled = [r.labels for r in dataset.test if r.labels is not None]
    if dataset.test:
        abnormal = sum(int(y.sum()) for y in labelled)
        total = sum(len(y) for y in labelled)
        share = f" ({100 * abnormal / total:.1f}%)" if total else ""
        lines.append(f"label coverage: {len(labelled)}/{len(dataset.test)} test videos labelled; "
                     f"{abnormal:,}/{total:,} abnormal frames{share}")
    return lines


def _count(path: Path) -> _Source:
    """Frame count and size without decoding: image files, or the video header."""
    if path.is_dir():
        files = image_files(path)
        if not files:
            return _Source(problems=[f"{path}: folder holds no image frames"])
        image = read_image(files[0], gray=True)
        size = None if image is None else (image.shape[1], image.shape[0])
        return _Source(len(files), size)
    header = read_header(path)
    if header is None:
        return _Source(problems=[f"{path}: cannot open video (empty, corrupt, or a codec "
                                 "OpenCV lacks)"])
    return _Source(header.num_frames or 0, header.size)


def _decode_all(paths: list[Path]) -> dict[Path, _Source]:
    """Decode every frame of ``paths``, reporting progress (frames/s)."""
    total = sum(_count(p).frames for p in paths)
    with (
        progress_bar(total=total, unit="frame", unit_scale=True, desc="decoding") as bar,
        ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool,
    ):
        return {p: _decode_folder(p, pool, bar) if p.is_dir() else _decode_video(p, bar)
                for p in paths}


def _size_problem(path: Path, index: int, size: tuple[int, int],
                  first: tuple[int, int]) -> str:
    return (f"{path}: frame {index} is {size[0]}x{size[1]} but the video's first frame is "
            f"{first[0]}x{first[1]}; frames of one video must share a size")


def _decode_folder(folder: Path, pool: ThreadPoolExecutor, bar: Any) -> _Source:
    files = image_files(folder)
    if not files:
        return _Source(problems=[f"{folder}: folder holds no image frames"])
    source = _Source(len(files))
    bad, mixed, first = [], [], files[0]
    for file, result in zip(files, pool.map(_decode_image, files), strict=True):
        bar.update()
        if isinstance(result, str):
            bad.append(result)
        elif source.size is None:
            source.size, first = result, file
        elif result != source.size:
            mixed.append(size_mismatch(file, result, first, source.size))
    for found in (bad, mixed):
        if found:
            more = f" (and {len(found) - 1} more in this folder)" if len(found) > 1 else ""
            source.problems.append(found[0] + more)
    return source


def _decode_image(file: Path) -> tuple[int, int] | str:
    """(W, H) of a fully decoded image, or a one-line problem."""
    try:
        data = np.fromfile(file, np.uint8)
    except OSError as error:
        return f"{file}: cannot read ({error.strerror})"
    if data.size == 0:
        return f"{file}: empty file (0 bytes)"
    image = decode_image(data)
    if image is None:
        return f"{file}: cannot decode image (corrupt or not an image)"
    if file.suffix.lower() in JPEG_SUFFIXES and not _ends_jpeg(data):
        return f"{file}: truncated JPEG (no end-of-image marker)"
    return image.shape[1], image.shape[0]


def _ends_jpeg(data: np.ndarray) -> bool:
    return data[-64:].tobytes().rstrip(b"\x00\r\n ").endswith(b"\xff\xd9")


def _decode_video(path: Path, bar: Any) -> _Source:
    if path.stat().st_size == 0:
        return _Source(problems=[f"{path}: empty file (0 bytes)"])
    header = read_header(path)
    if header is None:
        return _Source(problems=[f"{path}: cannot open video (corrupt, or a codec OpenCV lacks)"])
    announced = header.num_frames or 0
    source = _Source()
    mixed = None
    for frame in video_frames(path):
        size = (frame.shape[1], frame.shape[0])
        if source.size is None:
            source.size = size
        elif size != source.size and mixed is None:
            mixed = _size_problem(path, source.frames, size, source.size)
        source.frames += 1
        bar.update()
    if source.frames == 0:
        source.problems.append(f"{path}: no frames could be decoded (empty or corrupt video)")
    elif announced > source.frames:
        source.problems.append(f"{path}: decoded {source.frames} of the {announced} frames its "
                               "header announces (truncated or corrupt)")
    if mixed is not None:
        source.problems.append(mixed)
    return source
