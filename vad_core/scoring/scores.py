"""From reconstructions to scores: error maps, frame error e(t), regularity s(t), calibrated c(t), segments.

maps = motion_error_map(x, r, x_prev, r_prev)        # per-pixel squared error
e = smooth(np.array([reduce_map(m, cfg) for m in all_maps]), cfg.smooth_sigma)
segs = find_segments(e / tau, threshold=1.0, min_duration=5, merge_gap=5)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Literal, get_args

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d

from vad_core.runs import flag_runs

ErrorKind = Literal["appearance", "motion", "fused"]
MotionForm = Literal["error", "missed"]
Reduction = Literal["sum", "local_max", "local_top"]
ERROR_KINDS: tuple[str, ...] = get_args(ErrorKind)  # every map an analysis may hold
# The maps an autoencoder makes from its reconstruction (a fused detector's map is made from its parts' maps)
RECONSTRUCTION_KINDS = ("appearance", "motion")
MOTION_FORMS: tuple[str, ...] = get_args(MotionForm)
REDUCTIONS: tuple[str, ...] = get_args(Reduction)
LOCAL_REDUCTIONS = ("local_max", "local_top")


@dataclass(frozen=True)
class ScoringConfig:
    """How an error map becomes a frame error.

    kind: "appearance" is (x - r)^2; "motion" is the squared error of the reconstructed frame
    difference, which ignores static texture the model renders badly; "fused" is a fused detector's own scoring
    (vad_core.model.fused: its e(t) is its rule over its parts' calibrated errors, its map theirs). reduce: "sum" is the
    paper's frame-wide sum; "local_max" is the max of a patch-averaged map, so a small object
    is not diluted by a large frame; "local_top" is the mean of the top `top_fraction` of the
    patch-averaged map, between the two: local enough for a bicycle, steady enough to compare
    frames within a clip (chosen by measurement, see docs/results.md). per_place (on by default; calibration
    chooses it per scene by anomalies injected into normal clips, see docs/your-camera.md): divide each patch
    mean by what held-out normal footage produced at that place (the card's place scale), so a far
    walkway and a near one are judged each by its own normal; the local reductions only. place_quantile: which
    quantile of a place's normal patch means is its scale (1.0: the largest seen). motion: the motion map's
    form (motion_error_map); "missed" counts only the input's motion that the reconstruction did not
    reproduce, so flicker the model invents where nothing moves is not scored. smooth_sigma: Gaussian
    smoothing of e(t) in frames. Calibration chooses per_place, place_quantile and motion per scene.
    """

    kind: ErrorKind = "motion"
    reduce: Reduction = "local_top"
    patch: int = 24
    top_fraction: float = 0.2
    per_place: bool = True
    place_quantile: float = 0.99
    motion: MotionForm = "error"
    smooth_sigma: float = 3.0

    def __post_init__(self) -> None:
        if self.kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {self.kind!r}; choose from {ERROR_KINDS}")
        if self.reduce not in REDUCTIONS:
            raise ValueError(f"unknown reduction {self.reduce!r}; choose from {REDUCTIONS}")
        if not 0 < self.top_fraction <= 1:
            raise ValueError(f"top_fraction must be in (0, 1], got {self.top_fraction}")
        if not 0 < self.place_quantile <= 1:
            raise ValueError(f"place_quantile must be in (0, 1], got {self.place_quantile}")
        if self.motion not in MOTION_FORMS:
            raise ValueError(f"unknown motion form {self.motion!r}; choose from {MOTION_FORMS}")

    @property
    def error_key(self) -> str:
        """The frame_errors key of this scoring: kind_reduce, with _place for per-place local reductions; a fused
        scoring's e(t) is no reduction of a map but its rule over its parts' errors, kept as "fused"."""
        if self.kind == "fused":
            return "fused"
        place = "_place" if self.per_place and self.reduce in LOCAL_REDUCTIONS else ""
        return f"{self.kind}_{self.reduce}{place}"

    @property
    def error_map(self) -> str:
        """Which map the score reads, for explanations: "appearance", "motion" or "missed_motion"."""
        return "missed_motion" if self.kind == "motion" and self.motion == "missed" else self.kind

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ScoringConfig:
        """A card's scoring; cards from before per-place scoring existed score without it."""
        return cls(**{"per_place": False} | {f.name: data[f.name] for f in fields(cls) if f.name in data})


def appearance_error_map(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(x - r)^2 per pixel."""
    return np.square(x - r)


def motion_error_map(
    x: np.ndarray, r: np.ndarray, x_prev: np.ndarray, r_prev: np.ndarray, form: str = "error"
) -> np.ndarray:
    """Per pixel, "error": ((x_t - x_t-1) - (r_t - r_t-1))^2, the error of the reconstructed frame difference;
    "missed": max((x_t - x_t-1)^2 - (r_t - r_t-1)^2, 0), the input's motion energy the reconstruction did not
    reproduce. A model short of training renders walkers as soft blobs that shimmer: "error" scores that
    shimmer wherever it is, "missed" only motion the input really has."""
    if form == "missed":
        return np.maximum(np.square(x - x_prev) - np.square(r - r_prev), 0)
    return np.square((x - x_prev) - (r - r_prev))


def patch_mean(error_map: np.ndarray, patch: int) -> np.ndarray:
    """Mean error over a patch x patch neighbourhood of every pixel; works on (H, W) or (N, H, W).

    The border is mirrored, not replicated: replication counts the edge pixels (where people enter
    the scene) many times over, which cost 0.01-0.03 frame AUC on Ped2.
    """
    if error_map.ndim == 3:
        return np.stack([patch_mean(m, patch) for m in error_map])
    return cv2.blur(error_map.astype(np.float32), (patch, patch), borderType=cv2.BORDER_REFLECT_101)


def local_maps(error_maps: np.ndarray, cfg: ScoringConfig, place_scale: np.ndarray | None = None) -> np.ndarray:
    """Patch means of (N, H, W) maps, each place divided by its normal scale when the scoring asks for it."""
    local = patch_mean(error_maps, cfg.patch)
    if cfg.per_place and place_scale is not None:
        local /= place_scale
    return local


def fit_place_scale(
    local: np.ndarray, quantile: float, blur: float = 0.0, counts: np.ndarray | None = None
) -> np.ndarray:
    """Each place's normal error level: the quantile over normal frames of its patch mean (N, H, W) -> (H, W),
    floored at the median over places, so that places where normal footage hardly moves (sky, a wall) do not
    turn noise into anomalies, then blurred (Gaussian sigma in pixels): a high quantile from a few hundred
    frames is blotchy where a pedestrian happened to pass or not. counts (H, W) bool: the places the zones
    leave in (None: all); the median is over those, so that masked places (all zero) do not lower the floor."""
    scale = np.quantile(np.asarray(local, dtype=np.float32), quantile, axis=0).astype(np.float32)
    floor = float(np.median(scale if counts is None or not counts.any() else scale[counts]))
    scale = np.maximum(scale, floor if floor > 0 else 1e-12)
    return gaussian_filter(scale, blur, mode="reflect") if blur > 0 else scale


def reduce_map(error_map: np.ndarray, cfg: ScoringConfig, place_scale: np.ndarray | None = None) -> float:
    """One frame's error: the frame-wide sum, the largest patch mean, or the mean of the top patch means."""
    return float(reduce_maps(error_map[None], cfg, place_scale)[0])


def reduce_maps(error_maps: np.ndarray, cfg: ScoringConfig, place_scale: np.ndarray | None = None) -> np.ndarray:
    """reduce_map over a block of maps (N, H, W) -> float64 (N,)."""
    if cfg.reduce == "sum":
        return error_maps.reshape(len(error_maps), -1).sum(axis=1, dtype=np.float64)
    return _reduce_local(local_maps(error_maps, cfg, place_scale).reshape(len(error_maps), -1), cfg)


def _reduce_local(local: np.ndarray, cfg: ScoringConfig) -> np.ndarray:
    """A local reduction of patch-mean maps flattened to (N, H*W)."""
    if cfg.reduce == "local_max":
        return local.max(axis=1).astype(np.float64)
    k = max(1, round(cfg.top_fraction * local.shape[1]))
    return np.partition(local, local.shape[1] - k, axis=1)[:, -k:].mean(axis=1, dtype=np.float64)


def reduce_maps_all(
    error_maps: np.ndarray, cfg: ScoringConfig, place_scale: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Every reduction in REDUCTIONS over a block of maps, with the patch means computed once for all; with a
    place scale, also the local ones on the place-normalized patch means (keys "local_max_place", ...)."""
    local = patch_mean(error_maps, cfg.patch).reshape(len(error_maps), -1)
    out = {"sum": reduce_maps(error_maps, replace(cfg, reduce="sum"))}
    out |= {reduce: _reduce_local(local, replace(cfg, reduce=reduce)) for reduce in LOCAL_REDUCTIONS}
    if place_scale is not None:
        placed = local / place_scale.reshape(1, -1)
        out |= {f"{reduce}_place": _reduce_local(placed, replace(cfg, reduce=reduce)) for reduce in LOCAL_REDUCTIONS}
    return out


def smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing over time; sigma 0 leaves the values as they are."""
    values = np.asarray(values, dtype=np.float64)
    if sigma <= 0 or values.size < 2:
        return values
    return gaussian_filter1d(values, sigma, mode="nearest")


def regularity(errors: np.ndarray) -> np.ndarray:
    """The paper's s(t) = 1 - (e(t) - min e) / max e over one video; 1 is most regular."""
    errors = np.asarray(errors, dtype=np.float64)
    finite = errors[np.isfinite(errors)]
    if finite.size == 0:
        return np.ones_like(errors)
    top = finite.max()
    if top <= 0:
        return np.ones_like(errors)
    return 1.0 - (errors - finite.min()) / top


def calibrated(errors: np.ndarray, tau: float) -> np.ndarray:
    """c(t) = e(t) / tau: above 1 means beyond the chosen quantile of held-out normal frames."""
    return np.asarray(errors, dtype=np.float64) / tau


@dataclass(frozen=True)
class Segment:
    """A run of anomalous frames, inclusive on both ends (0-based)."""

    start: int
    end: int
    peak: float
    peak_frame: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def to_dict(self, fps: float | None = None) -> dict:
        out = {
            "start": self.start,
            "end": self.end,
            "frames": self.length,
            "peak": self.peak,
            "peak_frame": self.peak_frame,
        }
        if fps:
            out |= {"start_s": self.start / fps, "end_s": (self.end + 1) / fps}
        return out


def find_segments(
    score: np.ndarray, threshold: float, min_duration: int = 1, merge_gap: int = 0, above: bool = True
) -> list[Segment]:
    """Maximal runs with score above (or below, for regularity) the threshold.

    Runs separated by at most merge_gap frames are joined first; then runs shorter than
    min_duration frames are dropped. NaN never counts as anomalous.
    """
    score = np.asarray(score, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        flags = score > threshold if above else score < threshold
    flags &= ~np.isnan(score)
    if not flags.any():
        return []
    merged: list[list[int]] = []
    for start, end in flag_runs(flags):
        if merged and start - merged[-1][1] - 1 <= merge_gap:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    segments = []
    for start, end in merged:
        if end - start + 1 < min_duration:
            continue
        part = np.nan_to_num(score[start : end + 1], nan=-np.inf if above else np.inf)
        offset = int(np.argmax(part) if above else np.argmin(part))
        segments.append(Segment(start, end, float(score[start + offset]), start + offset))
    return segments


def regularity_events(reg: np.ndarray, window: int = 50) -> list[int]:
    """The paper's events: local minima of s(t) within a `window`-frame neighbourhood."""
    from scipy.signal import find_peaks  # imported here: scipy.signal adds 1.5 s to every process start

    reg = np.nan_to_num(np.asarray(reg, dtype=np.float64), nan=1.0)
    if reg.size < 3:
        return []
    peaks, _ = find_peaks(-reg, distance=max(1, window // 2))
    return [int(p) for p in peaks]


def frame_labels_from_segments(segments: list[Segment], n_frames: int) -> np.ndarray:
    """0/1 per frame, 1 inside any segment."""
    labels = np.zeros(n_frames, dtype=np.int8)
    for seg in segments:
        labels[seg.start : seg.end + 1] = 1
    return labels
