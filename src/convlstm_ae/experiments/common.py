"""What every experiment shares: the fixed training schedule of a preset, resumable."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from convlstm_ae.config import ScoringConfig
from convlstm_ae.data.clips import FrameSource
from convlstm_ae.model.io import read_model_config
from convlstm_ae.model.presets import preset_configs
from convlstm_ae.training.fit import LAST_CHECKPOINT, MODEL_DIR, fit

TRAIN_SECONDS = "train_seconds.txt"


@dataclass(frozen=True)
class Schedule:
    """Overrides of a preset's training schedule; None keeps the preset's value."""

    max_steps: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    num_workers: int = 2
    devices: int = 1
    seed: int = 0


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
                    devices=schedule.devices, resume=resume)
    (run_dir / TRAIN_SECONDS).write_text(f"{time.perf_counter() - start:.1f}\n")
    return model_dir


def train_seconds(run_dir: Path) -> float | None:
    """Wall-clock training time of the last (re)start, if recorded."""
    path = run_dir / TRAIN_SECONDS
    return float(path.read_text()) if path.is_file() else None
