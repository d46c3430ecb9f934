"""Run the autoencoder over a stream of frames, a batch of T-frame windows at a time, in worker threads.

for result in map_blocks(model, normalizer, frames, fn):   # fn(x_block, r_block) runs in the workers
    ...   # in frame order: x the normalized inputs, r their reconstructions
map_blocks(model, normalizer, frames, fn, latent_grid=4)    # fn(x, r, z): z the pooled bottleneck per frame

On a CPU, `workers` threads each run whole batches with one intra-op thread: the cores work on
different windows instead of meeting at OpenMP barriers after every operator, which on a shared
machine stalls far more than it gains. Decoding (in the caller's thread) overlaps with the model.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from vad_core.cpu import cpu_budget, default_workers
from vad_core.errors import BadInput
from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.preprocess import Normalizer
from vad_core.stages import StageClock

R = TypeVar("R")


def pick_device(requested: str | None = None) -> torch.device:
    """CUDA when present unless a device is asked for."""
    if requested in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise BadInput(f"device {requested!r} asked for, but CUDA is not available here")
    try:
        return torch.device(requested)
    except RuntimeError as err:
        raise BadInput(f"unknown device {requested!r}") from err


def model_device(model: SpatioTemporalAE) -> torch.device:
    return next(model.parameters()).device


def default_batch_windows(device: torch.device) -> int:
    """Windows per model call: 4 per CPU worker, 16 on CUDA. On the 2-core CPU, 4 windows a call analyzed the
    6,030-frame clip 6-10 % faster than 1 (the ConvLSTM's one-frame recurrent products grow from 49 to 196 rows;
    8 was slower again). A live feed passes 1: a window is scored as soon as it is complete."""
    return 16 if device.type == "cuda" else 4


def autocast_for(device: torch.device, mixed_precision: bool | None = None):
    """float16 autocast on CUDA (outputs stay within the tolerance in docs/performance.md); none on CPU,
    where bf16/fp16 are emulated without AMX and the fp32 path is the fast one."""
    if mixed_precision is None:
        mixed_precision = device.type == "cuda"
    if mixed_precision and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return nullcontext()


@torch.inference_mode()
def run_windows(model: SpatioTemporalAE, windows: np.ndarray, mixed_precision: bool | None = None) -> np.ndarray:
    """Reconstructions of normalized windows (B, T, H, W) -> float32 (B, T, H, W)."""
    device = model_device(model)
    x = torch.from_numpy(windows).to(device, non_blocking=True).unsqueeze(2)  # (B, T, H, W) -> (B, T, 1, H, W)
    with autocast_for(device, mixed_precision):
        recon = model(x)
    return recon.squeeze(2).float().cpu().numpy()


@torch.inference_mode()
def run_windows_latent(
    model: SpatioTemporalAE, windows: np.ndarray, grid: int, mixed_precision: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Reconstructions as run_windows, plus each frame's bottleneck state (the middle ConvLSTM's output, or the
    encoder's when the model has no temporal block) average-pooled to grid x grid: float16 (B, T, C*grid*grid).
    The same single pass, on the same fast path."""
    device = model_device(model)
    x = torch.from_numpy(windows).to(device, non_blocking=True).unsqueeze(2)  # (B, T, H, W) -> (B, T, 1, H, W)
    with autocast_for(device, mixed_precision):
        recon, mid = model.forward_with_bottleneck(x)
    b, t = mid.shape[:2]
    pooled = F.adaptive_avg_pool2d(mid.flatten(0, 1).float(), grid)  # (B*T, C, h, w) -> (B*T, C, grid, grid)
    latent = pooled.reshape(b, t, -1).half().cpu().numpy()
    return recon.squeeze(2).float().cpu().numpy(), latent


