"""Real datasets, Table 2 of the paper: the paper's protocol and a leak-free one beside it.

Each preset is trained on the normal training videos, except the last
``holdout_fraction`` of every training video, which is held out. The last weights
(and the snapshots, if any) score the test videos and the held-out frames under every
window scheme (``scoring/windows.py``: reset, overlap, sliding; Conv-AE always slides
its clips) into error records (``pipeline/records.py``), from which
``experiments/results.py`` evaluates every reading (``pipeline/evaluate.READINGS``: the
paper's text, the authors' released code, ...) twice:

- paper protocol: Eq. 4 min-max per test video, frame-level ROC AUC (micro, the
  paper's; macro) and EER;
- leak-free deployment protocol (beyond the paper): errors standardised with the
  held-out normal frames, an alarm threshold at a high quantile of them, and AUC,
  precision, recall, F1 and false alarms per minute at that threshold. No statistic
  of any test video enters.

Both with the whole-frame score (Eq. 3) and the localized patch-max score. Stages
whose outputs exist are skipped, so an interrupted run continues where it stopped;
``convlstm-ae tables OUT`` rebuilds the tables and figures from the records alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from convlstm_ae.atomic import writable_folder
from convlstm_ae.config import ModelConfig, ScoringConfig, TrainConfig, default_cache_dir
from convlstm_ae.data.cache import CachedVideos
from convlstm_ae.data.layouts import open_dataset
from convlstm_ae.data.records import Dataset
from convlstm_ae.experiments.common import (
    check_devices,
    check_settings,
    family,
    preset_run_configs,
    released_models,
)
from convlstm_ae.experiments.results import records_folder
from convlstm_ae.experiments.tables import publish_run
from convlstm_ae.pipeline.records import CLIPS, VideoSet, score_records
from convlstm_ae.pipeline.train import check_holdout, split_holdout, train_run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RealVideoExperiment:
    """Settings of one run on a real dataset."""

    root: Path
    name: str = "ped2"  # the Table 2 row printed beside ours
    out_dir: Path = Path("runs/ped2")
    presets: tuple[str, ...] = ("paper", "conv-ae")
    train: dict = field(default_factory=dict)  # TrainConfig fields overriding each preset's
    devices: int = 1  # GPUs; more than one trains with DDP, one preset per command
    plain: bool = False  # GPU: skip the fast path
    holdout_fraction: float = 0.15  # tail of each training video kept for calibration
    quantile: float = 0.99  # alarm threshold: this quantile of held-out normal scores
    cache_dir: Path | None = None
    layout: str | None = None
    labels: Path | None = None
    stage: str = "all"  # "train": train only (test videos may be absent); "all"

    def __post_init__(self) -> None:
        check_settings(self.presets, self.train, self.devices)
        check_holdout(self.holdout_fraction, self.quantile)


def _cached(records, frame_size: int, cache_dir: Path) -> CachedVideos:
    return CachedVideos([(r.source, r.start, r.stop) for r in records], frame_size, cache_dir)


def _train(experiment: RealVideoExperiment, configs: tuple[ModelConfig, TrainConfig],
           dataset: Dataset, train_videos: CachedVideos) -> Path | None:
    """Train on the training videos minus their held-out tails (which calibrate alarms)."""
    model_config, train_config = configs
    return train_run(train_videos, model_config, train_config,
                     experiment.out_dir / model_config.preset,
                     scoring=ScoringConfig(t_prime=dataset.t_prime), frame_rate=dataset.fps,
                     holdout_fraction=experiment.holdout_fraction, quantile=experiment.quantile,
                     resume=None, devices=experiment.devices, plain=experiment.plain)


def window_schemes(preset: str, t_prime: int | None) -> tuple[str, ...]:
    """Schemes a preset is scored with: Conv-AE has one (its sliding clips)."""
    if family(preset) == "Conv-AE":
        return (CLIPS,)
    return ("reset",) if t_prime is None else ("reset", "overlap", "sliding")


def score_preset(experiment: RealVideoExperiment, model_config: ModelConfig, dataset: Dataset,
                 train_videos: CachedVideos, test_videos: CachedVideos) -> None:
    """Error records of every released model of a preset under every scheme, for the
    test videos and the held-out training tails; existing records are kept."""
    preset = model_config.preset
    run_dir = experiment.out_dir / preset
    _, tails = split_holdout(train_videos, experiment.holdout_fraction,
                             model_config.clip_length)
    meta = {"dataset": experiment.name, "fps": dataset.fps}
    sets = {
        "test": VideoSet([r.name for r in dataset.test],
                         [test_videos.video(i) for i in range(len(test_videos))],
                         [r.labels for r in dataset.test], meta),
        "holdout": VideoSet([f"tail_{i:02d}" for i in range(len(tails))], tails, None, meta),
    }
    for name, model_dir in released_models(run_dir).items():
        score_records(model_dir, records_folder(run_dir, name), sets,
                      window_schemes(preset, dataset.t_prime), dataset.t_prime, desc=name,
                      preset=preset, model=name)


def run(experiment: RealVideoExperiment) -> dict:
    """Train (and unless ``stage == "train"``, score and evaluate) every preset."""
    check_devices(experiment.devices, experiment.presets)
    dataset = open_dataset(experiment.root, layout=experiment.layout, labels=experiment.labels)
    cache_dir = experiment.cache_dir or default_cache_dir()
    writable_folder(experiment.out_dir)
    configs = [preset_run_configs(p, experiment.train) for p in experiment.presets]
    sizes = {model_config.frame_size for model_config, _ in configs}
    train_by_size = {size: _cached(dataset.train, size, cache_dir) for size in sizes}
    for model_config, train_config in configs:
        train_videos = train_by_size[model_config.frame_size]
        if _train(experiment, (model_config, train_config), dataset, train_videos) is None:
            return {}  # an extra process of a multi-GPU run
    if experiment.stage == "train":
        return {}
    test_by_size = {size: _cached(dataset.test, size, cache_dir) for size in sizes}
    for model_config, _ in configs:
        size = model_config.frame_size
        score_preset(experiment, model_config, dataset, train_by_size[size], test_by_size[size])
    return publish_run(experiment.out_dir, experiment.name, experiment.presets, experiment,
                       experiment.quantile)
