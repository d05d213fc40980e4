"""Regularity score of one test video, Eq. (4)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from torch import Tensor

Array = TypeVar("Array", np.ndarray, Tensor)


def regularity_score(errors: Array) -> Array:
    """Regularity score s(t) of one test video, Eq. (4).

    s(t) = 1 - (l(t) - min_t l(t)) / (max_t l(t) - min_t l(t)). The min and max are
    statistics of the test video itself, as in the paper; see
    :mod:`convlstm_ae.scoring.calibration` for a score that needs none.

    Args:
        errors: per-frame reconstruction errors l(t), shape (N,).
    Returns:
        s(t) in [0, 1]; low values mark irregular frames. A constant video scores 1.
    """
    low, high = errors.min(), errors.max()
    if high == low:
        return errors * 0 + 1
    return 1 - (errors - low) / (high - low)
