"""What normal motion is at each place: per cell and feature, a high quantile of normal clips' values.

normal = MotionNormal.fit(features, cfg)     # features: float32 (N, F, rows, cols) of normal frames
ratio = normal.ratio(features)               # (N, rows, cols): the largest feature over its place's normal
held = persist(ratio, 5)                     # each place's ratio averaged over the 5 frames centred on t
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import gaussian_filter

from vad_core.model.motion.config import MotionConfig

MIN_SCALE = 1e-3  # a place and feature that never moved in normal footage still divides by something


@dataclass(frozen=True)
class MotionNormal:
    """scale: float32 (F, rows, cols), each cell's normal level per feature (smoothed over cfg.scale_sigma cells),
    floored at the median cell's so that places where normal footage hardly moves (a wall, the sky) do not turn
    flow noise into anomalies."""

    scale: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray, cfg: MotionConfig) -> MotionNormal:
        scale = np.quantile(features, cfg.quantile, axis=0).astype(np.float32)  # (F, rows, cols)
        if cfg.scale_sigma:
            scale = gaussian_filter(scale, (0, cfg.scale_sigma, cfg.scale_sigma), mode="nearest")
        floor = np.median(scale.reshape(len(scale), -1), axis=1)[:, None, None]
        return cls(np.maximum(np.maximum(scale, floor), MIN_SCALE).astype(np.float32))

    def ratio(self, features: np.ndarray) -> np.ndarray:
        """(N, F, rows, cols) -> float32 (N, rows, cols): per cell, the largest feature over its normal scale;
        above 1 is beyond what normal footage did there."""
        return (features / self.scale).max(axis=1).astype(np.float32)

    def place_scores(self, features: np.ndarray, persistence: int) -> np.ndarray:
        """(N, F, rows, cols) consecutive frames' features -> float32 (N, rows, cols): log(1 + each place's ratio,
        held over `persistence` frames); the detector's map. The log makes a place twice beyond its normal count
        the same in a crowd as in an empty scene."""
        return np.log1p(persist(self.ratio(features), persistence))


def persist(ratios: np.ndarray, frames: int) -> np.ndarray:
    """(N, rows, cols) -> float32 (N, rows, cols): each place's mean over the `frames` frames centred on each frame,
    the first and last frame repeated past the ends. Each output is the mean of its own window, so a frame gets the
    same value whether it is scored in a block or in a whole clip."""
    half = frames // 2
    padded = np.concatenate([np.repeat(ratios[:1], half, 0), ratios, np.repeat(ratios[-1:], half, 0)])
    return sliding_window_view(padded, frames, axis=0).mean(axis=-1, dtype=np.float32)
