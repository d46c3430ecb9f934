"""What normal motion is at each place: per cell and feature, a high quantile of normal clips' values.

normal = MotionNormal.fit(features, cfg)     # features: float32 (N, F, rows, cols) of normal frames
ratio = normal.ratio(features)               # (N, rows, cols): the largest feature over its place's normal
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vad_core.model.motion.config import MotionConfig

MIN_SCALE = 1e-3  # a place and feature that never moved in normal footage still divides by something


@dataclass(frozen=True)
class MotionNormal:
    """scale: float32 (F, rows, cols), each cell's normal level per feature, floored at the median cell's so that
    places where normal footage hardly moves (a wall, the sky) do not turn flow noise into anomalies."""

    scale: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray, cfg: MotionConfig) -> MotionNormal:
        scale = np.quantile(features, cfg.quantile, axis=0).astype(np.float32)  # (F, rows, cols)
        floor = np.median(scale.reshape(len(scale), -1), axis=1)[:, None, None]
        return cls(np.maximum(np.maximum(scale, floor), MIN_SCALE).astype(np.float32))

    def ratio(self, features: np.ndarray) -> np.ndarray:
        """(N, F, rows, cols) -> float32 (N, rows, cols): per cell, the largest feature over its normal scale;
        above 1 is beyond what normal footage did there."""
        return (features / self.scale).max(axis=1).astype(np.float32)