def _blocks(frames: Iterable[np.ndarray | None], t: int, per_block: int) -> Iterator[tuple[np.ndarray | None, int]]:
    """(frames of whole windows, index of the first frame to emit) in order, and (None, 0) after every frame
    that completes no block: a tick at which finished results can be passed on while frames still arrive.
    A live feed yields None while it waits for its next frame, which is such a tick and nothing else.

    Windows tile the clip without overlap; a last partial window is taken as the final T frames, of
    which only the new ones are emitted.
    """
    chunk: list[np.ndarray] = []
    recent: deque[np.ndarray] = deque(maxlen=t)
    seen = 0
    for frame in frames:
        if frame is None:
            yield None, 0
            continue
        chunk.append(frame)
        recent.append(frame)
        seen += 1
        if len(chunk) == per_block:
            yield np.stack(chunk), 0
            chunk = []
        else:
            yield None, 0
    if seen < t:
        raise BadInput(f"the clip has {seen} decodable frames; at least {t} (one window) are needed")
    full = len(chunk) // t * t
    if full:
        yield np.stack(chunk[:full]), 0
    leftover = len(chunk) - full
    if leftover:
        yield np.stack(recent), t - leftover


def window_positions(n: int, t: int) -> np.ndarray:
    """Each frame's place (0..t-1) in the window the model saw it in, as _blocks tiles a clip of n >= t frames:
    i % t, and for the frames of a last partial window (the final t frames) their place in it."""
    positions = np.arange(n) % t
    leftover = n % t
    if leftover and n >= t:
        positions[n - leftover :] = np.arange(t - leftover, t)
    return positions.astype(np.int8)


def map_blocks(
    model: SpatioTemporalAE,
    normalizer: Normalizer,
    frames: Iterable[np.ndarray],
    fn: Callable[..., R],
    batch_windows: int | None = None,
    workers: int | None = None,
    mixed_precision: bool | None = None,
    threads: int | None = None,
    latent_grid: int = 0,
    clock: StageClock | None = None,
) -> Iterator[R]:
    """fn(x, r) for consecutive blocks of frames, in order: x the normalized inputs (n, H, W), r their
    reconstructions. Model and fn run in worker threads; at most workers + 1 blocks are in flight, and a
    finished block is passed on as soon as the next frame arrives.
    threads: intra-op threads per worker (default: the cores shared out, one each on a 2-core CPU).
    latent_grid > 0: fn(x, r, z) with z the frames' pooled bottleneck states (n, D), see run_windows_latent.
    clock: counts the workers' CPU time to "model" (normalizing included) and "scoring" (fn)."""
    device = model_device(model)
    t = model.cfg.time_steps
    batch_windows = batch_windows or default_batch_windows(device)
    workers = workers or default_workers(device.type)

    clock = clock or StageClock()

    def task(block: np.ndarray, emit_from: int) -> R:
        with clock.measure("model"):
            x = normalizer.apply(block)
            windows = x.reshape(-1, t, *x.shape[1:])  # (n, H, W) -> (n / T, T, H, W)
            if latent_grid:
                r, z = run_windows_latent(model, windows, latent_grid, mixed_precision)
                extra = (z.reshape(len(x), -1)[emit_from:],)  # (n / T, T, D) -> (n, D)
            else:
                r, extra = run_windows(model, windows, mixed_precision), ()
        with clock.measure("scoring"):
            return fn(x[emit_from:], r.reshape(x.shape)[emit_from:], *extra)

    threads = threads or max(1, cpu_budget() // workers)  # no oversubscription
    previous = torch.get_num_threads()
    pool = ThreadPoolExecutor(
        workers, thread_name_prefix="vad-model", initializer=torch.set_num_threads, initargs=(threads,)
    )
    pending: deque[Future] = deque()
    try:
        for block, emit_from in _blocks(frames, t, t * batch_windows):
            if block is not None:
                pending.append(pool.submit(task, block, emit_from))
            while pending and (len(pending) > workers or pending[0].done()):  # a live feed gets results at once
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(previous)  # the workers' setting is also the default for new threads
