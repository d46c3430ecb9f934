"""How one frame's numbers are built, step by step, from its error map: for teaching (the app's Reconstruction lab).

steps = explain_frame(analysis, 42)     # every intermediate value of frame 42, recomputed from its map
steps.error == analysis.error[42]       # e(t), smoothed;  steps.score == analysis.score[42]
image = heat_rgb(steps.local_map, analysis.pixel_tau)   # a map coloured on the player's scale
fused = explain_fusion(analysis, model, 42)               # a fused detector's: its parts' calibrated errors, its rule
part = autoencoder_part(frames, model, analysis)          # its autoencoder part alone on the same frames, to explain
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from vad_core.model.fused import PART_ERRORS, FusedModel
from vad_core.pipeline.engine import Progress, analyze_frames
from vad_core.pipeline.frame_errors import error_key
from vad_core.pipeline.render import COLORMAPS, HEAT_RANGE, colormap_lut
from vad_core.pipeline.result import Analysis, SegmentRule
from vad_core.scoring.scores import Segment, local_maps, reduce_maps_all

TRUNCATE = 4.0  # scipy's gaussian_filter1d default: the kernel reaches 4 sigma either side


@dataclass(frozen=True)
class FrameSteps:
    """The intermediate values of frame t's scores, in the order they are computed.

    error_map is E_t (float32, S x S); local_map its patch means; top_mask marks the patch means that the
    "local_top" reduction averages. raw is the frame error before smoothing, recomputed here from the map
    (equal to analysis.raw_error()[t]; a fused detector's is no reduction of its map but its rule over its parts'
    errors, so the analysis's own, which explain_fusion recomputes); error, regularity and score equal the Analysis
    curves at t.
    """

    frame: int
    kind: str
    reduce: str
    patch: int
    top_fraction: float
    smooth_sigma: float
    error_map: np.ndarray
    local_map: np.ndarray
    top_mask: np.ndarray
    top_count: int
    top_cut: float
    pixels: int
    map_max: float
    reductions: dict[str, float]  # "sum", "local_max", "local_top" of this kind, recomputed from the map
    variants: dict[str, float]  # analysis.frame_errors at t: "kind_reduce" -> value, every kind and reduction
    raw: float
    weights: np.ndarray  # Gaussian smoothing weights w_k, k = -radius .. radius (sum 1)
    neighbours: np.ndarray  # the raw errors they multiply: frames t+k, clamped to the clip (mode "nearest")
    error: float
    error_min: float
    error_max: float
    regularity: float
    tau: float
    score: float
    threshold: float
    segment: Segment | None  # the anomalous segment (at threshold) holding frame t, if any

    @property
    def radius(self) -> int:
        return len(self.weights) // 2

    @property
    def smoothed_by_hand(self) -> float:
        """e(t) = sum_k w_k e_raw(t + k): the smoothing written out; equals error up to rounding."""
        return float(np.dot(self.weights, self.neighbours))


def gaussian_weights(sigma: float, truncate: float = TRUNCATE) -> np.ndarray:
    """The normalized Gaussian kernel scipy.ndimage.gaussian_filter1d uses; [1.0] when sigma is 0."""
    if sigma <= 0:
        return np.ones(1)
    radius = int(truncate * sigma + 0.5)
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (k / sigma) ** 2)
    return w / w.sum()


def explain_frame(analysis: Analysis, frame: int, rule: SegmentRule | None = None) -> FrameSteps:
    """Recompute frame `frame`'s scores from its error map, keeping every intermediate value.

    The kind, patch, reduction and smoothing are the analysis's scoring config (the model's); the segment
    is found with `rule` (default: threshold 1 on c(t), the analysis's run-length rules).
    """
    n = analysis.frame_count
    if not 0 <= frame < n:
        raise IndexError(f"frame {frame} is outside the clip's {n} frames (0..{n - 1})")
    cfg = analysis.scoring
    rule = rule or replace(analysis.rule, threshold=1.0)
    error_map = np.asarray(analysis.maps[cfg.kind][frame], dtype=np.float32)
    scale = analysis.place_scale  # per-place scoring: the patch means are judged against their normal level
    local = local_maps(error_map[None], cfg, scale)[0]
    reductions = {k: float(v[0]) for k, v in reduce_maps_all(error_map[None], cfg, scale).items()}
    top_count = max(1, round(cfg.top_fraction * local.size))
    top_cut = float(np.partition(local.ravel(), local.size - top_count)[local.size - top_count])
    weights = gaussian_weights(cfg.smooth_sigma)
    radius = len(weights) // 2
    raw_curve = analysis.raw_error()
    index = np.clip(np.arange(frame - radius, frame + radius + 1), 0, n - 1)
    errors = analysis.error
    segment = next((s for s in analysis.segments(rule) if s.start <= frame <= s.end), None)
    return FrameSteps(
        frame=frame,
        kind=cfg.kind,
        reduce=cfg.reduce,
        patch=cfg.patch,
        top_fraction=cfg.top_fraction,
        smooth_sigma=cfg.smooth_sigma,
        error_map=error_map,
        local_map=local,
        top_mask=local >= top_cut,
        top_count=top_count,
        top_cut=top_cut,
        pixels=error_map.size,
        map_max=float(error_map.max()),
        reductions=reductions,
        variants={key: float(values[frame]) for key, values in analysis.frame_errors.items()},
        raw=reductions.get(error_key(cfg).removeprefix(f"{cfg.kind}_"), float(raw_curve[frame])),
        weights=weights,
        neighbours=np.asarray(raw_curve[index], dtype=np.float64),
        error=float(errors[frame]),
        error_min=float(np.nanmin(errors)),
        error_max=float(np.nanmax(errors)),
        regularity=float(analysis.regularity[frame]),
        tau=analysis.tau,
        score=float(analysis.score[frame]),
        threshold=rule.threshold,
        segment=segment,
    )


@dataclass(frozen=True)
class FusionSteps:
    """A fused detector's frame t: each part's raw error over its own tau (its calibrated error), the rule that
    combines them into e_raw(t) (recomputed here, equal to the analysis's), then e(t), tau and c(t) as any
    detector's."""

    frame: int
    rule: str
    autoencoder_raw: float
    autoencoder_tau: float
    motion_raw: float
    motion_tau: float
    raw: float
    error: float
    tau: float
    score: float

    @property
    def autoencoder_score(self) -> float:
        return self.autoencoder_raw / self.autoencoder_tau

    @property
    def motion_score(self) -> float:
        return self.motion_raw / self.motion_tau


def explain_fusion(analysis: Analysis, model: FusedModel, frame: int) -> FusionSteps:
    """How frame `frame`'s fused e_raw(t) comes from the parts' errors the analysis keeps, by the model's rule."""
    errors = {key: analysis.frame_errors[key][frame : frame + 1] for key in PART_ERRORS}
    return FusionSteps(
        frame=frame,
        rule=model.fusion.name,
        autoencoder_raw=float(errors["autoencoder_error"][0]),
        autoencoder_tau=model.autoencoder.calibration.tau,
        motion_raw=float(errors["motion_error"][0]),
        motion_tau=model.motion.calibration.tau,
        raw=float(model.fused_error(errors)[0]),
        error=float(analysis.error[frame]),
        tau=analysis.tau,
        score=float(analysis.score[frame]),
    )


def autoencoder_part(
    frames: Iterable[np.ndarray], model: FusedModel, analysis: Analysis, progress: Progress | None = None
) -> Analysis:
    """A fused detector's autoencoder part alone, through the one engine, on the frames `analysis` scored (uint8
    gray, as analyze's on_frame saw them), so that explain_frame can teach its steps. The part is fed as the fused
    detector feeds it (at the flow's size, then its own input) and masked by its zones: its raw e(t) is then the
    analysis's kept autoencoder_error, exactly when the frames are the decoded ones (or the same resize of them)."""
    part = replace(model.autoencoder, zones=model.zones)
    prepared = (part.prepare(model.prepare(gray)) for gray in frames)
    result = analyze_frames(
        prepared,
        part,
        name=analysis.name,
        fps=analysis.fps,
        source_size=analysis.source_size,
        total=analysis.frame_count,
        progress=progress,
    )
    result.first_frame, result.frame_step = analysis.first_frame, analysis.frame_step
    return result


def heat_rgb(values: np.ndarray, unit: float, colormap: str = "inferno") -> np.ndarray:
    """A map as an RGB image on the player's colour scale, 0 .. HEAT_RANGE x unit.

    unit is pixel_tau for error maps (as the player draws them); patch means, which average the error away,
    read better with unit = tau / 2, so the colour saturates at twice the calibrated frame error.
    """
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; choose from {sorted(COLORMAPS)}")
    levels = np.clip(np.asarray(values, dtype=np.float32) / (HEAT_RANGE * unit) * 255.0 + 0.5, 0, 255)
    return colormap_lut(colormap)[levels.astype(np.uint8), :3]


__all__ = ["FrameSteps", "autoencoder_part", "explain_frame", "gaussian_weights", "heat_rgb"]
