"""Where the shipped demo model lives."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from convlstm_ae.errors import CheckpointError
from convlstm_ae.release_files import WEIGHTS


def demo_model_dir() -> Path:
    """The released model folder of the demo (``model.safetensors``, ``config.json``,
    ``calibration.json``), inside the installed package.

    Raises:
        CheckpointError: the package was installed without its data files.
    """
    path = Path(str(files("convlstm_ae.demo") / "model"))
    if not (path / WEIGHTS).is_file():
        raise CheckpointError(f"{path}: no demo weights; the package was installed without "
                              "its data files")
    return path
