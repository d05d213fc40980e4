"""The plain-PyTorch reference of issue 5: ConvLSTM-AE as a user would write it.

One frame at a time through the encoder, a ConvLSTM cell that convolves
``cat([x_t, h_{t-1}])``, and both decoders, in a Python loop over T; bf16 autocast,
channels-last and cudnn.benchmark are the caller's. It takes any ``ModelConfig`` of
the ConvLSTM-AE family and can copy the weights of our model, so the benchmarks
compare the same function (``tests/test_benchmark_reference.py`` checks it).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from convlstm_ae.config import ModelConfig
from convlstm_ae.model.convlstm_ae import ConvLSTMAE, feature_sizes


def _decoder(config: ModelConfig) -> nn.Sequential:
    sizes = feature_sizes(config.frame_size, config.frame_size, config.encoder_kernels,
                          config.encoder_strides)
    channels = (config.in_channels, *config.encoder_channels[:-1])[::-1]
    layers: list[nn.Module] = []
    in_channels = config.lstm_channels
    steps = zip(channels, config.encoder_kernels[::-1], config.encoder_strides[::-1],
                sizes[::-1][:-1], sizes[::-1][1:], strict=True)
    for out_channels, kernel, stride, (size_in, _), (size_out, _) in steps:
        natural = (size_in - 1) * stride - 2 * (kernel // 2) + kernel
        layers += [nn.ConvTranspose2d(in_channels, out_channels, kernel, stride, kernel // 2,
                                      output_padding=size_out - natural), nn.ReLU()]
        in_channels = out_channels
    layers[-1] = nn.Tanh() if config.output_activation == "tanh" else nn.Identity()
    return nn.Sequential(*layers)


class ReferenceConvLSTMAE(nn.Module):
    """Plain ConvLSTM-AE: encoder, ConvLSTM on cat([x, h]), two decoders, per frame."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = config.in_channels
        for channels, kernel, stride in zip(config.encoder_channels, config.encoder_kernels,
                                            config.encoder_strides, strict=True):
            layers += [nn.Conv2d(in_channels, channels, kernel, stride, kernel // 2), nn.ReLU()]
            in_channels = channels
        self.encoder = nn.Sequential(*layers)
        self.hidden_channels = config.lstm_channels
        self.gates = nn.Conv2d(in_channels + config.lstm_channels, 4 * config.lstm_channels,
                               config.lstm_kernel, padding=config.lstm_kernel // 2)
        self.decoder_current = _decoder(config)
        self.decoder_previous = _decoder(config)

    def step(self, frame: Tensor, state: tuple[Tensor, Tensor] | None):
        """frame (B, C, H, W) -> current, previous reconstructions and the new (h, c)."""
        x = self.encoder(frame)
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_channels, *x.shape[2:])
            state = (zeros, zeros)
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return self.decoder_current(h), self.decoder_previous(h), (h, c)

    def forward(self, clip: Tensor) -> tuple[Tensor, Tensor]:
        """clip (B, T, C, H, W) -> current and previous reconstructions, (B, T, C, H, W)."""
        state = None
        currents, previouses = [], []
        for t in range(clip.shape[1]):
            current, previous, state = self.step(clip[:, t], state)
            currents.append(current)
            previouses.append(previous)
        return torch.stack(currents, 1), torch.stack(previouses, 1)

    @torch.no_grad()
    def copy_from(self, model: ConvLSTMAE) -> ReferenceConvLSTMAE:
        """Take the weights of our model (same config), to compare the two functions."""
        ours = [m for m in model.encoder.layers if isinstance(m, nn.Conv2d)]
        mine = [m for m in self.encoder if isinstance(m, nn.Conv2d)]
        for src, dst in zip(ours, mine, strict=True):
            dst.load_state_dict(src.state_dict())
        cell = model.convlstm.cell
        self.gates.weight.copy_(torch.cat([cell.input_conv.weight, cell.hidden_conv.weight], 1))
        self.gates.bias.copy_(cell.input_conv.bias)
        for src, dst in ((model.decoder_current, self.decoder_current),
                         (model.decoder_previous, self.decoder_previous)):
            deconvs = [m for m in dst if isinstance(m, nn.ConvTranspose2d)]
            for a, b in zip(src.deconvs, deconvs, strict=True):
                b.load_state_dict(a.state_dict())
        return self


def reference_loss(clip: Tensor, current: Tensor, previous: Tensor) -> Tensor:
    """Eq. (2) as the reference writes it."""
    return 0.5 * ((clip - current).pow(2).sum()
                  + (clip[:, :-1] - previous[:, 1:]).pow(2).sum()) / clip.shape[0]
