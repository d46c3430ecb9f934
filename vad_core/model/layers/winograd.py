"""3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, CVPR 2016).

Each 2x2 block of outputs is read from a 4x4 input tile: the tile and the kernel go through fixed
linear transforms, are multiplied element-wise (16 products instead of the direct method's 36) and
summed over input channels, which is 16 batched matrix products, one per tile position. For the
ConvLSTM's recurrent convolution (one frame, 26x26, 64 -> 256 channels) that took 1.7 vs 2.4 ms for
oneDNN's direct convolution on one core of the 2-core CPU, and lands closer to the float64 result
(2e-6 vs 6e-6). The products' operands outgrow the L2 cache, so batched convolutions over many
frames gain nothing (docs/performance.md).

u = winograd_weight(conv.weight)             # (16, Cin, Cout), once per weight version
add_conv3x3_winograd_(out, x_padded, u)      # out += conv2d(x, conv.weight, padding=1)
"""

from __future__ import annotations

import torch
from torch import Tensor

_B_T = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))  # input tile transform
_G = ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1))  # kernel transform
_A_T = ((1, 1, 1, 0), (0, 1, -1, -1))  # output transform

# Both sides of each transform at once, for tiles flattened row by row: kron(M, M) vec(X) = vec(M X M^T).
_TILE_IN = torch.kron(torch.tensor(_B_T), torch.tensor(_B_T)).float()  # exact: entries 0 and +-1
_TILE_OUT = torch.kron(torch.tensor(_A_T), torch.tensor(_A_T)).float()
_KERNEL = torch.kron(torch.tensor(_G, dtype=torch.float64), torch.tensor(_G, dtype=torch.float64))


def winograd_ok(x: Tensor, weight: Tensor, padding: tuple[int, int]) -> bool:
    """Whether add_conv3x3_winograd_ computes conv2d(x, weight, padding) here: 3x3, 'same' padding, even sizes, CPU."""
    return (
        x.device.type == "cpu"
        and tuple(weight.shape[2:]) == (3, 3)
        and tuple(padding) == (1, 1)
        and x.shape[-2] % 2 == 0
        and x.shape[-1] % 2 == 0
    )


def winograd_weight(weight: Tensor) -> Tensor:
    """Conv weight (Cout, Cin, 3, 3) -> the transformed kernels (16, Cin, Cout), taken in float64."""
    cout, cin = weight.shape[:2]
    taps = weight.detach().double().permute(2, 3, 1, 0).reshape(9, cin * cout)
    return (_KERNEL.to(weight.device) @ taps).reshape(16, cin, cout).to(weight.dtype).contiguous()


def add_conv3x3_winograd_(out: Tensor, x_padded: Tensor, u: Tensor, frames: int = 2) -> Tensor:
    """out += conv2d(x, weight, padding=1), for x_padded = x with a zero border of one pixel.

    x_padded (N, C, H + 2, W + 2) and out (N, Cout, H, W): channels-last strides (views with a unit
    channel stride will do); H and W even. `frames` images at a time keep the (16, tiles, Cout)
    products in cache.
    """
    n, c, hp, wp = x_padded.shape
    th, tw = (hp - 2) // 2, (wp - 2) // 2
    sn, sc, sh, sw = x_padded.stride()
    if sc != 1 or out.stride(1) != 1:
        raise ValueError("add_conv3x3_winograd_ needs channels-last input and output")
    cout = u.shape[2]
    tile_in, tile_out = _TILE_IN.to(u), _TILE_OUT.to(u)
    for i in range(0, n, frames):
        k = min(frames, n - i)
        # (4, 4, k, th, tw, C): tile position first, tiles overlapping by two pixels
        tiles = x_padded.as_strided(
            (4, 4, k, th, tw, c), (sh, sw, sn, 2 * sh, 2 * sw, sc), x_padded.storage_offset() + i * sn
        )
        v = (tile_in @ tiles.reshape(16, -1)).view(16, k * th * tw, c)
        m = torch.bmm(v, u)  # (16, tiles, Cout)
        # (2, 2, k, th, tw, Cout) -> (k, th, 2, tw, 2, Cout): the NHWC layout of out
        y = (tile_out @ m.view(16, -1)).view(2, 2, k, th, tw, cout).permute(2, 3, 0, 4, 1, 5)
        out[i : i + k].permute(0, 2, 3, 1).view(k, th, 2, tw, 2, cout).add_(y)
    return out
