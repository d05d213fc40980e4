"""LightningModule wrapping either model with its loss and AdaGrad (Sec. 4.1)."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from convlstm_ae.config import ModelConfig, TrainConfig, config_from_dict, config_to_dict
from convlstm_ae.model.acceleration import accelerate, use_fast_path
from convlstm_ae.model.conv_ae import ConvAE
from convlstm_ae.model.presets import build_model
from convlstm_ae.training.loss import clip_reconstruction_loss, reconstruction_loss


class ReconstructionModule(pl.LightningModule):
    """Training glue: normalise uint8 clips on the device, reconstruct, minimise the loss.

    On a CUDA device training takes the fast path (:meth:`enable_fast_path`) unless
    ``plain`` is set. The loss leaves the device only every ``log_every`` steps, so the
    host never waits on the GPU between.
    """

    def __init__(self, model: dict[str, Any], train: dict[str, Any], plain: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.plain = plain
        self.model_config = config_from_dict(ModelConfig, model)
        self.train_config = config_from_dict(TrainConfig, train)
        self.model = build_model(self.model_config)
        self._tick: tuple[float, int] | None = None

    @classmethod
    def from_configs(cls, model: ModelConfig, train: TrainConfig, plain: bool = False
                     ) -> ReconstructionModule:
        return cls(config_to_dict(model), config_to_dict(train), plain)

    def loss(self, frames: Tensor) -> Tensor:
        """Training loss of a batch of uint8 clips (B, T, C, H, W)."""
        return self._loss(frames)

    def _loss(self, frames: Tensor) -> Tensor:
        clip = self.model.normalize(frames)
        if isinstance(self.model, ConvAE):
            return clip_reconstruction_loss(clip, self.model(clip))
        current, previous, _ = self.model(clip)
        return reconstruction_loss(clip, current, previous)

    def setup(self, stage: str) -> None:
        if use_fast_path(self.trainer.strategy.root_device, self.plain):
            self.enable_fast_path()

    def enable_fast_path(self) -> None:
        """Channels-last model, and the whole loss (model, Eq. 2, its backward) compiled
        by ``torch.compile``, which fuses the element-wise work around the convolutions."""
        accelerate(self.model, fuse=False)
        self._loss = torch.compile(self._loss)

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        loss = self.loss(batch)
        if (self.global_step + 1) % self.train_config.log_every == 0:  # a logging step
            self.log("train_loss", loss, prog_bar=True, sync_dist=True)  # global-batch mean
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Tensor, batch_idx: int) -> None:
        every = self.train_config.log_every
        if self.global_step % every:
            return
        now = (time.perf_counter(), self.global_step)
        if self._tick is not None and now[1] > self._tick[1]:
            frames = (now[1] - self._tick[1]) * batch.shape[0] * batch.shape[1]
            frames *= self.trainer.world_size
            self.log("frames_per_s", frames / (now[0] - self._tick[0]), prog_bar=True)
        self._tick = now

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adagrad(
            self.model.parameters(),
            lr=self.train_config.learning_rate,
            weight_decay=self.train_config.weight_decay,
        )
