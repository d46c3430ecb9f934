"""Model-free baselines that every evaluation reports beside the model: frame differencing and dense optical flow.

normal = [baseline_maps("optical_flow", clip, 131) for clip in train_clips]     # (N, 131, 131) each
scorer = BaselineScorer.fit(normal, model.scoring)
e = scorer.frame_errors(baseline_maps("optical_flow", test_clip, 131))         # (N,) like the model's e(t)

Each map is taken at the clip's own resolution (where flow is sharpest), resized to the model's input and scored
with the model's own reduction, per place: each patch mean over what the dataset's normal clips produced there.
A model that does not beat these has learned nothing that a frame difference or a flow field does not already know.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, get_args

import cv2
import numpy as np

from vad_core.io.video import stream_raw_gray
from vad_core.scoring.flow import FlowStream, flow_size
from vad_core.scoring.scene import MAX_PLACE_FRAMES
from vad_core.scoring.scores import ScoringConfig, fit_place_scale, patch_mean, reduce_maps, smooth

BaselineKind = Literal["frame_difference", "optical_flow"]
BASELINES: tuple[BaselineKind, ...] = get_args(BaselineKind)
MAX_FLOW_SIDE = 640  # flow is computed at the clip's resolution up to this longer side: its cost grows with pixels


def _frame_differences(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """(x_t - x_t-1)^2 per pixel, values in [0, 1]; the first frame has nothing to differ from: zeros."""
    previous = None
    for frame in frames:
        x = frame.astype(np.float32) / 255.0
        yield np.zeros_like(x) if previous is None else np.square(x - previous)
        previous = x


def _flow_speeds(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Per pixel, the speed (pixels a frame) of OpenCV's DIS optical flow from the frame before; zeros first. Taken
    at the clip's own size within MAX_FLOW_SIDE (and never thinner than DIS can take: flow_size)."""
    flows = scale = None
    for frame in frames:
        if flows is None:
            size = flow_size(frame.shape[1], frame.shape[0], MAX_FLOW_SIDE)
            flows, scale = FlowStream(size, "fast"), size[0] / frame.shape[1]
        field = flows.next(frame)
        yield np.hypot(field[..., 0], field[..., 1]) / scale  # in the clip's own pixels


MAPS = {"frame_difference": _frame_differences, "optical_flow": _flow_speeds}


def frames_maps(kind: BaselineKind, frames: Iterable[np.ndarray], size: int) -> np.ndarray:
    """uint8 gray frames' baseline map per frame at the model's input size: float32 (N, size, size)."""
    maps = [cv2.resize(m, (size, size), interpolation=cv2.INTER_AREA) for m in MAPS[kind](frames)]
    return np.stack(maps) if maps else np.zeros((0, size, size), np.float32)


def baseline_maps(kind: BaselineKind, clip: str | Path, size: int) -> np.ndarray:
    """A clip's baseline maps (frames_maps), its frames decoded at the clip's own resolution."""
    return frames_maps(kind, stream_raw_gray(clip), size)


@dataclass(frozen=True)
class BaselineScorer:
    """The model's reduction on a baseline's maps, per place: scale (size, size) is what normal clips reached."""

    scoring: ScoringConfig
    place_scale: np.ndarray

    @classmethod
    def fit(cls, normal_maps: list[np.ndarray], scoring: ScoringConfig) -> BaselineScorer:
        """Place scales from normal clips' maps, as calibration fits the model's (evenly spaced frames)."""
        frames = np.concatenate(normal_maps)
        pick = np.linspace(0, len(frames) - 1, min(len(frames), MAX_PLACE_FRAMES)).round().astype(int)
        per_place = replace(scoring, per_place=True, reduce="local_top" if scoring.reduce == "sum" else scoring.reduce)
        scale = fit_place_scale(
            patch_mean(frames[pick], per_place.patch), per_place.place_quantile, per_place.patch / 2
        )
        return cls(per_place, scale)

    def frame_errors(self, maps: np.ndarray) -> np.ndarray:
        """e(t) of a clip's maps, smoothed as the model's is."""
        return smooth(reduce_maps(maps, self.scoring, self.place_scale), self.scoring.smooth_sigma)

    def local_maps(self, maps: np.ndarray) -> np.ndarray:
        """Place-normalized patch means per frame, for the pixel AUC."""
        return patch_mean(maps, self.scoring.patch) / self.place_scale
