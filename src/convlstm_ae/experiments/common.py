"""What every experiment shares: a preset's resumable fixed schedule, and its figures."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import auc

from convlstm_ae.config import ScoringConfig
from convlstm_ae.data.clips import FrameSource
from convlstm_ae.errors import ConfigError
from convlstm_ae.evaluation import regularity_scores
from convlstm_ae.metrics import roc_points
from convlstm_ae.model.io import read_model_config
from convlstm_ae.model.presets import preset_configs
from convlstm_ae.training.fit import LAST_CHECKPOINT, MODEL_DIR, fit, training_history
from convlstm_ae.viz.plots import plot_roc, plot_training_loss

TRAIN_SECONDS = "train_seconds.txt"


@dataclass(frozen=True)
class Schedule:
    """Overrides of a preset's training schedule; None keeps the preset's value."""

    max_steps: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    num_workers: int = 2
    devices: int = 1
    plain: bool = False  # True: skip the GPU fast path
    seed: int = 0
    snapshot_steps: tuple[int, ...] = ()  # weights also released at these steps


def check_devices(schedule: Schedule, presets: Sequence[str]) -> None:
    """Lightning's DDP starts its worker processes once per process, so a multi-GPU run
    trains one preset; the skip-if-trained logic then joins the presets' results."""
    if schedule.devices > 1 and len(presets) > 1:
        raise ConfigError(
            f"--devices {schedule.devices} trains one preset per command; run each of "
            f"{', '.join(presets)} alone, then all of them with --devices 1 for the table"
        )


def family(preset: str) -> str:
    """The paper's name of a preset's model."""
    return "Conv-AE" if preset.startswith("conv-ae") else "ConvLSTM-AE"


def train_preset(
    preset: str, source: FrameSource, run_dir: Path, schedule: Schedule, scoring: ScoringConfig,
    note: str = "",
) -> Path:
    """Train ``preset`` on ``source`` for its fixed number of steps, resuming a stopped
    run, or return its released model when it is trained already."""
    model_config, train_config = preset_configs(preset)
    overrides = {
        "max_steps": schedule.max_steps,
        "batch_size": schedule.batch_size,
        "learning_rate": schedule.learning_rate,
    }
    train_config = dataclasses.replace(
        train_config, seed=schedule.seed, num_workers=schedule.num_workers,
        snapshot_steps=schedule.snapshot_steps,
        **{k: v for k, v in overrides.items() if v is not None},
    )
    model_dir = run_dir / MODEL_DIR
    if model_dir.is_dir() and read_model_config(model_dir).get("steps") == train_config.max_steps:
        print(f"{preset}: trained already ({model_dir})", flush=True)
        return model_dir
    resume = (run_dir / LAST_CHECKPOINT).is_file()
    print(f"{preset}: training {train_config.max_steps} steps of batch {train_config.batch_size}, "
          f"lr {train_config.learning_rate}{note}{' (resuming)' if resume else ''}", flush=True)
    start = time.perf_counter()
    model_dir = fit(source, model_config, train_config, run_dir, scoring=scoring,
                    devices=schedule.devices, resume=resume, plain=schedule.plain)
    (run_dir / TRAIN_SECONDS).write_text(f"{time.perf_counter() - start:.1f}\n")
    return model_dir


def train_seconds(run_dir: Path) -> float | None:
    """Wall-clock training time of the last (re)start, if recorded."""
    path = run_dir / TRAIN_SECONDS
    return float(path.read_text()) if path.is_file() else None


def method_name(preset: str) -> str:
    """How figures and tables name a preset: ``ConvLSTM-AE [paper]``."""
    return f"{family(preset)} [{preset}]"


def plot_preset_rocs(
    errors: dict[str, Sequence[np.ndarray]], labels: Sequence[np.ndarray], path: Path
) -> None:
    """Pooled ROC of every preset's anomaly score 1 - s(t) (Eq. 4 per video)."""
    curves = {}
    for preset, per_video in errors.items():
        fpr, tpr = roc_points([1 - s for s in regularity_scores(per_video)], labels)
        curves[method_name(preset)] = (fpr, tpr, float(auc(fpr, tpr)))
    plot_roc(curves, path)


def plot_training_losses(out_dir: Path, presets: Sequence[str], path: Path) -> None:
    """Training loss of every preset run under ``out_dir`` (like the paper's Fig. 3, 4)."""
    histories = {}
    for preset in presets:
        steps, losses = training_history(out_dir / preset)
        if len(steps):
            histories[method_name(preset)] = (steps, losses)
    if histories:
        plot_training_loss(histories, path, ylabel="training loss, Eq. 2 per clip")
