"""Where a released model's ONNX graphs live; torch-free, so the runtime can find them."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from convlstm_ae.atomic import writable_folder
from convlstm_ae.config import default_cache_dir
from convlstm_ae.release_files import CONFIG, WEIGHTS

ONNX_SCORE = "model_score.onnx"  # the whole live scoring step, Eq. 3 included

log = logging.getLogger(__name__)


def onnx_path(model_dir: Path, name: str) -> Path:
    """Where the graph ``name`` of a model lives: beside it, or, for a model folder we
    cannot write (a read-only mount), in the cache under its files' content hash."""
    beside = model_dir / name
    if beside.is_file() or os.access(model_dir, os.W_OK):
        return beside
    digest = hashlib.sha256()
    for file in (WEIGHTS, CONFIG):
        digest.update((model_dir / file).read_bytes())
    path = default_cache_dir() / "onnx" / f"{digest.hexdigest()[:16]}-{name}"
    log.info("%s is read-only: the ONNX graph %s goes to %s", model_dir, name, path)
    writable_folder(path.parent)
    return path
