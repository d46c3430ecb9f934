"""The motion detector's settings as plain data (no torch), the "model" section of a motion card.

cfg = MotionConfig(cell=16)                   # flow cells of 16 px at the clip's own resolution
cfg.to_dict(); MotionConfig.from_dict(doc)    # the card's JSON, each key checked
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal, get_args

MotionFeature = Literal["speed_mean", "speed_p90", "moving"]
MOTION_FEATURES: tuple[str, ...] = get_args(MotionFeature)
FlowPreset = Literal["fast", "medium"]  # OpenCV's DIS presets
FLOW_PRESETS: tuple[str, ...] = get_args(FlowPreset)


@dataclass(frozen=True)
class MotionConfig:
    """How flow becomes per-place features and how a place's normal is taken.

    frame_size: (width, height) the flow is computed at: the training clips' own size, its longer side at most
    max_side (flow is sharpest at the native resolution and its cost grows with pixels); every clip is resized to
    it, so the places line up. cell: side of a place in pixels at that size. features: what each cell measures
    (config.MOTION_FEATURES). flow: OpenCV's DIS preset; "medium" refines the flow over more scales and
    iterations, which moved Ped1 and the pixel AUC most (docs/results.md), at about 1.2x the fast preset's time.
    quantile: which quantile of a cell's normal values is its scale. scale_sigma: the Gaussian smoothing, in cells,
    of the scales over neighbouring places: a place that normal clips rarely crossed borrows its neighbours' normal
    instead of its own few values (train chooses it per scene on injected anomalies: vad_core.training.motion_fit).
    persistence: the frames, centred on t, over which each place's ratio is averaged before the largest is taken,
    so one frame's flow glitch at one place does not make an anomaly and an object that keeps moving does.
    moving_speed: the speed (px a frame) above which a pixel counts as moving. input_size: the square size of the
    maps and frames the engine keeps (views, pixel AUC), as the autoencoder's input size.
    """

    frame_size: tuple[int, int] = (0, 0)
    max_side: int = 640
    cell: int = 16
    features: tuple[MotionFeature, ...] = ("speed_mean", "speed_p90")
    flow: FlowPreset = "medium"
    quantile: float = 0.999
    scale_sigma: float = 0.0
    persistence: int = 15
    moving_speed: float = 0.5
    input_size: int = 131

    def __post_init__(self) -> None:
        unknown = sorted(set(self.features) - set(MOTION_FEATURES))
        if unknown or not self.features:
            raise ValueError(f"motion features {unknown or '[]'}; choose from {MOTION_FEATURES}")
        if self.flow not in FLOW_PRESETS:
            raise ValueError(f"flow preset {self.flow!r}; choose from {FLOW_PRESETS}")
        if not 4 <= self.cell <= 128:
            raise ValueError(f"cell must be 4 to 128 px, not {self.cell}")
        if not 0 <= self.scale_sigma <= 16 or not (1 <= self.persistence <= 31 and self.persistence % 2):
            raise ValueError("scale_sigma must be 0 to 16 cells and persistence an odd number of frames, 1 to 31")
        if not 0 < self.quantile <= 1:
            raise ValueError(f"quantile must be in (0, 1], not {self.quantile}")
        if not 16 <= self.max_side <= 4096 or not 8 <= self.input_size <= 1024:
            raise ValueError("max_side must be 16 to 4096 px and input_size 8 to 1024 px")
        if any(side < 0 or side > self.max_side for side in self.frame_size):
            raise ValueError(f"frame_size {self.frame_size} must lie within max_side {self.max_side}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MotionConfig:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown motion config keys: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
