"""Released models: ``model.safetensors``, ``config.json`` and ``calibration.json`` beside
them; no pickle, no Lightning. It sits above ``model`` and ``scoring``, which it bundles.
The JSON files are :mod:`convlstm_ae.release_files`' (torch-free)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from convlstm_ae.config import ScoringConfig, config_to_dict
from convlstm_ae.errors import CheckpointError, ConfigError
from convlstm_ae.export.paths import ONNX_SCORE, onnx_path
from convlstm_ae.model.acceleration import accelerate, use_fast_path
from convlstm_ae.model.presets import build_model
from convlstm_ae.release_files import (
    CONFIG,
    FORMAT,
    WEIGHTS,
    load_model_config,
    load_scoring_config,
    write_atomically,
    write_model_config,
)

# a run folder: the released model, its snapshots, Lightning's training checkpoint
MODEL_DIR = "model"
SNAPSHOT_DIR = "snapshots"
LAST_CHECKPOINT = "checkpoints/last.ckpt"


def snapshot_dir(run_dir: str | Path, step: int) -> Path:
    """Where the weights of ``step`` are released: ``run_dir/snapshots/step_005000``."""
    return Path(run_dir) / SNAPSHOT_DIR / f"step_{step:06d}"


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
    write_atomically(directory / WEIGHTS, lambda p: save_file(tensors, str(p)))
    config = {
        "format": FORMAT,
        "model": config_to_dict(model.config),
        "scoring": config_to_dict(scoring or ScoringConfig()),
        **(extra or {}),
    }
    write_model_config(directory, config)
    return directory


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
    model_config = load_model_config(directory)
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{weights}: not found")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({error})") from None
    _check_finite(state, weights)
    try:
        model = build_model(model_config)
    except ConfigError as error:
        raise CheckpointError(f"{directory / CONFIG}: {error}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise CheckpointError(
            f"{weights}: tensors do not match the {model_config.preset!r} architecture in {CONFIG}"
        ) from None
    return _ready(model, device, plain)


def ready_model(model: nn.Module, directory: str | Path, device: str | torch.device = "cpu",
                *, plain: bool = False) -> nn.Module:
    """The model just released into ``directory``, still in memory, made ready to score
    as :func:`load_model` makes the released files: checked, on ``device``, in eval mode,
    on the fast path on CUDA unless ``plain``.

    Raises:
        CheckpointError: NaN or infinite weights.
    """
    _check_finite(model.state_dict(), Path(directory) / WEIGHTS)
    return _ready(model, device, plain)


def _check_finite(state: dict[str, torch.Tensor], weights: Path) -> None:
    bad = next((name for name, tensor in state.items()
                if tensor.is_floating_point() and not torch.isfinite(tensor).all()), None)
    if bad is not None:
        raise CheckpointError(f"{weights}: tensor {bad!r} holds NaN or infinite values "
                              "(corrupt file or diverged training)")


def _ready(model: nn.Module, device: str | torch.device, plain: bool) -> nn.Module:
    model = model.to(device).eval()
    if use_fast_path(device, plain):
        accelerate(model)
    return model


def default_device(device: str | None = None) -> str:
    """``device``, checked, or CUDA when this machine has it, else the CPU.

    Raises:
        ConfigError: unknown, or CUDA without a CUDA device.
    """
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except RuntimeError:
        kind = None
    if kind not in ("cpu", "cuda"):
        raise ConfigError(f"--device {device!r} is unknown; expected cpu or cuda")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: no CUDA device here (this torch build or machine "
                          "has none); use --device cpu")
    return device


def export_scoring_graph(model_dir: str | Path, path: str | Path | None = None) -> Path:
    """Export the live scoring step of a released model, with its stored patch and cell
    sizes, to ``path`` (default: where :class:`OnnxStreamScorer` looks for it)."""
    from convlstm_ae.export.onnx import export_score_graph

    model_dir = Path(model_dir)
    scoring = load_scoring_config(model_dir)
    return export_score_graph(load_model(model_dir), path or onnx_path(model_dir, ONNX_SCORE),
                              scoring.patch_size, scoring.cell_size)
