"""Sliding windows of T frames: multi-stride sampling for training, tiling for inference.

starts = inference_starts(n_frames=25, time_steps=10)     # [0, 10, 15]
idx = training_windows([120, 150], time_steps=10)        # rows: (clip, start, stride)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def inference_starts(n_frames: int, time_steps: int) -> list[int]:
    """Non-overlapping windows covering every frame; the last one is aligned to the end."""
    if n_frames < time_steps:
        return []
    starts = list(range(0, n_frames - time_steps + 1, time_steps))
    if starts[-1] + time_steps < n_frames:
        starts.append(n_frames - time_steps)
    return starts


def training_windows(clip_lengths: Sequence[int], time_steps: int, strides: Sequence[int] = (1, 2, 3)) -> np.ndarray:
    """Every (clip, start, stride) whose T frames, taken every `stride` frames, fit in the clip.

    Strides above 1 show the model faster motion of the same normal scene (the paper's augmentation).
    """
    rows = [
        (clip, start, stride)
        for clip, length in enumerate(clip_lengths)
        for stride in strides
        for start in range(0, length - (time_steps - 1) * stride)
    ]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def gather_window(frames: np.ndarray, start: int, stride: int, time_steps: int) -> np.ndarray:
    """The T frames of one window from a clip array (N, H, W)."""
    return frames[start : start + (time_steps - 1) * stride + 1 : stride]
