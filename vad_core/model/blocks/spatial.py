"""Per-frame spatial encoder and decoder; time is folded into the batch axis.

enc = SpatialEncoder(ModelConfig())
z = enc(x)     # (B, T, 1, 227, 227) -> (B, T, 64, 26, 26)
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vad_core.model.config import ModelConfig
from vad_core.model.layers import ConvBlock, DeconvBlock
from vad_core.model.layers.conv import activate_, cached, folds_tanh, from_sigmoid_space, tanh_
from vad_core.model.layers.subpixel import (
    conv_transpose2d_into_padded,
    exact_phase_weights,
    output_size,
    phase_weight,
    subpixel_phases,
)


def channels_last(x: Tensor) -> Tensor:
    """(N, C, H, W) in NHWC memory; for C = 1 the strides are set explicitly, as .contiguous() keeps NCHW."""
    if x.shape[1] == 1:
        n, _, h, w = x.shape
        return x.reshape(n, h, w, 1).permute(0, 3, 1, 2)
    return x.contiguous(memory_format=torch.channels_last)


def _per_frame(module: nn.Module, x: Tensor) -> Tensor:
    b, t = x.shape[:2]
    y = module(x.flatten(0, 1))  # (B, T, C, H, W) -> (B*T, C, H, W)
    return y.unflatten(0, (b, t))


class SpatialEncoder(nn.Module):
    """Conv 11x11/4 x128 then Conv 5x5/2 x64 in the paper's configuration."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        chans = (1, *cfg.encoder_channels)
        self.layers = nn.Sequential(
            *(
                ConvBlock(chans[i], chans[i + 1], k, s, cfg.activation)
                for i, (k, s) in enumerate(zip(cfg.kernel_sizes, cfg.strides, strict=True))
            )
        )
        self.fast = True

    def forward(self, x: Tensor) -> Tensor:
        if self.fast and not torch.is_grad_enabled():
            b, t = x.shape[:2]
            frames = channels_last(x.flatten(0, 1))  # mkldnn's faster layout
            if all(folds_tanh(block.act, x.device) and block.conv.padding == (0, 0) for block in self.layers):
                return self._forward_folded(frames).unflatten(0, (b, t))
            return self.layers(frames).unflatten(0, (b, t))
        return _per_frame(self.layers, x)

    def _folded_weights(self) -> list[tuple[Tensor, Tensor]]:
        """(weight, bias) per layer: all but the last output s = sigmoid(2a) = (tanh(a) + 1) / 2 (weights
        doubled), and every layer after the first takes its input as s (from_sigmoid_space)."""
        out = []
        last = len(self.layers) - 1
        for i, block in enumerate(self.layers):
            w, b = block.conv.weight, block.conv.bias
            if b is None:
                b = w.new_zeros(w.shape[0])
            if i > 0:
                w, b = from_sigmoid_space(w, b)
            if i < last:
                w, b = w * 2.0, b * 2.0
            out.append((w.contiguous(memory_format=torch.channels_last), b))
        return out

    def _forward_folded(self, y: Tensor) -> Tensor:
        """The tanh encoder with one in-place pass per inner activation (sigmoid_) instead of four."""
        params = tuple(p for block in self.layers for p in (block.conv.weight, block.conv.bias))
        weights = cached(self, "folded", params, self._folded_weights)
        last = len(weights) - 1
        for i, (block, (w, b)) in enumerate(zip(self.layers, weights, strict=True)):
            c = block.conv
            y = F.conv2d(y, w, b, c.stride, 0, c.dilation, c.groups)
            y = y.sigmoid_() if i < last else tanh_(y)
        return y


class SpatialDecoder(nn.Module):
    """Mirror of the encoder: Deconv 5x5/2 x128 then Deconv 11x11/4 x1 with a linear output."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        chans = (cfg.encoder_channels[-1], *reversed(cfg.encoder_channels[:-1]), 1)
        kernels, strides = tuple(reversed(cfg.kernel_sizes)), tuple(reversed(cfg.strides))
        last = len(kernels) - 1
        self.layers = nn.Sequential(
            *(
                DeconvBlock(chans[i], chans[i + 1], k, s, None if i == last else cfg.activation)
                for i, (k, s) in enumerate(zip(kernels, strides, strict=True))
            )
        )
        self.fast = True

    def forward(self, z: Tensor) -> Tensor:
        if self.fast and not torch.is_grad_enabled() and all(block.subpixel_ok() for block in self.layers):
            b, t = z.shape[:2]
            return self._forward_subpixel(z.flatten(0, 1)).unflatten(0, (b, t))
        return _per_frame(self.layers, z)

    def _forward_subpixel(self, y: Tensor) -> Tensor:
        """Every deconv as stride-1 convolutions. Inner layers write their activated output phases
        straight into the next layer's padded input; the last layer runs one phase convolution
        and a pixel shuffle. On the CPU a tanh layer before the last one writes s = (tanh + 1) / 2
        (one sigmoid_ pass, a border of 1/2), which the last layer takes into its weights."""
        blocks = list(self.layers)
        fold = len(blocks) >= 2 and folds_tanh(blocks[-2].act, y.device)
        pad = None  # zero border already around y
        for i, (block, nxt) in enumerate(itertools.pairwise(blocks)):
            d = block.deconv
            if pad is not None:
                y = y[:, :, pad : y.shape[2] - pad, pad : y.shape[3] - pad]  # not the case for the paper's decoder
            pad = -(-nxt.kernel_size // nxt.stride) - 1  # the next layer's J - 1
            folded = fold and i == len(blocks) - 2
            w, b, phases = cached(block, f"phases_{folded}", (d.weight, d.bias), lambda d=d, f=folded: _phases(d, f))
            act = torch.sigmoid_ if folded else (lambda t, a=block.act: activate_(t, a))
            y = conv_transpose2d_into_padded(y, w, b, block.stride, pad, act, 0.5 if folded else 0.0, phases)
        last = blocks[-1]
        d = last.deconv
        size = [output_size(n - 2 * (pad or 0), last.kernel_size, last.stride) for n in y.shape[2:]]
        if fold:
            w, b = cached(last, "phase_weight_folded", (d.weight, d.bias), lambda: _last_folded(d))
            phases = F.conv2d(y, w, b)
        else:
            phases, _ = subpixel_phases(y, d.weight, d.bias, last.stride, padding=0 if pad is not None else None)
        out = F.pixel_shuffle(activate_(phases, last.act), last.stride)
        return out[..., : size[0], : size[1]].contiguous()


def _phases(deconv: nn.ConvTranspose2d, folded: bool) -> tuple[Tensor, Tensor | None, list]:
    """Weight, bias and channels-last exact phase kernels of an inner deconv; doubled when it outputs s."""
    w, b = deconv.weight, deconv.bias
    if folded:
        w, b = w * 2.0, (b * 2.0 if b is not None else None)
    cl = torch.channels_last
    return w, b, [(ry, rx, wp.contiguous(memory_format=cl)) for ry, rx, wp in exact_phase_weights(w, deconv.stride[0])]


def _last_folded(deconv: nn.ConvTranspose2d) -> tuple[Tensor, Tensor]:
    """The last layer's phase convolution for an input given as s = (u + 1) / 2, border included."""
    w, b, _ = phase_weight(deconv.weight, deconv.bias, deconv.stride[0])
    w, b = from_sigmoid_space(w, b)
    return w.contiguous(memory_format=torch.channels_last), b
