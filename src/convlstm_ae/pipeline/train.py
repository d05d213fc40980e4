"""Train a run: clips of normal footage, a fixed schedule, the released model, and the
alarm calibration on held-out normal frames (beyond the paper)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np

from convlstm_ae.atomic import writable_folder
from convlstm_ae.config import (
    ModelConfig,
    ScoringConfig,
    TrainConfig,
    config_from_dict,
    default_cache_dir,
    read_config_file,
)
from convlstm_ae.data.cache import CachedVideos
from convlstm_ae.data.clips import (
    FrameSource,
    VideoHeads,
    VideoSubset,
    held_out_tails,
    held_out_videos,
    holdout_split,
)
from convlstm_ae.data.layouts import frame_rate, open_dataset, stated_rate
from convlstm_ae.data.moving_mnist import FRAME_RATE as MOVING_MNIST_RATE
from convlstm_ae.data.moving_mnist import MovingMNIST
from convlstm_ae.data.video_io import is_video
from convlstm_ae.errors import ConfigError
from convlstm_ae.model.presets import preset_configs
from convlstm_ae.pipeline.calibrate import calibrate_model
from convlstm_ae.release import LAST_CHECKPOINT, MODEL_DIR
from convlstm_ae.release_files import read_model_config, write_model_config
from convlstm_ae.viz.plots import read_metrics_csv

log = logging.getLogger(__name__)


def training_source(path: Path, frame_size: int, cache_dir: Path | None = None,
                    fps: float | None = None, clip_length: int = 1
                    ) -> tuple[FrameSource, float | None]:
    """Moving-MNIST recipes (``.npz``), one video file or ``.npy`` frame array, or the
    training videos of a dataset folder (any layout ``data check`` knows, or a plain
    folder of your own normal footage), cached; and their frame rate, which the released
    model records: ``fps`` where given (``--fps``), else the dataset layout's, a video's
    own (a file's header, a layout's clip folder), Moving-MNIST's
    :data:`~convlstm_ae.data.moving_mnist.FRAME_RATE`; None for a frame array. Footage
    that states no rate, given no ``fps``, is warned of, naming ``--fps`` (a folder of it
    is taken as 25 fps), once it is read and holds a clip of ``clip_length`` frames."""
    if path.suffix == ".npz":
        source = MovingMNIST.load(path)
        if source.frame_size != frame_size:
            raise ConfigError(f"{path}: frames are {source.frame_size} px but the model takes "
                              f"{frame_size} px; generate with --frame-size {frame_size}")
        return source, fps or MOVING_MNIST_RATE
    cache_dir = cache_dir or default_cache_dir()
    if path.is_file() and is_video(path):
        log.info("%s: one training video", path)
        videos = CachedVideos([(path, 0, None)], frame_size, cache_dir)
        rate = frame_rate(path)
        unstated = fps is None and rate is None
        warning = "%s: states no frame rate, so the model records none and watch scores every "\
                  "frame a camera sends; --fps gives the rate it was filmed at"
    else:
        dataset = open_dataset(path)
        log.info("%s: %s layout, %d training video(s) at %g fps", path, dataset.layout,
                 len(dataset.train), fps or dataset.fps)
        videos = CachedVideos([(r.source, r.start, r.stop) for r in dataset.train], frame_size,
                              cache_dir)
        rate = dataset.fps
        unstated = (fps is None and dataset.layout == "folder"
                    and stated_rate([record.source for record in dataset.train]) is None)
        warning = (f"%s: its videos state no frame rate, so they are taken as {rate:g} fps, "
                   "which the model records (watch scores faster cameras at it); --fps gives "
                   "the rate they were filmed at")
    if unstated and max(map(videos.num_frames, range(len(videos)))) >= clip_length:
        log.warning(warning, path)
    return videos, fps or rate


def run_configs(preset: str | None, config_file: Path | None, train: dict[str, Any],
                scoring: dict[str, Any]) -> tuple[ModelConfig, TrainConfig, ScoringConfig]:
    """A run's configs: the preset's (default ``paper``), then a YAML/JSON config file's
    sections, then ``train`` and ``scoring`` fields given on the command line. Errors
    name the file."""
    file = read_config_file(config_file) if config_file else {}
    source = str(config_file or "arguments")
    try:
        model_config, train_config = preset_configs(preset or file.get("preset", "paper"),
                                                     **file.get("model", {}))
    except ConfigError as error:
        raise ConfigError(f"{config_file}: {error}" if config_file else str(error)) from None
    train_fields = {**dataclasses.asdict(train_config), **file.get("train", {}), **train}
    scoring_fields = {**file.get("scoring", {}), **scoring}
    return (model_config, config_from_dict(TrainConfig, train_fields, source),
            config_from_dict(ScoringConfig, scoring_fields, source))


MIN_VIDEOS_FOR_WHOLE_HOLDOUT = 4  # fewer training videos: held-out tails instead
HELD_OUT_VIDEOS = "held_out_videos"  # config.json: the training videos held out


def split_holdout(videos: FrameSource, fraction: float, clip_length: int
                  ) -> tuple[VideoHeads, list[np.ndarray]]:
    """The training part of each video and the held-out normal tails (of at least one
    clip) that calibrate alarms: what training sees and what it must not."""
    lengths = holdout_split(videos, fraction, clip_length)
    return VideoHeads(videos, lengths), held_out_tails(videos, lengths, clip_length)


def split_videos(videos: CachedVideos, held: int
                 ) -> tuple[VideoSubset, list[np.ndarray], list[str]]:
    """Whole videos held out: the training videos, and the held-out videos' frames and
    names (beyond the paper: new recordings, unlike tails of training videos)."""
    held_indices = held_out_videos(len(videos), held)
    kept = [i for i in range(len(videos)) if i not in held_indices]
    frames = [videos.frames(i, np.arange(videos.num_frames(i))) for i in held_indices]
    return VideoSubset(videos, kept), frames, [videos.name(i) for i in held_indices]


def default_holdout_videos(count: int) -> int:
    """A quarter of the training videos, where there are at least
    :data:`MIN_VIDEOS_FOR_WHOLE_HOLDOUT`; else none (tails)."""
    return max(1, round(count / 4)) if count >= MIN_VIDEOS_FOR_WHOLE_HOLDOUT else 0


def check_holdout(holdout_fraction: float, quantile: float) -> None:
    """The calibration's settings: a held-out fraction in [0, 1), a quantile in (0, 1).

    Raises:
        ConfigError: either out of range (NaN included).
    """
    if not 0 < quantile < 1:
        raise ConfigError(f"quantile must lie in (0, 1), got {quantile}")
    if not 0 <= holdout_fraction < 1:
        raise ConfigError(f"holdout fraction must lie in [0, 1), got {holdout_fraction}")


def train_run(
    source: FrameSource,
    model_config: ModelConfig,
    train_config: TrainConfig,
    run_dir: str | Path,
    *,
    scoring: ScoringConfig | None = None,
    frame_rate: float | None = None,
    holdout_fraction: float = 0.15,
    holdout_videos: int | None = None,
    quantile: float = 0.99,
    resume: bool | None = False,
    devices: int = 1,
    logger: str = "csv",
    plain: bool = False,
) -> Path | None:
    """Train on ``source`` and release the model as ``run_dir/model``.

    Videos (not Moving-MNIST recipes) keep normal footage out of training: whole videos
    (``holdout_videos``; None: a quarter of them where there are at least 4), else the
    last ``holdout_fraction`` of each. After training it is scored and calibrates the
    alarm thresholds (``calibration.json``), at the ``quantile`` of their scores.

    Args:
        frame_rate: frames per second of ``source``'s footage, recorded in the released
            model (``watch`` scores faster cameras at it); None: unknown.
        resume: continue from the last checkpoint; None: whatever the folder holds (a
            finished run is returned as it is, a stopped one resumed).
    Returns:
        The released model folder; None in the extra processes of a multi-GPU run.
    """
    from convlstm_ae.training.fit import fit  # Lightning: imported only to train

    run_dir = writable_folder(run_dir)
    scoring = scoring or ScoringConfig()
    check_holdout(holdout_fraction, quantile)
    model_dir = run_dir / MODEL_DIR
    if resume is None:
        if model_dir.is_dir() and read_model_config(model_dir).get("steps") == \
                train_config.max_steps:
            log.info("%s: trained already (%s)", model_config.preset, model_dir)
            return model_dir
        resume = (run_dir / LAST_CHECKPOINT).is_file()
    tails: list[np.ndarray] = []
    names: list[str] = []
    note = ""
    if isinstance(source, CachedVideos):
        held = default_holdout_videos(len(source)) if holdout_videos is None else holdout_videos
        if held:
            source, tails, names = split_videos(source, held)
            note = f" on {len(source)} videos ({', '.join(names)} held out)"
        elif holdout_fraction > 0:
            source, tails = split_holdout(source, holdout_fraction, model_config.clip_length)
            note = (f" on {sum(source.lengths)} frames ({len(source)} videos, last "
                    f"{holdout_fraction:.0%} of each held out after a gap of one clip)")
    log.info("%s: training %d steps of batch %d, lr %g%s%s", model_config.preset,
             train_config.max_steps, train_config.batch_size, train_config.learning_rate, note,
             " (resuming)" if resume else "")
    trained = fit(source, model_config, train_config, run_dir, scoring=scoring,
                  frame_rate=frame_rate, devices=devices, resume=resume, logger=logger,
                  plain=plain)
    if trained is None:  # an extra process of a multi-GPU run
        return None
    model_dir = trained.model_dir
    log.info("model: %s", model_dir)
    if isinstance(source, VideoHeads) and not tails:
        log.info("no alarm calibration: the held-out tails are shorter than T = %d frames; "
                 "raise --holdout-fraction", model_config.clip_length)
    if names:  # which videos training never saw: calibration and validation footage
        write_model_config(model_dir, {**read_model_config(model_dir),
                                       HELD_OUT_VIDEOS: names})
    if tails:
        calibration = calibrate_model(model_dir, tails, quantile, names or None, trained.model)
        log.info("calibrated on %d held-out normal frames: alarm when the calibrated error "
                 "exceeds %.3g", sum(map(len, tails)), calibration["frame"].threshold)
    return model_dir


def train_seconds(run_dir: Path) -> float | None:
    """Wall-clock training time over every (re)start, from the released model; None
    without one, or where it is not recorded."""
    model_dir = run_dir / MODEL_DIR
    if model_dir.is_dir() and "train_seconds" in (config := read_model_config(model_dir)):
        return float(config["train_seconds"])
    return None


def training_history(run_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(steps, train_loss) of a run over all its (re)starts, later logs winning."""
    losses: dict[int, float] = {}
    for csv_file in sorted(Path(run_dir, "logs").glob("version_*/metrics.csv"),
                           key=lambda p: int(p.parent.name.split("_")[1])):
        steps, values = read_metrics_csv(csv_file)
        losses.update(zip(steps.tolist(), values.tolist(), strict=True))
    steps = np.array(sorted(losses))
    return steps, np.array([losses[s] for s in steps.tolist()])
