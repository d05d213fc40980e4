"""ConvLSTM-AE (Sec. 3.2, Fig. 1): ConvNet encoder f_c, ConvLSTM, DeconvNets f_d^c, f_d^p."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from convlstm_ae.config import ModelConfig
from convlstm_ae.model.convlstm import ConvLSTM, State


def conv_output_size(size: int, kernel: int, stride: int) -> int:
    """Output side of a zero-padded (padding = kernel // 2) convolution."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def feature_sizes(
    height: int, width: int, kernels: tuple[int, ...], strides: tuple[int, ...]
) -> list[tuple[int, int]]:
    """Spatial sizes at the input of every encoder layer and at its end.

    225 -> 113 -> 57 -> 29 for the paper preset; the decoder walks this list back.
    """
    sizes = [(height, width)]
    for kernel, stride in zip(kernels, strides, strict=True):
        h, w = sizes[-1]
        sizes.append((conv_output_size(h, kernel, stride), conv_output_size(w, kernel, stride)))
    return sizes


class Encoder(nn.Module):
    """ConvNet f_c: convolutions with zero padding, each followed by ReLU."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = config.in_channels
        for channels, kernel, stride in zip(
            config.encoder_channels, config.encoder_kernels, config.encoder_strides, strict=True
        ):
            layers += [nn.Conv2d(in_channels, channels, kernel, stride, kernel // 2), nn.ReLU()]
            in_channels = channels
        self.layers = nn.Sequential(*layers)

    def forward(self, frames: Tensor) -> Tensor:
        return self.layers(frames)


class DeconvNet(nn.Module):
    """DeconvNet f_d: the encoder flipped, rebuilding a frame of exactly the input size.

    Channels run 512 -> 256 -> 128 -> 1 and kernels 3, 5, 7 for the paper preset.
    Each transposed convolution is given the size its mirrored encoder layer saw, so
    odd and even frame sizes come back exactly.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        channels = (config.in_channels, *config.encoder_channels[:-1])[::-1]
        in_channels = config.lstm_channels
        self.deconvs = nn.ModuleList()
        for out_channels, kernel, stride in zip(
            channels, config.encoder_kernels[::-1], config.encoder_strides[::-1], strict=True
        ):
            self.deconvs.append(
                nn.ConvTranspose2d(in_channels, out_channels, kernel, stride, kernel // 2)
            )
            in_channels = out_channels
        self.output = nn.Tanh() if config.output_activation == "tanh" else nn.Identity()

    def forward(self, hidden: Tensor, sizes: list[tuple[int, int]]) -> Tensor:
        """hidden (N, C_h, h, w) -> frame (N, C, H, W); ``sizes`` from :func:`feature_sizes`."""
        x = hidden
        targets = sizes[:-1][::-1]
        for index, (deconv, size) in enumerate(zip(self.deconvs, targets, strict=True)):
            x = deconv(x, output_size=size)
            x = torch.relu(x) if index < len(self.deconvs) - 1 else self.output(x)
        return x


class FrameModel(nn.Module):
    """What every model shares: its config and the input normalisation.

    The mean frame used by the ``caffe`` preset is a buffer, so it travels with the
    weights; it stays zero for the ``unit`` normalisation. ``memory_format`` is the
    layout of the activations fed to the convolutions (channels-last on the GPU fast
    path, see :mod:`convlstm_ae.model.acceleration`).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.memory_format = torch.contiguous_format
        size = config.frame_size
        self.register_buffer("mean_frame", torch.zeros(config.in_channels, size, size))

    def normalize(self, frames: Tensor) -> Tensor:
        """uint8 or [0, 255] frames (..., C, H, W) -> the model's input scale."""
        x = frames.float() / 255.0
        if self.config.normalization == "mean_frame":
            x = x - self.mean_frame
        return x


class ConvLSTMAE(FrameModel):
    """ConvLSTM auto-encoder: X_t -> f_c -> ConvLSTM -> (X^R_{t,t}, X^R_{t,t-1})."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.encoder = Encoder(config)
        self.convlstm = ConvLSTM(
            config.encoder_channels[-1], config.lstm_channels, config.lstm_kernel
        )
        self.decoder_current = DeconvNet(config)  # f_d^c
        self.decoder_previous = DeconvNet(config)  # f_d^p
        reset_parameters(self)

    def forward(self, clip: Tensor, state: State | None = None) -> tuple[Tensor, Tensor, State]:
        """Reconstruct current and previous frames of a clip.

        Args:
            clip: normalised frames, (B, T, C, H, W).
            state: ConvLSTM (h, c) carried over from the previous frames; None = zeros.
        Returns:
            current X^R_{t,t} and previous X^R_{t,t-1}, each (B, T, C, H, W), and the
            final state. The previous-frame output at the first step of a fresh state has
            no target (Eq. 2 skips it).
        """
        b, t, _, height, width = clip.shape
        config = self.config
        sizes = feature_sizes(height, width, config.encoder_kernels, config.encoder_strides)
        layout = self.memory_format
        encoded = self.encoder(clip.flatten(0, 1).contiguous(memory_format=layout))
        hidden, state = self.convlstm(encoded.unflatten(0, (b, t)), state)  # (B, T, 512, h, w)
        hidden = hidden.flatten(0, 1).contiguous(memory_format=layout)
        current = self.decoder_current(hidden, sizes).unflatten(0, (b, t))
        previous = self.decoder_previous(hidden, sizes).unflatten(0, (b, t))
        return current, previous, state

    def step(self, frame: Tensor, state: State | None = None) -> tuple[Tensor, Tensor, State]:
        """One frame (B, C, H, W) with explicit state; the streaming form of :meth:`forward`."""
        current, previous, state = self(frame.unsqueeze(1), state)
        return current[:, 0], previous[:, 0], state


def reset_parameters(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for every (de)convolution (Sec. 4.1)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
