"""Frames a second of the model's paths, measured the same way everywhere: the reference (plain fp32 eager), the
optimized path as analysis runs it, the GPU alone, training; a matmul yardstick; the paths' agreement.

fps = reference_fps(net, windows, threads=2, batch=4)     # windows: (N, T, H, W), normalized
report = equivalence(net, windows[:1])                     # largest difference, and whether within TOLERANCE
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np
import torch

from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.config import ModelConfig
from vad_core.model.inference import autocast_for, map_blocks, run_windows
from vad_core.model.preprocess import Normalizer

# Stated tolerance of the optimized path against the fp32 eager reference, in normalized input units
# (the model sees (x - mean) / std). CPU: fp32 with sums regrouped. CUDA: float16 autocast.
TOLERANCE = {"cpu": 1e-4, "cuda": 3e-2}
TOLERANCE_FRAME_ERROR = {"cpu": 1e-4, "cuda": 1e-3}  # relative difference of the frame errors e(t)


def model_flops(cfg: ModelConfig) -> float:
    """Multiply-adds x 2 per frame of the reference architecture (a transposed conv counted at its K*K taps)."""
    flops, size, chans = 0.0, cfg.input_size, (1, *cfg.encoder_channels)
    for i, (k, s) in enumerate(zip(cfg.kernel_sizes, cfg.strides, strict=True)):
        size = (size - k) // s + 1
        flops += 2 * size * size * chans[i] * chans[i + 1] * k * k  # its mirror deconv: same count
    flops *= 2
    if cfg.temporal == "convlstm":
        lstm = (cfg.encoder_channels[-1], *cfg.lstm_channels)
        for cin, hid in itertools.pairwise(lstm):
            flops += 2 * size * size * (cin + hid) * 4 * hid * cfg.lstm_kernel**2
    return flops


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_fps(frames: int, fn: Callable[[], object], device: torch.device) -> float:
    """frames over the seconds fn takes, the device synchronized on both sides."""
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return frames / (time.perf_counter() - start)


def matmul_gflops(device: torch.device, n: int = 2048, reps: int = 5) -> float:
    """fp32 n x n matmul, best of reps: the machine's yardstick."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    best = 0.0
    for _ in range(reps):
        best = max(best, best_fps(1, lambda: a @ b, device))
    return 2 * n**3 * best / 1e9


def windows_of(frames: np.ndarray, t: int, count: int) -> np.ndarray:
    """About `count` frames (whole windows of t, at least one), the clip repeated as needed."""
    n = max(t, min(len(frames), count) // t * t)
    reps = -(-n // len(frames))
    return np.concatenate([frames] * reps)[:n].reshape(-1, t, *frames.shape[1:])


def reference_fps(net: SpatioTemporalAE, windows: np.ndarray, threads: int, batch: int) -> float:
    """The plain fp32 eager model (no fast path, no autocast), `threads` intra-op threads."""
    device = next(net.parameters()).device
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    net.set_fast_path(False)
    try:

        def run() -> None:
            with torch.inference_mode():
                for i in range(0, len(windows), batch):
                    net(torch.from_numpy(windows[i : i + batch]).to(device).unsqueeze(2)).cpu()

        return best_fps(windows.size // windows[0, 0].size, run, device)
    finally:
        net.set_fast_path(True)
        torch.set_num_threads(previous)


def optimized_fps(net: SpatioTemporalAE, windows: np.ndarray, workers: int | None, threads: int | None = None) -> float:
    """The fast path as analysis runs it (worker threads, batching, autocast on CUDA), no decode or scoring."""
    device = next(net.parameters()).device
    t, size = windows.shape[1], windows.shape[-1]
    frames = list(windows.reshape(-1, size, size))
    identity = Normalizer.identity(size)

    def run() -> None:
        for _ in map_blocks(net, identity, frames, lambda x, r: None, workers=workers, threads=threads):
            pass

    return best_fps(len(frames) // t * t, run, device)


def gpu_model_fps(net: SpatioTemporalAE, windows: np.ndarray, *, fast: bool, mixed: bool, batch: int = 64) -> float:
    """Model-only on CUDA with the input already on the device: the GPU's own throughput."""
    device = next(net.parameters()).device
    reps = -(-batch // len(windows))
    x = torch.from_numpy(np.concatenate([windows] * reps)[:batch]).to(device).unsqueeze(2)
    net.set_fast_path(fast)
    try:
        with torch.inference_mode(), autocast_for(device, mixed):
            net(x)

            def run() -> None:
                with torch.inference_mode(), autocast_for(device, mixed):
                    for _ in range(5):
                        net(x)

            return best_fps(5 * x.shape[0] * x.shape[1], run, device)
    finally:
        net.set_fast_path(True)


def train_fps(size: int, clip: np.ndarray, device: torch.device, steps: int, batch: int = 4) -> float:
    """Adam steps on windows of the clip, as vad_core.training.train runs them (fp32 without AMX), default threads."""
    torch.manual_seed(0)
    net = SpatioTemporalAE(ModelConfig(input_size=size)).to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    windows = torch.from_numpy(windows_of(clip, net.cfg.time_steps, batch * net.cfg.time_steps * 2)).to(device)

    def step(i: int) -> None:
        x = windows[(i * batch) % len(windows) :][:batch].unsqueeze(2)
        loss = torch.nn.functional.mse_loss(net(x), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step(0)
    best = 0.0
    for i in range(steps):
        best = max(best, best_fps(batch * net.cfg.time_steps, lambda i=i: step(i + 1), device))
    return best


def equivalence(net: SpatioTemporalAE, windows: np.ndarray, mixed_precision: bool | None = None) -> dict:
    """Largest difference between the optimized path on the model's device and the fp32 CPU reference."""
    device = next(net.parameters()).device
    cpu_ref = SpatioTemporalAE(net.cfg).eval()
    cpu_ref.load_state_dict({k: v.float().cpu() for k, v in net.state_dict().items()})
    cpu_ref.set_fast_path(False)
    with torch.inference_mode():
        ref = cpu_ref(torch.from_numpy(windows).unsqueeze(2)).squeeze(2).numpy()
    opt = run_windows(net, windows, mixed_precision)
    e_ref = np.square(windows - ref).sum(axis=(2, 3))
    e_opt = np.square(windows - opt).sum(axis=(2, 3))
    kind = "cuda" if device.type == "cuda" else "cpu"
    out = {
        "max_abs_diff": float(np.abs(opt - ref).max()),
        "max_frame_error_rel_diff": float((np.abs(e_opt - e_ref) / np.maximum(e_ref, 1e-12)).max()),
        "tolerance_abs": TOLERANCE[kind],
        "tolerance_frame_error_rel": TOLERANCE_FRAME_ERROR[kind],
    }
    out["within_tolerance"] = (
        out["max_abs_diff"] <= out["tolerance_abs"]
        and out["max_frame_error_rel_diff"] <= out["tolerance_frame_error_rel"]
    )
    return out
