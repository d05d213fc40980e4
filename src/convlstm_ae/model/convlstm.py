"""Convolutional LSTM of Shi et al. [12], as written in Eq. (1) of the paper."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

State = tuple[Tensor, Tensor]  # (h, c), each (B, C_h, H, W)
Pointwise = Callable[[Tensor, Tensor | None], State]


def lstm_pointwise(gates: Tensor, c_prev: Tensor | None) -> State:
    """The element-wise part of Eq. (1): gate pre-activations -> (h_t, c_t).

    ``gates`` stacks the pre-activations of i, f, o and c~ on dim 1; ``c_prev`` None
    is the zero initial memory, whose forget term vanishes.
    """
    i, f, o, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(i) * torch.tanh(g)
    if c_prev is not None:
        c = c + torch.sigmoid(f) * c_prev
    return torch.sigmoid(o) * torch.tanh(c), c


class ConvLSTMCell(nn.Module):
    """One ConvLSTM cell, Eq. (1).

    The input-to-hidden convolutions ``w_x*`` of the four gates are one convolution
    with bias (the ``b`` of Eq. 1); the hidden-to-hidden ``w_h*`` are one convolution
    without bias, since Eq. (1) has a single bias per gate. Gates are stacked in the
    order i, f, o, c~. A ``None`` state is h_0 = c_0 = 0 (Sec. 3.2): the hidden
    convolution of zeros is zero, so it is skipped rather than computed.
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        padding = kernel_size // 2
        self.input_conv = nn.Conv2d(in_channels, 4 * hidden_channels, kernel_size, padding=padding)
        self.hidden_conv = nn.Conv2d(
            hidden_channels, 4 * hidden_channels, kernel_size, padding=padding, bias=False
        )
        self.pointwise: Pointwise = lstm_pointwise

    def fuse_pointwise(self) -> None:
        """Run the gate arithmetic as one kernel compiled by ``torch.compile``."""
        self.pointwise = torch.compile(lstm_pointwise)  # dynamic after a first recompile

    def gates_step(self, input_gates: Tensor, state: State | None) -> State:
        """Finish Eq. (1) given the precomputed ``w_x * x_t + b`` of all four gates."""
        if state is None:
            return self.pointwise(input_gates, None)
        h_prev, c_prev = state
        return self.pointwise(input_gates + self.hidden_conv(h_prev), c_prev)

    def forward(self, x: Tensor, state: State | None = None) -> State:
        """One step: x_t (B, C_in, H, W) and (h_{t-1}, c_{t-1}) -> (h_t, c_t)."""
        return self.gates_step(self.input_conv(x), state)


class ConvLSTM(nn.Module):
    """A ConvLSTM cell unrolled over the T frames of a clip."""

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.cell = ConvLSTMCell(in_channels, hidden_channels, kernel_size)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Run over a sequence.

        The input-to-hidden convolution does not depend on h, so it runs once over all
        T frames; only the hidden-to-hidden convolution stays inside the loop.

        Args:
            x: encoded frames, (B, T, C_in, H, W).
            state: (h, c) carried from a previous call; None starts from zeros.
        Returns:
            h_1..h_T as (B, T, C_h, H, W), and the final (h_T, c_T).
        """
        t = x.shape[1]
        input_gates = self.cell.input_conv(x.flatten(0, 1))  # (B*T, 4*C_h, H, W)
        input_gates = input_gates.unflatten(0, (-1, t))  # B left free: an exported graph's batch
        outputs = []
        for step in range(t):
            state = self.cell.gates_step(input_gates[:, step], state)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1), state
