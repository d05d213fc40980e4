"""What every experiment shares: a preset's training settings, names and figures."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from convlstm_ae.config import ModelConfig, TrainConfig, is_whole
from convlstm_ae.errors import ConfigError
from convlstm_ae.model.presets import preset_configs
from convlstm_ae.pipeline.train import training_history
from convlstm_ae.release import MODEL_DIR, SNAPSHOT_DIR
from convlstm_ae.viz.plots import plot_training_loss

FAMILIES = {"convlstm_ae": "ConvLSTM-AE", "conv_ae": "Conv-AE"}
FINAL = "final"  # the last weights of a run; its snapshots are named step_NNNNNN


def preset_run_configs(preset: str, train: Mapping[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """A preset's configs with the experiment's overrides of its training schedule
    (max_steps, batch_size, learning_rate, num_workers, seed, snapshot_steps)."""
    model_config, train_config = preset_configs(preset)
    try:
        return model_config, dataclasses.replace(train_config, **train)
    except TypeError as error:
        raise ConfigError(f"training overrides: {error}") from None


# the most sequences of one Moving-MNIST set: 100 times the paper's 10,000
MAX_SEQUENCES = 1_000_000
MAX_DEVICES = 64


def check_counts(**counts: int | None) -> None:
    """Counts of sequences (None: the default) are whole numbers in [1, MAX_SEQUENCES].

    Raises:
        ConfigError: naming the first count out of range.
    """
    for name, value in counts.items():
        if value is not None and (not is_whole(value) or not 1 <= value <= MAX_SEQUENCES):
            raise ConfigError(f"{name} must be a whole number in [1, {MAX_SEQUENCES:,}], "
                              f"got {value!r}")


def check_settings(presets: Sequence[str], train: Mapping[str, Any], devices: int) -> None:
    """What every experiment's settings share, checked before any work: known presets,
    training overrides each preset accepts, a device count.

    Raises:
        ConfigError: the first bad setting.
    """
    if not is_whole(devices) or not 1 <= devices <= MAX_DEVICES:
        raise ConfigError(f"devices must be a whole number in [1, {MAX_DEVICES}], "
                          f"got {devices!r}")
    for preset in presets:
        preset_run_configs(preset, train)


def released_models(run_dir: Path) -> dict[str, Path]:
    """The released models of a run: ``final`` (the last weights), then its snapshots
    by step."""
    dirs = {FINAL: run_dir / MODEL_DIR}
    for snapshot in sorted((run_dir / SNAPSHOT_DIR).glob("step_*")):
        dirs[snapshot.name] = snapshot
    return dirs


def check_devices(devices: int, presets: Sequence[str]) -> None:
    """Lightning's DDP starts its worker processes once per process, so a multi-GPU run
    trains one preset; the skip-if-trained logic then joins the presets' results."""
    if devices > 1 and len(presets) > 1:
        raise ConfigError(
            f"--devices {devices} trains one preset per command; run each of "
            f"{', '.join(presets)} alone, then all of them with --devices 1 for the table"
        )


def family(preset: str) -> str:
    """The paper's name of a preset's model, from its architecture."""
    return FAMILIES[preset_configs(preset)[0].architecture]


def method_name(preset: str) -> str:
    """How figures and tables name a preset: ``ConvLSTM-AE [paper]``."""
    return f"{family(preset)} [{preset}]"


def plot_training_losses(out_dir: Path, presets: Sequence[str], path: Path) -> None:
    """Training loss of every preset run under ``out_dir`` (like the paper's Fig. 3, 4)."""
    histories = {}
    for preset in presets:
        steps, losses = training_history(out_dir / preset)
        if len(steps):
            histories[method_name(preset)] = (steps, losses)
    if histories:
        plot_training_loss(histories, path, ylabel="training loss, Eq. 2 per clip")
