"""Named presets: the paper's model, the authors' Caffe release, small CPU sizes, Conv-AE."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from convlstm_ae.config import ModelConfig, TrainConfig
from convlstm_ae.errors import ConfigError
from convlstm_ae.model.conv_ae import ConvAE
from convlstm_ae.model.convlstm_ae import ConvLSTMAE

# the largest model built: 40 times the paper's 24.9 M parameters (4 GB of float32)
MAX_PARAMETERS = 1_000_000_000

_CONV_AE = ModelConfig(
    architecture="conv_ae",
    encoder_channels=(512, 256, 128),  # Hasan et al. [9]
    encoder_kernels=(11, 5, 3),
    encoder_strides=(4, 1, 1),  # 2x2 max pooling after the first two convolutions
    frame_size=227,  # Hasan et al. [9]: 227x227 frames minus the training mean frame
    normalization="mean_frame",
)
_TINY = dict(frame_size=64, lstm_channels=32, encoder_channels=(16, 32, 32))
_replace = dataclasses.replace

# name -> (ModelConfig, TrainConfig); the defaults of both are the paper's
PRESETS: dict[str, tuple[ModelConfig, TrainConfig]] = {
    # Sec. 3.2 and 4.1 of the paper: strides 2, ReLU, linear output, AdaGrad lr 0.01, batch 4
    "paper": (ModelConfig(), TrainConfig()),
    # The authors' released Caffe prototxt (beyond the paper's text): conv1 and the last
    # deconvolution stride 4, tanh outputs, pixels / 255 minus the training mean frame,
    # AdaGrad lr 1e-3, weight decay 5e-4, batch 8. Its bias-free hidden-to-hidden
    # convolutions are what Eq. (1) already implies, so every preset has them.
    "caffe": (
        ModelConfig(encoder_strides=(4, 2, 2), output_activation="tanh",
                    normalization="mean_frame"),
        TrainConfig(learning_rate=1e-3, weight_decay=5e-4, batch_size=8),
    ),
    # Narrow and 64 px: the CPU demo and the tests.
    "tiny": (ModelConfig(**_TINY), TrainConfig(batch_size=8)),
    # Conv-AE baseline [9] as Hasan et al. train it: 227 px, the training mean frame
    # subtracted, AdaGrad lr 0.01, strides 1/2/3.
    "conv-ae": (_CONV_AE, TrainConfig()),
    "conv-ae-tiny": (
        _replace(_CONV_AE, frame_size=64, encoder_channels=(64, 32, 16), normalization="unit"),
        TrainConfig(batch_size=8),
    ),
}


def list_presets() -> list[str]:
    """Names accepted by :func:`preset_configs` and :func:`create_model`."""
    return list(PRESETS)


def preset_configs(name: str, **overrides: Any) -> tuple[ModelConfig, TrainConfig]:
    """ModelConfig and TrainConfig of a preset; ``overrides`` replace model fields.

    Raises:
        ConfigError: for an unknown preset or an unknown field.
    """
    if name not in PRESETS:
        raise ConfigError(f"preset {name!r} is unknown; expected one of {', '.join(PRESETS)}")
    model_config, train_config = PRESETS[name]
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"preset {name!r}: unknown model field {unknown[0]!r}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return _replace(model_config, **values, preset=name), train_config


def _module(config: ModelConfig) -> ConvLSTMAE | ConvAE:
    return ConvAE(config) if config.architecture == "conv_ae" else ConvLSTMAE(config)


def build_model(config: ModelConfig) -> ConvLSTMAE | ConvAE:
    """The nn.Module a ModelConfig describes.

    Raises:
        ConfigError: a model over :data:`MAX_PARAMETERS`, counted before allocating.
    """
    with torch.device("meta"):  # shapes only, no memory
        count = sum(p.numel() for p in _module(config).parameters())
    if count > MAX_PARAMETERS:
        raise ConfigError(f"this model has {count:,} parameters; at most {MAX_PARAMETERS:,} "
                          "are built")
    return _module(config)


def create_model(name: str = "paper", **overrides: Any) -> nn.Module:
    """Create a freshly initialised model from a preset name, e.g. ``create_model("tiny")``."""
    model_config, _ = preset_configs(name, **overrides)
    return build_model(model_config)
