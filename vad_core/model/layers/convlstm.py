"""Convolutional LSTM (Shi et al. 2015): an LSTM whose gates are 3x3 convolutions.

layer = ConvLSTM(64, 32, kernel_size=3)
y = layer(x)            # (B, T, 64, H, W) -> (B, T, 32, H, W)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vad_core.model.layers.conv import cached
from vad_core.model.layers.winograd import add_conv3x3_winograd_, winograd_ok, winograd_weight


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
    """Runs a ConvLSTMCell over the time axis, starting from a zero state.

    For inference (no autograd, `fast` set) the input half of the gate convolution runs once over all
    T frames as one batch, only the hidden half stays in the recurrence (and is skipped at t = 0,
    where h = 0), and the gate arithmetic works in place. On the CPU one sigmoid covers all four
    gates (tanh as 2 sigmoid(2a) - 1, as in vad_core.model.layers.conv.tanh_), and the recurrent 3x3
    convolution runs by Winograd's F(2x2, 3x3) (vad_core.model.layers.winograd) on h kept with a zero border.
    Same weights, same sums regrouped.
    """

    def __init__(self, in_ch: int, hidden_ch: int, kernel_size: int = 3):
        super().__init__()
        self.cell = ConvLSTMCell(in_ch, hidden_ch, kernel_size)
        self.fast = True

    def forward(self, x: Tensor) -> Tensor:
        if self.fast and not torch.is_grad_enabled():
            return self._forward_fast(x)
        state = self.cell.initial_state(x[:, 0])
        outputs = []
        for t in range(x.shape[1]):  # (B, T, C, H, W): one step per frame
            state = self.cell(x[:, t], state)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1)

    def _forward_fast(self, x: Tensor) -> Tensor:
        b, t, cin, height, width = x.shape
        gates = self.cell.gates
        hid = self.cell.hidden_ch
        sigmoid_only = x.device.type == "cpu"
        pad = gates.padding
        winograd = winograd_ok(x, gates.weight, pad)
        w_x, w_h, bias, u_h = cached(
            self, f"gates_{sigmoid_only}", (gates.weight, gates.bias), lambda: self._split_weights(cin, sigmoid_only)
        )
        g_x = F.conv2d(x.flatten(0, 1), w_x, bias, padding=pad).unflatten(0, (b, t))  # (B, T, 4H, h, w)
        if winograd:  # h goes into a zero-bordered buffer: its recurrent convolution reads it from there
            h_padded = x.new_zeros(b, t, height + 2, width + 2, hid)
            out = h_padded[:, :, 1:-1, 1:-1].permute(0, 1, 4, 2, 3)  # (B, T, H, h, w), NHWC frames
        else:
            out = x.new_empty(b, t, height, width, hid).permute(0, 1, 4, 2, 3)
        h = c = None
        for step in range(t):
            g = g_x[:, step]
            if h is not None and winograd:
                add_conv3x3_winograd_(g, h_padded[:, step - 1].permute(0, 3, 1, 2), u_h)
            elif h is not None:
                g = F.conv2d(h, w_h, padding=pad).add_(g)
            if sigmoid_only:  # tanh(a) = 2 sigmoid(2a) - 1, the candidate's 2a from the doubled weights
                s = g.sigmoid_()
                i, f, o = s[:, :hid], s[:, hid : 2 * hid], s[:, 2 * hid : 3 * hid]
                cand = s[:, 3 * hid :].mul_(2.0).sub_(1.0)
            else:
                ifo = torch.sigmoid(g[:, : 3 * hid])
                i, f, o = ifo[:, :hid], ifo[:, hid : 2 * hid], ifo[:, 2 * hid :]
                cand = torch.tanh(g[:, 3 * hid :])
            c = i * cand if c is None else c.mul_(f).addcmul_(i, cand)
            squashed = torch.mul(c, 2.0).sigmoid_().mul_(2.0).sub_(1.0) if sigmoid_only else torch.tanh(c)
            h = torch.mul(squashed, o, out=out[:, step])
        return out

    def _split_weights(self, cin: int, sigmoid_only: bool) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """The gate convolution's input and hidden halves, channels-last, and the hidden half as Winograd
        kernels (CPU); with sigmoid_only the candidate gate's rows doubled (exact), so one sigmoid over
        all four gates gives sigmoid(2a) for it."""
        w, bias = self.cell.gates.weight, self.cell.gates.bias
        if sigmoid_only:
            scale = torch.ones(w.shape[0], dtype=w.dtype, device=w.device)
            scale[3 * self.cell.hidden_ch :] = 2.0
            w = w * scale[:, None, None, None]
            bias = bias * scale if bias is not None else None
        cl = torch.channels_last  # NHWC throughout: mkldnn's faster layout for these convolutions
        w_x, w_h = w[:, :cin], w[:, cin:]
        u_h = winograd_weight(w_h) if sigmoid_only and w.shape[2:] == (3, 3) else None
        return w_x.contiguous(memory_format=cl), w_h.contiguous(memory_format=cl), bias, u_h
