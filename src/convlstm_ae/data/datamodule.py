"""The Lightning DataModule serving training clips, sharded per rank by training step."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from convlstm_ae.config import TrainConfig
from convlstm_ae.data.clips import ClipDataset, StepSampler


class ClipDataModule(pl.LightningDataModule):
    """Serves :class:`ClipDataset` through a :class:`StepSampler` sharded per rank."""

    def __init__(self, dataset: ClipDataset, train: TrainConfig) -> None:
        super().__init__()
        self.dataset = dataset
        self.train = train

    def train_dataloader(self) -> DataLoader:
        world = self.trainer.world_size
        sampler = StepSampler(
            self.train.batch_size * world,
            current_step=lambda: self.trainer.global_step,  # restored when resuming
            last_step=self.train.max_steps,
            rank=self.trainer.global_rank,
            world_size=world,
        )
        workers = self.train.num_workers
        return DataLoader(
            self.dataset,
            batch_size=self.train.batch_size,
            sampler=sampler,
            num_workers=workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=workers > 0,
            drop_last=True,
        )
