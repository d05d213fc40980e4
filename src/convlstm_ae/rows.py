"""Per-stream arrays (one row per stream) grown when streams are added at run time, e.g.
a camera that ``watch --config`` adds on SIGHUP: one way for every such array."""

from __future__ import annotations

from typing import Any

import numpy as np


def grown(array: np.ndarray, count: int, fill: Any) -> np.ndarray:
    """``array`` with ``count`` rows of ``fill`` after its own (along axis 0).

    Args:
        array: (B, ...) one row per stream.
        count: rows to add.
        fill: the new rows' every value, cast to ``array``'s dtype.
    Returns:
        A new (B + count, ...) array of ``array``'s dtype.
    """
    return np.concatenate([array, np.full((count, *array.shape[1:]), fill, array.dtype)])
