"""The JSON side of a released model folder, ``config.json`` and ``calibration.json``:
read and written without PyTorch, so the ONNX runtime needs neither torch nor weights."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from convlstm_ae.atomic import atomic_path
from convlstm_ae.config import ModelConfig, ScoringConfig, config_from_dict, config_to_dict
from convlstm_ae.errors import CheckpointError, ConfigError
from convlstm_ae.scoring.calibration import DeploymentCalibration
from convlstm_ae.scoring.located import LocatedCalibration

FORMAT = "convlstm-ae/1"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CALIBRATION = "calibration.json"
# config.json: frames per second of the footage the model was trained on (the dataset
# layout's rate); absent or null in a model released without it: unknown
FRAME_RATE = "frame_rate"


def write_atomically(path: Path, write) -> None:
    """Call ``write(temporary)``, then move the temporary file onto ``path``."""
    with atomic_path(path) as temporary:
        write(temporary)


def read_model_config(directory: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a released model, checked to be ours."""
    path = Path(directory) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{path}: not found; a model folder holds {WEIGHTS} and {CONFIG}")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{path}: not valid JSON") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a convlstm-ae model config (no format {FORMAT!r})")
    return config


def load_model_config(directory: str | Path) -> ModelConfig:
    """The architecture stored with a released model."""
    path = Path(directory) / CONFIG
    try:
        return config_from_dict(ModelConfig, read_model_config(directory)["model"], str(path))
    except ConfigError as error:  # it names the file
        raise CheckpointError(str(error)) from None
    except (TypeError, KeyError) as error:
        raise CheckpointError(f"{path}: bad model section ({error})") from None


def load_scoring_config(directory: str | Path) -> ScoringConfig:
    """The scoring settings stored beside a released model."""
    config = read_model_config(directory)
    return config_from_dict(ScoringConfig, config.get("scoring", {}), str(Path(directory) / CONFIG))


def load_frame_rate(directory: str | Path) -> float | None:
    """The frame rate, frames per second, of the footage a released model was trained on:
    the rate at which it learned the motion between consecutive frames. None where the
    model does not record it (released before it was, or trained on a frame array).

    Raises:
        CheckpointError: a recorded rate that is not a positive, finite number.
    """
    rate = read_model_config(directory).get(FRAME_RATE)
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < math.inf:
        raise CheckpointError(f"{Path(directory) / CONFIG}: {FRAME_RATE} must be a positive "
                              f"number of frames per second or null, got {rate!r}")
    return float(rate)


def scoring_rate(directory: str | Path, rate: float | None = None) -> float | None:
    """The frames per second at most that ``watch`` and ``calibrate`` score a video or
    camera at for the released model in ``directory`` (beyond the paper): ``rate`` where
    given (their ``--rate``), else the rate the model was trained at
    (:func:`load_frame_rate`); None (every frame) for a rate of 0 or a model recording none.

    Raises:
        CheckpointError: a model whose recorded rate is not a positive number.
    """
    return (load_frame_rate(directory) if rate is None else rate) or None


def write_model_config(directory: str | Path, config: dict[str, Any]) -> None:
    """Write ``config.json`` of a released model atomically."""
    write_atomically(Path(directory) / CONFIG,
                     lambda p: p.write_text(json.dumps(config, indent=2)))


def save_scoring_config(directory: str | Path, scoring: ScoringConfig) -> None:
    """Replace the scoring settings stored beside a released model."""
    write_model_config(directory, {**read_model_config(directory),
                                   "scoring": config_to_dict(scoring)})


Calibrations = dict[str, DeploymentCalibration | LocatedCalibration]
LOCATED = "located"  # the located live score's key in calibration.json


def save_calibration(directory: str | Path, calibrations: Calibrations) -> Path:
    """Write the deployment calibration of each score kind beside a released model: the
    whole-frame ``frame`` and ``patch`` ones and, where fitted, the located live score's."""
    path = Path(directory) / CALIBRATION
    data = {kind: calibration.to_dict() for kind, calibration in calibrations.items()}
    write_atomically(path, lambda p: p.write_text(json.dumps(data, indent=2)))
    return path


def load_calibration(directory: str | Path) -> Calibrations | None:
    """The deployment calibrations stored beside a released model, or None if it has none."""
    path = Path(directory) / CALIBRATION
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return {kind: (LocatedCalibration if kind == LOCATED else DeploymentCalibration
                       ).from_dict(values) for kind, values in data.items()}
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, ConfigError) as error:
        raise CheckpointError(f"{path}: not a valid calibration ({error})") from None
