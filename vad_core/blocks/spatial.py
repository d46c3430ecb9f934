"""Per-frame spatial encoder and decoder; time is folded into the batch axis.

enc = SpatialEncoder(ModelConfig())
z = enc(x)     # (B, T, 1, 227, 227) -> (B, T, 64, 26, 26)
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vad_core.layers import ConvBlock, DeconvBlock
from vad_core.layers.conv import activate_
from vad_core.layers.subpixel import conv_transpose2d_into_padded, output_size, subpixel_phases

if TYPE_CHECKING:
    from vad_core.model import ModelConfig


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
            return self.layers(frames).unflatten(0, (b, t))
        return _per_frame(self.layers, x)


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
        straight into the next layer's zero-padded input; the last layer runs one phase convolution
        and a pixel shuffle."""
        blocks = list(self.layers)
        pad = None  # zero border already around y
        for block, nxt in itertools.pairwise(blocks):
            d = block.deconv
            if pad is not None:
                y = y[:, :, pad : y.shape[2] - pad, pad : y.shape[3] - pad]  # not the case for the paper's decoder
            pad = -(-nxt.kernel_size // nxt.stride) - 1  # the next layer's J - 1
            y = conv_transpose2d_into_padded(
                y, d.weight, d.bias, block.stride, pad, lambda t, a=block.act: activate_(t, a)
            )
        last = blocks[-1]
        d = last.deconv
        size = [output_size(n - 2 * (pad or 0), last.kernel_size, last.stride) for n in y.shape[2:]]
        phases, _ = subpixel_phases(y, d.weight, d.bias, last.stride, padding=0 if pad is not None else None)
        out = F.pixel_shuffle(activate_(phases, last.act), last.stride)
        return out[..., : size[0], : size[1]].contiguous()
