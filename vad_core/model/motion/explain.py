"""One frame of a motion detector, explained: the flow field, each place's speed and its normal speed, their ratio.

steps = explain_motion(model, clip.frames[t - 1], clip.frames[t])   # two decoded uint8 gray frames
steps.flow, steps.speed                 # (H, W, 2) and (H, W) at the flow's own size, px a frame
steps.peak, steps.peak_feature          # the cell with the largest ratio, and which figure gave it

The lab (app/views/lab.py) draws this for a motion model in place of an autoencoder's reconstruction steps. It is
computed again from the two frames with the model's own functions, so it is the map the engine scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vad_core.model.motion.detector import MotionModel
from vad_core.model.motion.features import FlowStream, cell_features


@dataclass(frozen=True)
class MotionSteps:
    """flow: (H, W, 2); speed: (H, W); features and scale: (F, rows, cols), each place's figures at this frame and on
    normal footage; ratio: (rows, cols), the largest of features / scale; peak: (row, col) of the largest ratio."""

    flow: np.ndarray
    speed: np.ndarray
    features: np.ndarray
    scale: np.ndarray
    ratio: np.ndarray
    peak: tuple[int, int]
    peak_feature: str
    names: tuple[str, ...]

    @property
    def peak_ratio(self) -> float:
        return float(self.ratio[self.peak])


def explain_motion(model: MotionModel, previous: np.ndarray, frame: np.ndarray) -> MotionSteps:
    """The flow from previous to frame at the model's size, and how each place's figures compare with normal."""
    flows = FlowStream(model.cfg.frame_size, model.cfg.flow)
    flows.next(model.prepare(previous))
    flow = flows.next(model.prepare(frame))
    features, scale = cell_features(flow, model.cfg), model.normal.scale  # (F, rows, cols) each
    ratio = model.normal.ratio(features[None])[0]  # the engine's map, before it is resized to the square
    row, col = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    feature = model.cfg.features[int(np.argmax(features[:, row, col] / scale[:, row, col]))]
    speed = np.hypot(flow[..., 0], flow[..., 1])
    return MotionSteps(flow, speed, features, scale, ratio, (int(row), int(col)), feature, tuple(model.cfg.features))


def flow_rgb(flow: np.ndarray, top_speed: float) -> np.ndarray:
    """The flow as an RGB picture, the usual way: hue the direction, brightness the speed (full at top_speed px a
    frame and above)."""
    angle = (np.degrees(np.arctan2(flow[..., 1], flow[..., 0])) % 360) / 2  # OpenCV's hue runs 0..180
    value = np.clip(np.hypot(flow[..., 0], flow[..., 1]) / max(top_speed, 1e-6), 0, 1) * 255
    hsv = np.stack([angle, np.full_like(angle, 255), value], axis=-1).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
