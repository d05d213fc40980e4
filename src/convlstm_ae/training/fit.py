"""The training loop: Lightning Trainer, atomic checkpoints, resume, released model."""

from __future__ import annotations

import importlib.util
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.callbacks.progress import ProgressBar
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from torch import nn

from convlstm_ae import progress
from convlstm_ae.atomic import atomic_path
from convlstm_ae.config import ModelConfig, ScoringConfig, TrainConfig, config_to_dict
from convlstm_ae.data.clips import ClipDataset, FrameSource, mean_frame
from convlstm_ae.data.datamodule import ClipDataModule
from convlstm_ae.errors import CheckpointError, ConfigError
from convlstm_ae.release import LAST_CHECKPOINT, MODEL_DIR, save_model, snapshot_dir
from convlstm_ae.release_files import FRAME_RATE
from convlstm_ae.training.module import ReconstructionModule


class Snapshots(pl.Callback):
    """Releases the weights (safetensors + config) at the given steps, e.g. to draw a
    curve of AUC against training length; the last weights stay the headline."""

    def __init__(self, steps: Sequence[int], run_dir: Path, scoring: ScoringConfig | None,
                 train_config: TrainConfig, frame_rate: float | None) -> None:
        self.steps = set(steps)
        self.run_dir = run_dir
        self.scoring = scoring
        self.train_config = train_config
        self.frame_rate = frame_rate

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch,
                           batch_idx) -> None:
        step = trainer.global_step
        if step in self.steps and trainer.is_global_zero:
            save_model(pl_module.model, snapshot_dir(self.run_dir, step), self.scoring,
                       extra={"train": config_to_dict(self.train_config),
                              FRAME_RATE: self.frame_rate, "steps": step})


