"""Strided convolution and transposed convolution blocks with an optional activation.

enc = ConvBlock(1, 128, kernel_size=11, stride=4)     # (N, 1, 227, 227) -> (N, 128, 55, 55)
dec = DeconvBlock(128, 1, kernel_size=11, stride=4, activation=None)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vad_core.model.layers.subpixel import conv_transpose2d_subpixel

# With autograd, the sub-pixel form pays off only for layers with few output channels: measured on the
# 2-core CPU, forward plus backward of the 11x11/4 x1 output layer ran 2.5x faster, the 5x5/2 x128
# layer 0.7x as fast (its phase kernels carry 44 % zero taps).
SUBPIXEL_TRAINING_MAX_CHANNELS = 4

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}


def make_activation(name: str | None) -> nn.Module:
    """An activation module by name; None means identity (a linear output)."""
    if name is None:
        return nn.Identity()
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def tanh_(x: Tensor) -> Tensor:
    """tanh in place; on the CPU as 2 * sigmoid(2x) - 1, the same function within 2e-7, which PyTorch's
    vectorized sigmoid computes in half the time of its tanh (measured 7 vs 14 ms per 3.9 M values)."""
    if x.device.type != "cpu":
        return x.tanh_()
    return x.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)


def folds_tanh(act: nn.Module, device: torch.device) -> bool:
    """Whether a tanh output can be passed on as s = sigmoid(2a) = (tanh(a) + 1) / 2 (CPU inference).

    One in-place pass instead of tanh_'s four: the layer's weights and bias are doubled (exact), and the
    consumer, a convolution that sees every tap of its input (no zero padding, or a border of s = 1/2),
    takes 2s - 1 into its own weights (see from_sigmoid_space). CUDA keeps tanh."""
    return isinstance(act, nn.Tanh) and device.type == "cpu"


def from_sigmoid_space(weight: Tensor, bias: Tensor | None) -> tuple[Tensor, Tensor]:
    """Conv weight (Cout, Cin, kh, kw) and bias for an input given as s with u = 2s - 1:
    conv(u, w) + b = conv(s, 2w) + (b - sum(w)), the sum over each output's taps, taken in float64."""
    tap_sums = weight.double().sum(dim=(1, 2, 3))
    b = -tap_sums if bias is None else bias.double() - tap_sums
    return weight * 2.0, b.to(weight.dtype)


T = TypeVar("T")


def cached(module: nn.Module, name: str, params: tuple[Tensor | None, ...], make: Callable[[], T]) -> T:
    """make(), computed once per version of params (training and load_state_dict change them in place):
    the rearranged weights of the fast path, which cost about 1 % of a window to rebuild on every call."""
    try:
        key = tuple((p.data_ptr(), p._version, p.device, p.dtype) for p in params if p is not None)
    except RuntimeError:  # parameters made under inference_mode carry no version counter: no cache
        return make()
    store = module.__dict__.setdefault("_fast_weights", {})
    hit = store.get(name)
    if hit is not None and hit[0] == key:
        return hit[1]
    value = make()
    store[name] = (key, value)
    return value


_IN_PLACE = {nn.Tanh: tanh_, nn.ReLU: torch.relu_, nn.Sigmoid: torch.sigmoid_}


def activate_(x: Tensor, act: nn.Module) -> Tensor:
    """Apply an activation module in place (for inference on a fresh tensor): one memory pass less."""
    if isinstance(act, nn.Identity):
        return x
    fn = _IN_PLACE.get(type(act))
    return fn(x) if fn is not None else act(x)


class ConvBlock(nn.Module):
    """Conv2d followed by an activation: one step of the per-frame spatial encoder."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int, activation: str | None = "tanh"):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride)
        self.act = make_activation(activation)
        self.fast = True

    def forward(self, x: Tensor) -> Tensor:
        if self.fast and not torch.is_grad_enabled():  # channels-last weights make mkldnn pick NHWC
            c = self.conv
            w = c.weight.contiguous(memory_format=torch.channels_last)
            return activate_(F.conv2d(x, w, c.bias, c.stride, c.padding, c.dilation, c.groups), self.act)
        return self.act(self.conv(x))


class DeconvBlock(nn.Module):
    """ConvTranspose2d followed by an activation: one step of the per-frame spatial decoder.

    Without autograd (inference) and with `fast` set, the transposed convolution runs as a sub-pixel
    convolution (vad_core.model.layers.subpixel); the parameters and the state dict are the ConvTranspose2d's.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int, activation: str | None = "tanh"):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_ch, out_ch, kernel_size, stride=stride)
        self.act = make_activation(activation)
        self.fast = True

    @property
    def stride(self) -> int:
        return self.deconv.stride[0]

    @property
    def kernel_size(self) -> int:
        return self.deconv.kernel_size[0]

    def subpixel_ok(self) -> bool:
        """Whether the sub-pixel form applies: square kernel and stride, no padding, dilation or groups."""
        d = self.deconv
        return (
            d.padding == (0, 0)
            and d.output_padding == (0, 0)
            and d.dilation == (1, 1)
            and d.groups == 1
            and d.stride[0] == d.stride[1]
            and d.kernel_size[0] == d.kernel_size[1]
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.fast and self.subpixel_ok():
            if not torch.is_grad_enabled():
                y = conv_transpose2d_subpixel(x, self.deconv.weight, self.deconv.bias, self.stride)
                return activate_(y.contiguous(), self.act)
            if self.deconv.out_channels <= SUBPIXEL_TRAINING_MAX_CHANNELS:
                return self.act(conv_transpose2d_subpixel(x, self.deconv.weight, self.deconv.bias, self.stride))
        return self.act(self.deconv(x))
