"""Per-frame spatial encoder and decoder; time is folded into the batch axis.

enc = SpatialEncoder(ModelConfig())
z = enc(x)     # (B, T, 1, 227, 227) -> (B, T, 64, 26, 26)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from vad_core.layers import ConvBlock, DeconvBlock

if TYPE_CHECKING:
    from vad_core.model import ModelConfig


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

    def forward(self, x: Tensor) -> Tensor:
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

    def forward(self, z: Tensor) -> Tensor:
        return _per_frame(self.layers, z)