class TrainingClock(pl.Callback):
    """Wall-clock seconds of training over every (re)start: kept in the training
    checkpoint, so a run resumed here or relayed to another machine adds to it."""

    def __init__(self, timer: Callable[[], float] = time.perf_counter) -> None:
        self._timer = timer  # seconds since any fixed point
        self._before = 0.0  # seconds of the earlier starts, from the checkpoint
        self._started: float | None = None

    @property
    def seconds(self) -> float:
        running = self._timer() - self._started if self._started is not None else 0.0
        return self._before + running

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started = self._timer()

    def state_dict(self) -> dict[str, float]:
        return {"seconds": self.seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._before = float(state_dict["seconds"])


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file and renames it, so a kill never
    leaves a truncated ``last.ckpt``."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        with atomic_path(path) as temporary:
            super().save_checkpoint(checkpoint, temporary, storage_options)


class GracefulStop(pl.Callback):
    """SIGINT (Ctrl-C) or SIGTERM: finish the current step, save the training checkpoint
    at it (atomically) and stop, so that ``--resume`` continues exactly there."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, checkpoint: Path) -> None:
        self.checkpoint = checkpoint
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}

    def _request(self, signum: int, frame: Any) -> None:
        self.requested = signum

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._request) for s in self.SIGNALS}

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch,
                           batch_idx) -> None:
        if self.requested is not None and not trainer.should_stop:
            trainer.save_checkpoint(self.checkpoint)
            trainer.should_stop = True

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}


class StepProgressBar(ProgressBar):
    """One bar over all training steps: loss, frames/s and ETA to ``max_steps``."""

    def __init__(self) -> None:
        super().__init__()
        self._enabled = True
        self._bar: Any = None

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._enabled and trainer.is_global_zero:
            self._bar = progress.bar(total=trainer.max_steps, initial=trainer.global_step,
                                     desc="train", unit="step")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._bar is None:
            return
        self._bar.update(trainer.global_step - self._bar.n)
        if trainer.global_step % trainer.log_every_n_steps:
            return  # reading metrics waits for the GPU: only on logging steps
        metrics = trainer.progress_bar_metrics
        self._bar.set_postfix(
            {k: f"{v:.4g}" for k, v in metrics.items() if k in ("train_loss", "frames_per_s")},
            refresh=False,
        )

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        if self._bar is not None:
            self._bar.close(failed=True)  # cleared: the error is the only line
            self._bar = None


def _check_checkpoint(path: Path, model_config: ModelConfig) -> None:
    """A checkpoint to resume from: readable as plain tensors and containers (never
    pickled objects), and of the model being trained."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        saved = checkpoint["hyper_parameters"]["model"]
    except Exception as error:  # torch raises many kinds for a damaged file
        raise CheckpointError(f"{path}: not a readable training checkpoint "
                              f"({type(error).__name__}); delete it or train into a new "
                              "folder") from None
    if saved != config_to_dict(model_config):
        raise CheckpointError(f"{path}: trained a {saved.get('preset')!r} model of other "
                              f"settings, not this {model_config.preset!r}; train into a new "
                              "folder")


@dataclass(frozen=True)
class Trained:
    """A finished training: the released model folder, and the same model in memory."""

    model_dir: Path
    model: nn.Module


def fit(
    source: FrameSource,
    model_config: ModelConfig,
    train_config: TrainConfig,
    run_dir: str | Path,
    *,
    scoring: ScoringConfig | None = None,
    frame_rate: float | None = None,
    devices: int = 1,
    accelerator: str = "auto",
    resume: bool = False,
    logger: str = "csv",
    progress: bool = True,
    plain: bool = False,
    callbacks: Sequence[pl.Callback] = (),
) -> Trained | None:
    """Train a model on clips of ``source`` and release it as ``run_dir/model``.

    Training checkpoints (Lightning's, written atomically) go to ``run_dir/checkpoints``
    every ``train_config.checkpoint_every`` steps; ``resume=True`` continues from the
    last one with its step count and optimizer state. The released models record
    ``frame_rate``, the training footage's frames per second (None: unknown).

    On a CUDA device training takes the fast path (channels-last, the loss compiled by
    ``torch.compile``) unless ``plain`` is set; both compute the same function. ``callbacks`` are
    extra Lightning callbacks (a profiler, a throughput probe).

    Returns:
        The released model folder (``model.safetensors`` + ``config.json``) and the model
        in memory; None in the extra processes of a multi-GPU run, which should end.
    """
    run_dir = Path(run_dir)
    last = run_dir / LAST_CHECKPOINT
    if resume and not last.is_file():
        raise CheckpointError(f"{last}: no checkpoint to resume from")
    if resume:
        _check_checkpoint(last, model_config)
    if not resume and last.is_file():
        raise CheckpointError(
            f"{run_dir}: holds a training run already; pass --resume or a new folder"
        )
    if logger not in ("csv", "tensorboard"):
        raise ConfigError(f"logger {logger!r} is unknown; expected csv or tensorboard")
    if logger == "tensorboard" and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError("logger 'tensorboard' needs the tensorboard package (pip install it)")
    pl.seed_everything(train_config.seed, workers=True, verbose=False)
    dataset = ClipDataset(
        source, model_config.clip_length, train_config.sampling_strides,
        model_config.frame_size, seed=train_config.seed,
    )
    module = ReconstructionModule.from_configs(model_config, train_config, plain=plain)
    if model_config.normalization == "mean_frame" and not resume:
        module.model.mean_frame.copy_(mean_frame(dataset))
    use_cuda = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    log_cls = CSVLogger if logger == "csv" else TensorBoardLogger
    stop = GracefulStop(last)
    clock = TrainingClock()
    trainer = pl.Trainer(
        accelerator="gpu" if use_cuda else "cpu",
        devices=devices,
        strategy="ddp" if devices > 1 else "auto",
        precision="bf16-mixed" if use_cuda else "32-true",
        max_steps=train_config.max_steps,
        max_epochs=-1,
        logger=log_cls(save_dir=run_dir, name="logs"),  # logs/version_N, one per (re)start
        log_every_n_steps=train_config.log_every,
        callbacks=[
            ModelCheckpoint(
                dirpath=run_dir / "checkpoints", save_last=True, save_top_k=0,
                enable_version_counter=False,
                every_n_train_steps=train_config.checkpoint_every,
            ),
            *([StepProgressBar()] if progress else []),
            Snapshots(train_config.snapshot_steps, run_dir, scoring, train_config, frame_rate),
            stop,
            clock,
            *callbacks,
        ],
        plugins=[AtomicCheckpointIO()],
        enable_progress_bar=progress,
        enable_model_summary=False,
        use_distributed_sampler=False,
        benchmark=use_cuda,
        default_root_dir=run_dir,
    )
    trainer.fit(module, datamodule=ClipDataModule(dataset, train_config),
                ckpt_path=str(last) if resume else None)
    if stop.requested is not None:  # the checkpoint at the last finished step is saved
        raise KeyboardInterrupt(f"stopped at step {trainer.global_step}")
    trainer.save_checkpoint(last)  # the final step too, whatever checkpoint_every is
    if not trainer.is_global_zero:
        # the extra processes DDP launched re-run the caller's script: they release
        # nothing, so releasing, calibrating and scoring happen once, in the main process
        return None
    model_dir = run_dir / MODEL_DIR
    save_model(
        module.model, model_dir, scoring,
        extra={"train": config_to_dict(train_config), FRAME_RATE: frame_rate,
               "steps": trainer.global_step, "train_seconds": round(clock.seconds, 1)},
    )
    return Trained(model_dir, module.model)
