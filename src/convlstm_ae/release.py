"""Released models: ``model.safetensors``, ``config.json`` and ``calibration.json`` beside
them; no pickle, no Lightning. It sits above ``model`` and ``scoring``, which it bundles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from convlstm_ae.atomic import atomic_path
from convlstm_ae.config import ModelConfig, ScoringConfig, config_from_dict, config_to_dict
from convlstm_ae.errors import CheckpointError, ConfigError
from convlstm_ae.model.acceleration import accelerate, use_fast_path
from convlstm_ae.model.presets import build_model
from convlstm_ae.scoring.calibration import DeploymentCalibration

# a run folder: the released model, its snapshots, Lightning's training checkpoint
MODEL_DIR = "model"
SNAPSHOT_DIR = "snapshots"
LAST_CHECKPOINT = "checkpoints/last.ckpt"
FORMAT = "convlstm-ae/1"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CALIBRATION = "calibration.json"


def snapshot_dir(run_dir: str | Path, step: int) -> Path:
    """Where the weights of ``step`` are released: ``run_dir/snapshots/step_005000``."""
    return Path(run_dir) / SNAPSHOT_DIR / f"step_{step:06d}"


def _atomic_write(path: Path, write) -> None:
    with atomic_path(path) as temporary:
        write(temporary)


def save_model(
    model: nn.Module,
    directory: str | Path,
    scoring: ScoringConfig | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` (atomically) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()}
    _atomic_write(directory / WEIGHTS, lambda p: save_file(tensors, str(p)))
    config = {
        "format": FORMAT,
        "model": config_to_dict(model.config),
        "scoring": config_to_dict(scoring or ScoringConfig()),
        **(extra or {}),
    }
    _atomic_write(directory / CONFIG, lambda p: p.write_text(json.dumps(config, indent=2)))
    return directory


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


def load_model(
    directory: str | Path, device: str | torch.device = "cpu", *, plain: bool = False
) -> nn.Module:
    """Load a released model folder (or its ``model.safetensors``) in eval mode.

    On a CUDA device the model takes the fast path (:func:`accelerate`) unless
    ``plain`` is set.

    Raises:
        CheckpointError: missing files, a file that is not ours, or mismatched tensors.
    """
    directory = Path(directory)
    if directory.is_file():
        directory = directory.parent
    config = read_model_config(directory)
    try:
        model_config = config_from_dict(ModelConfig, config["model"], str(directory / CONFIG))
    except (ConfigError, TypeError, KeyError) as error:
        raise CheckpointError(f"{directory / CONFIG}: bad model section ({error})") from None
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{weights}: not found")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({error})") from None
    bad = next((name for name, tensor in state.items()
                if tensor.is_floating_point() and not torch.isfinite(tensor).all()), None)
    if bad is not None:
        raise CheckpointError(f"{weights}: tensor {bad!r} holds NaN or infinite values "
                              "(corrupt file or diverged training)")
    model = build_model(model_config)
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise CheckpointError(
            f"{weights}: tensors do not match the {model_config.preset!r} architecture in {CONFIG}"
        ) from None
    model = model.to(device).eval()
    if use_fast_path(device, plain):
        accelerate(model)
    return model


def load_scoring_config(directory: str | Path) -> ScoringConfig:
    """The scoring settings stored beside a released model."""
    config = read_model_config(directory)
    return config_from_dict(ScoringConfig, config.get("scoring", {}), str(Path(directory) / CONFIG))


def save_calibration(directory: str | Path, calibrations: dict[str, DeploymentCalibration]) -> Path:
    """Write the deployment calibration of each score kind beside a released model."""
    path = Path(directory) / CALIBRATION
    data = {kind: calibration.to_dict() for kind, calibration in calibrations.items()}
    _atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=2)))
    return path


def load_calibration(directory: str | Path) -> dict[str, DeploymentCalibration] | None:
    """The deployment calibration stored beside a released model, or None if it has none."""
    path = Path(directory) / CALIBRATION
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return {kind: DeploymentCalibration.from_dict(values) for kind, values in data.items()}
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, ConfigError) as error:
        raise CheckpointError(f"{path}: not a valid calibration ({error})") from None
