"""The GPU fast path: channels-last memory and fused ConvLSTM gate arithmetic.

Both compute the same function as the plain path (tested in fp32 on the CPU); they
only change how memory is laid out and how many kernels run. ``accelerate`` is what
training and scoring apply by default on a CUDA device; pass ``plain`` options to
keep the eager, contiguous model.
"""

from __future__ import annotations

import torch
from torch import nn

from convlstm_ae.model.convlstm_ae import ConvLSTMAE, FrameModel


def accelerate(model: FrameModel, *, fuse: bool = True) -> FrameModel:
    """Switch ``model`` in place to channels-last weights and activations and, for a
    ConvLSTM-AE, to one compiled kernel for the gate arithmetic of Eq. (1).

    Parameters keep their identity, so an optimizer built before stays valid.
    """
    model.to(memory_format=torch.channels_last)
    model.memory_format = torch.channels_last
    if fuse and isinstance(model, ConvLSTMAE):
        model.convlstm.cell.fuse_pointwise()
    return model


def is_accelerated(model: nn.Module) -> bool:
    """Whether :func:`accelerate` has been applied to ``model``."""
    return getattr(model, "memory_format", None) == torch.channels_last


def use_fast_path(device: torch.device | str, plain: bool = False) -> bool:
    """The fast path is the default on CUDA devices and is never used on the CPU."""
    return not plain and torch.device(device).type == "cuda"
