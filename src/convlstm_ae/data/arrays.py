"""``.npy`` and ``.npz`` files loaded without trusting their headers: an array whose header
promises more bytes than its file or zip member holds is refused before NumPy allocates
it (4 KB may claim 10^12 frames). Pickled objects are never loaded."""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from tokenize import TokenError
from typing import IO

import numpy as np

# what np.load raises for a damaged .npy (its header is parsed as a Python literal)
DAMAGED_NPY = (ValueError, OSError, EOFError, SyntaxError, TokenError)
DAMAGED_NPZ = (*DAMAGED_NPY, zipfile.BadZipFile, zlib.error)  # and for a damaged zip
DEFLATE_MOST = 1032  # deflate (NumPy's method besides storing) expands bytes 1032:1 at most


def _check_header(handle: IO[bytes], size: int, where: str) -> None:
    """Refuse the array at ``handle``, ``size`` bytes with its header, if the header
    promises more data bytes than that.

    Raises:
        ValueError: ``{where}header promises SHAPE DTYPE (N bytes) but holds M; ...``.
    """
    version = np.lib.format.read_magic(handle)
    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                   else np.lib.format.read_array_header_2_0)
    shape, _, dtype = read_header(handle)
    promised = math.prod(shape) * dtype.itemsize
    held = size - handle.tell()
    if promised > held:
        raise ValueError(f"{where}header promises {shape} {dtype} ({promised:,} bytes) but "
                         f"holds {held:,}; truncated or damaged")


def load_npy(path: Path) -> np.ndarray:
    """The array of a ``.npy`` file, its header checked against the file's size first.

    Raises:
        ValueError, or another of :data:`DAMAGED_NPY`: damaged, pickled, or a header
            promising more than the file holds.
    """
    with open(path, "rb") as handle:
        _check_header(handle, path.stat().st_size, "")
    return np.load(path, allow_pickle=False)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` by name, each member's header checked first against the
    bytes the member can hold: its stated size, no more than its compressed bytes expand to.

    Raises:
        ValueError, or another of :data:`DAMAGED_NPZ`: not a zip archive, a damaged or
            pickled member, or one whose header promises more than it holds (the message
            names the member).
    """
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename.endswith(".npy"):
                most = info.compress_size * (
                    1 if info.compress_type == zipfile.ZIP_STORED else DEFLATE_MOST)
                with archive.open(info) as member:
                    _check_header(member, min(info.file_size, most), f"{info.filename}: ")
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}
