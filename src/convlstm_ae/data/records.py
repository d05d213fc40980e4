"""The records every dataset layout parser returns: :class:`VideoRecord` per video,
:class:`Dataset` per folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True, eq=False)
class VideoRecord:
    """One video of a dataset split.

    Attributes:
        name: clip name, e.g. ``"01"``, ``"Test001"``, ``"01_0014"``, ``"entrance"``.
        source: a video file or a folder of frames.
        labels: per-frame uint8 0/1 (1 = abnormal) for labelled test videos, else None;
            index 0 is frame ``start``.
        start: first frame used from the source (Subway's split by time).
        stop: one past the last frame used; None reads to the end.
    """

    name: str
    source: Path
    labels: np.ndarray | None
    start: int = 0
    stop: int | None = None


@dataclass(frozen=True)
class Dataset:
    """The train and test videos of one dataset folder.

    Attributes:
        layout: one of :data:`~convlstm_ae.data.layouts.LAYOUTS`.
        root: the dataset folder.
        train: normal videos.
        test: test videos, labelled where a label file was found.
        label_convention: one line naming the label file and its format.
        t_prime: T' of Sec. 4.2, frames between memory resets; None keeps the memory
            for the whole video (Subway).
        fps: frame rate, for figures per minute.
    """

    layout: str
    root: Path
    train: tuple[VideoRecord, ...]
    test: tuple[VideoRecord, ...]
    label_convention: str
    t_prime: int | None
    fps: float
