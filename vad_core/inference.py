"""Run the autoencoder over a stream of frames, one batch of T-frame windows at a time.

for x, r in reconstruct_stream(model, normalizer, frames, device="cpu"):
    ...   # normalized input frame and its reconstruction, in frame order
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np
import torch

from vad_core.errors import BadInput
from vad_core.model import SpatioTemporalAE
from vad_core.preprocess import Normalizer


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


@torch.inference_mode()
def _run(model: SpatioTemporalAE, windows: np.ndarray) -> np.ndarray:
    device = next(model.parameters()).device
    x = torch.from_numpy(windows).to(device).unsqueeze(2)  # (B, T, H, W) -> (B, T, 1, H, W)
    return model(x).squeeze(2).float().cpu().numpy()


def reconstruct_stream(
    model: SpatioTemporalAE,
    normalizer: Normalizer,
    frames: Iterable[np.ndarray],
    batch_windows: int = 4,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (normalized input, reconstruction) per frame, in order, holding at most a batch in memory.

    Windows tile the clip without overlap; a last partial window is taken as the final T frames,
    and only its new frames are yielded.
    """
    t = model.cfg.time_steps
    chunk: list[np.ndarray] = []
    recent: deque[np.ndarray] = deque(maxlen=t)
    seen = 0
    for frame in frames:
        x = normalizer.apply(frame)
        chunk.append(x)
        recent.append(x)
        seen += 1
        if len(chunk) == t * batch_windows:
            yield from _emit(model, chunk, t)
            chunk = []
    if seen < t:
        raise BadInput(f"the clip has {seen} decodable frames; at least {t} (one window) are needed")
    full = len(chunk) // t * t
    if full:
        yield from _emit(model, chunk[:full], t)
    leftover = len(chunk) - full
    if leftover:
        window = np.stack(recent)[None]
        recon = _run(model, window)[0]
        for i in range(t - leftover, t):
            yield window[0, i], recon[i]


def _emit(model: SpatioTemporalAE, frames: list[np.ndarray], t: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    windows = np.stack(frames).reshape(-1, t, *frames[0].shape)
    recon = _run(model, windows)
    for w in range(windows.shape[0]):
        for i in range(t):
            yield windows[w, i], recon[w, i]
