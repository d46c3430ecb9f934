"""Strided convolution and transposed convolution blocks with an optional activation.

enc = ConvBlock(1, 128, kernel_size=11, stride=4)     # (N, 1, 227, 227) -> (N, 128, 55, 55)
dec = DeconvBlock(128, 1, kernel_size=11, stride=4, activation=None)
"""

from __future__ import annotations

from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}


def make_activation(name: str | None) -> nn.Module:
    """An activation module by name; None means identity (a linear output)."""
    if name is None:
        return nn.Identity()
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class ConvBlock(nn.Module):
    """Conv2d followed by an activation: one step of the per-frame spatial encoder."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int, activation: str | None = "tanh"):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride)
        self.act = make_activation(activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.conv(x))


class DeconvBlock(nn.Module):
    """ConvTranspose2d followed by an activation: one step of the per-frame spatial decoder."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int, activation: str | None = "tanh"):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_ch, out_ch, kernel_size, stride=stride)
        self.act = make_activation(activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.deconv(x))
