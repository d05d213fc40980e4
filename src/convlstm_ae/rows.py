"""Per-stream arrays (one row per stream) grown when streams are added at run time, e.g.
a camera that ``watch --config`` adds on SIGHUP, and whose rows a later camera may reuse
(a removed camera's): one way for every such array."""

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


def placed(array: np.ndarray, row: int, fill: Any) -> np.ndarray:
    """``array`` with row ``row`` set to ``fill``: one more row (``row == len(array)``)
    or a removed stream's row, reused.

    Args:
        array: (B, ...) one row per stream.
        row: 0 to B.
    Returns:
        ``array`` itself, or a new (B + 1, ...) array of its dtype.
    """
    if row == len(array):
        return grown(array, 1, fill)
    array[row] = fill
    return array


def put(items: list, row: int, value: Any) -> None:
    """:func:`placed` for a list: ``value`` appended (``row == len(items)``) or in row ``row``."""
    if row == len(items):
        items.append(value)
    else:
        items[row] = value
