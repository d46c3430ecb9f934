"""Convolutional LSTM (Shi et al. 2015): an LSTM whose gates are 3x3 convolutions.

layer = ConvLSTM(64, 32, kernel_size=3)
y = layer(x)            # (B, T, 64, H, W) -> (B, T, 32, H, W)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ConvLSTMCell(nn.Module):
    """One time step; the four gates come from a single convolution over [input, hidden]."""

    def __init__(self, in_ch: int, hidden_ch: int, kernel_size: int = 3):
        super().__init__()
        self.hidden_ch = hidden_ch
        self.gates = nn.Conv2d(in_ch + hidden_ch, 4 * hidden_ch, kernel_size, padding=kernel_size // 2)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

    def initial_state(self, x: Tensor) -> tuple[Tensor, Tensor]:
        zeros = x.new_zeros(x.shape[0], self.hidden_ch, x.shape[2], x.shape[3])
        return zeros, zeros


class ConvLSTM(nn.Module):
    """Runs a ConvLSTMCell over the time axis, starting from a zero state."""

    def __init__(self, in_ch: int, hidden_ch: int, kernel_size: int = 3):
        super().__init__()
        self.cell = ConvLSTMCell(in_ch, hidden_ch, kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        state = self.cell.initial_state(x[:, 0])
        outputs = []
        for t in range(x.shape[1]):  # (B, T, C, H, W): one step per frame
            state = self.cell(x[:, t], state)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1)
