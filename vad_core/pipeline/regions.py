"""Anomaly candidates inside a frame: connected regions of the localized error map above pixel_tau.

boxes = frame_regions(result.frame_map(42), result.scoring.patch, result.pixel_tau)  # [Box(x, y, w, h, peak)]
per_frame = clip_regions(result.maps[result.scoring.kind], result.scoring.patch, result.pixel_tau)
x0, y0, x1, y1 = boxes[0].fraction(result.inputs.shape[1])
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vad_core.scoring.scores import patch_mean


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in error-map pixels, with the largest local error inside it."""

    x: int
    y: int
    w: int
    h: int
    peak: float

    def fraction(self, size: int) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) as fractions of a square map of `size` pixels: drawable at any resolution."""
        return (self.x / size, self.y / size, (self.x + self.w) / size, (self.y + self.h) / size)


def find_regions(local_map: np.ndarray, threshold: float, min_area: int = 16) -> list[Box]:
    """Boxes around 8-connected pixels above the threshold, largest peak first.

    min_area drops specks of a few pixels: the map is a patch mean, so a real object is bigger.
    """
    mask = (local_map > threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = []
    for i in range(1, count):  # label 0 is the background
        x, y, w, h, area = (int(v) for v in stats[i])
        if area >= min_area:
            boxes.append(Box(x, y, w, h, float(local_map[labels == i].max())))
    return sorted(boxes, key=lambda b: b.peak, reverse=True)


def frame_regions(error_map: np.ndarray, patch: int, pixel_tau: float, min_area: int = 16) -> list[Box]:
    """High-error regions of one frame's error map (the scoring kind's): its patch means above the calibrated
    pixel threshold. It takes the map, not an Analysis, so that a live block is drawn the same way."""
    return find_regions(patch_mean(np.asarray(error_map, np.float32), patch), pixel_tau, min_area)


def clip_regions(maps: np.ndarray, patch: int, pixel_tau: float, min_area: int = 16) -> list[list[Box]]:
    """frame_regions of every frame of (N, S, S) maps."""
    return [frame_regions(error_map, patch, pixel_tau, min_area) for error_map in maps]
