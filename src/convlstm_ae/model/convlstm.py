"""Convolutional LSTM of Shi et al. [12], as written in Eq. (1) of the paper."""

from __future__ import annotations

import torch
from torch import Tensor, nn

State = tuple[Tensor, Tensor]  # (h, c), each (B, C_h, H, W)


class ConvLSTMCell(nn.Module):
    """One ConvLSTM cell, Eq. (1).

    The input-to-hidden convolutions ``w_x*`` of the four gates are one convolution
    with bias (the ``b`` of Eq. 1); the hidden-to-hidden ``w_h*`` are one convolution
    without bias, since Eq. (1) has a single bias per gate. Gates are stacked in the
    order i, f, o, c~.
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        padding = kernel_size // 2
        self.input_conv = nn.Conv2d(in_channels, 4 * hidden_channels, kernel_size, padding=padding)
        self.hidden_conv = nn.Conv2d(
            hidden_channels, 4 * hidden_channels, kernel_size, padding=padding, bias=False
        )

    def zero_state(self, x: Tensor) -> State:
        """h_0 = c_0 = 0 (Sec. 3.2), shaped like the hidden maps for input ``x``."""
        b, _, h, w = x.shape
        zeros = x.new_zeros(b, self.hidden_channels, h, w)
        return zeros, zeros

    def gates_step(self, input_gates: Tensor, state: State) -> State:
        """Finish Eq. (1) given the precomputed ``w_x * x_t + b`` of all four gates."""
        h_prev, c_prev = state
        gates = input_gates + self.hidden_conv(h_prev)  # (B, 4*C_h, H, W)
        i, f, o, g = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

    def forward(self, x: Tensor, state: State | None = None) -> State:
        """One step: x_t (B, C_in, H, W) and (h_{t-1}, c_{t-1}) -> (h_t, c_t)."""
        if state is None:
            state = self.zero_state(x)
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
        b, t = x.shape[:2]
        input_gates = self.cell.input_conv(x.flatten(0, 1))  # (B*T, 4*C_h, H, W)
        input_gates = input_gates.unflatten(0, (b, t))
        if state is None:
            state = self.cell.zero_state(x[:, 0])
        outputs = []
        for step in range(t):
            state = self.cell.gates_step(input_gates[:, step], state)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1), state
