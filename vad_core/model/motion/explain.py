"""One frame of a motion detector, explained: the flow field, each place's speed and its normal speed, their ratio.

steps = explain_motion(model, clip.frames, t)   # the clip's decoded uint8 gray frames, and which one
steps.flow, steps.speed                 # (H, W, 2) and (H, W) at the flow's own size, px a frame
steps.peak, steps.peak_feature          # the cell with the largest held ratio, and which figure gave it now
steps.peak_score                        # log(1 + that ratio): the engine's e_raw(t)

The lab (app/views/lab.py) draws this for a motion model in place of an autoencoder's reconstruction steps. It is
computed again from the frames around t with the model's own functions, so it is the map the engine scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vad_core.model.motion.detector import MotionModel
from vad_core.model.motion.features import cell_features
from vad_core.scoring.flow import FlowStream


@dataclass(frozen=True)
class MotionSteps:
    """flow: (H, W, 2); speed: (H, W); features and scale: (F, rows, cols), each place's figures at this frame and on
    normal footage; now: (rows, cols), the largest of features / scale at this frame; ratio: (rows, cols), now held
    (averaged) over the model's persistence frames around t, the engine's; peak: (row, col) of the largest ratio."""

    flow: np.ndarray
    speed: np.ndarray
    features: np.ndarray
    scale: np.ndarray
    now: np.ndarray
    ratio: np.ndarray
    peak: tuple[int, int]
    peak_feature: str
    names: tuple[str, ...]

    @property
    def peak_ratio(self) -> float:
        return float(self.ratio[self.peak])

    @property
    def peak_score(self) -> float:
        """The engine's e_raw(t): log(1 + the largest held ratio)."""
        return float(np.log1p(self.ratio[self.peak]))


def explain_motion(model: MotionModel, frames: Sequence[np.ndarray], t: int) -> MotionSteps:
    """Frame t's flow at the model's size (frame 0, with no predecessor, borrows frame 1's, as the engine does), how
    each place's figures compare with normal, and the held ratios the engine scored."""
    half = model.cfg.persistence // 2
    lo = max(0, t - half - 1)
    around = [model.prepare(f) for f in frames[lo : t + half + 1]]
    ratio = np.expm1(model.log_ratios(around, t - lo, 1)[0])
    shown = max(t, 1) if len(frames) > 1 else t
    flows = FlowStream(model.cfg.frame_size, model.cfg.flow)
    flows.next(model.prepare(frames[max(shown - 1, 0)]))
    flow = flows.next(model.prepare(frames[shown]))
    features, scale = cell_features(flow, model.cfg), model.normal.scale  # (F, rows, cols) each
    now = model.normal.ratio(features[None])[0]
    row, col = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    feature = model.cfg.features[int(np.argmax(features[:, row, col] / scale[:, row, col]))]
    speed = np.hypot(flow[..., 0], flow[..., 1])
    names = tuple(model.cfg.features)
    return MotionSteps(flow, speed, features, scale, now, ratio, (int(row), int(col)), feature, names)


def flow_rgb(flow: np.ndarray, top_speed: float) -> np.ndarray:
    """The flow as an RGB picture, the usual way: hue the direction, brightness the speed (full at top_speed px a
    frame and above)."""
    angle = (np.degrees(np.arctan2(flow[..., 1], flow[..., 0])) % 360) / 2  # OpenCV's hue runs 0..180
    value = np.clip(np.hypot(flow[..., 0], flow[..., 1]) / max(top_speed, 1e-6), 0, 1) * 255
    hsv = np.stack([angle, np.full_like(angle, 255), value], axis=-1).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
