"""The paper's input normalization: subtract the mean training frame, divide by the global std.

norm = Normalizer.fit(train_frames)      # frames: float32 (N, S, S) in [0, 1]
x = norm.apply(frames)                   # zero-mean, unit-std model input
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Normalizer:
    """Mean frame (S, S) and one global std, fitted on normal training frames."""

    mean_frame: np.ndarray
    std: float

    @classmethod
    def fit(cls, frames: np.ndarray) -> Normalizer:
        mean = frames.mean(axis=0, dtype=np.float64).astype(np.float32)
        std = float(np.sqrt(((frames - mean) ** 2).mean(dtype=np.float64)))
        return cls(mean, max(std, 1e-6))

    @classmethod
    def identity(cls, size: int) -> Normalizer:
        return cls(np.zeros((size, size), np.float32), 1.0)

    def apply(self, frames: np.ndarray) -> np.ndarray:
        return ((frames - self.mean_frame) / self.std).astype(np.float32)

    def invert(self, frames: np.ndarray) -> np.ndarray:
        """Back to [0, 1] pixel units, for showing reconstructions."""
        return frames * self.std + self.mean_frame
