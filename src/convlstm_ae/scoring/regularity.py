"""Regularity score of one test video, Eq. (4)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from torch import Tensor

Array = TypeVar("Array", np.ndarray, Tensor)


def regularity_score(errors: Array, reference: np.ndarray | Tensor | None = None) -> Array:
    """Regularity score s(t) of one test video, Eq. (4).

    s(t) = 1 - (l(t) - min_t l(t)) / (max_t l(t) - min_t l(t)). The min and max are
    statistics of the test video itself, as in the paper; see
    :mod:`convlstm_ae.scoring.calibration` for a score that needs none.

    Args:
        errors: per-frame reconstruction errors l(t), shape (N,).
        reference: the frames whose errors may set the min and max (bool, (N,)); the
            others are clipped into [0, 1]. The first-frame rule passes the frames
            scored with the history their scheme promises (see
            :func:`reference_frames`), so that a frame scored from a short memory (the
            first frames of a video) never defines the range. None: all frames.
    Returns:
        s(t) in [0, 1]; low values mark irregular frames. A constant video scores 1.
    """
    pool = errors if reference is None or not reference.any() else errors[reference]
    low, high = pool.min(), pool.max()
    if high == low:
        return errors * 0 + 1
    score = 1 - (errors - low) / (high - low)
    return score.clip(0, 1)


def reference_frames(history: np.ndarray, promised_history: int) -> np.ndarray:
    """The first-frame rule: frames scored with at least the history their window
    scheme promises (``sliding``: T' - 1 frames; ``overlap``: T'//2, which every frame
    has after the authors' copy; ``reset``: none). Where fewer than two frames have it
    (a video no longer than its window), all frames: one frame is no range for Eq. 4."""
    kept = np.asarray(history) >= promised_history
    return kept if kept.sum() >= 2 else np.ones_like(kept)
