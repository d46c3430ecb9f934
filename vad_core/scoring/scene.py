"""What calibration learned about the model's scene: per-place error levels and the scene check's reference.

fit = fit_normal(model, held_out, 0.99)                  # vad_core.training.calibration: fit.scene, stored in the card
check = analysis.scene_check()                           # SceneCheck(familiar, score, reason), via check_scene

The scene check asks whether a clip looks like the footage the model learned, from the same model pass and
not from the level of c(t): how well the model can redraw the picture at all (the frame-wide appearance
error), how far its bottleneck states lie from those of normal frames, and how far the clip's static
background lies from the model's mean frame (against how far normal frames, walkers and all, lie from it).
Each figure is the clip's median divided by the 99th percentile of held-out normal frames; the scene score is
the largest. Medians make it robust to anomalies, which fill a part of some frames, not the background of
most of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vad_core.io.card_arrays import decode_array, encode_array
from vad_core.io.framestore import iter_chunks
from vad_core.scoring.health import HealthReference
from vad_core.scoring.scores import RECONSTRUCTION_KINDS, ScoringConfig, fit_place_scale, patch_mean

FAMILIAR_LIMIT = 2.0  # above this, the typical frame of the clip is beyond twice what 99 % of normal frames reach
MAX_PLACE_FRAMES = 2000  # normal frames, evenly spaced, that the per-place quantiles are fitted on
BACKGROUND_FRAMES = 50  # frames whose median is the clip's static background
FIGURES = {
    "appearance": "how badly the model redraws the picture",
    "latent": "how far its internal states lie from normal ones",
    "motion": "how far its motion lies from the normal motion at each place",
    "background": "how far the static background lies from the scene's mean frame",
}
DETECTOR_FIGURES = {"autoencoder": ("appearance", "latent", "background"), "motion": ("motion", "background")}


@dataclass(frozen=True)
class SceneCheck:
    """familiar: the clip looks like the model's scene; score: the largest figure (1 = the normal 99th percentile)."""

    familiar: bool
    score: float
    reason: str
    figures: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"familiar": self.familiar, "score": self.score, "reason": self.reason}


@dataclass(frozen=True)
class SceneReference:
    """Normal footage as the model sees it: each place's error level per error kind, and the 99th percentiles
    of the scene-check figures over held-out normal frames. scene says which footage that was."""

    place_scale: dict[str, np.ndarray]
    reference: dict[str, float]
    scene: str
    frames: int
    health: HealthReference | None = None  # camera health's normal extremes (cards from before it have none)

    def to_dict(self) -> dict:
        return {
            "scene": self.scene,
            "frames": self.frames,
            "reference": {k: float(v) for k, v in self.reference.items()},
            "place_scale": {kind: encode_array(v) for kind, v in self.place_scale.items()},
        } | ({"health": self.health.to_dict()} if self.health is not None else {})

    @classmethod
    def from_dict(cls, data: object) -> SceneReference:
        """The card's entry back; ValueError (with what is wrong) for a malformed one."""
        if not isinstance(data, dict) or not isinstance(data.get("reference"), dict):
            raise ValueError("scene_reference must be an object with a 'reference' object")
        reference = {k: float(data["reference"][k]) for k in FIGURES if k in data["reference"]}
        needs = next((names for names in DETECTOR_FIGURES.values() if set(names) == set(reference)), None)
        if needs is None or not all(np.isfinite(v) and v > 0 for v in reference.values()):
            options = " or ".join(", ".join(names) for names in DETECTOR_FIGURES.values())
            raise ValueError(f"scene_reference.reference needs positive {options}")
        scales = data.get("place_scale", {})
        if not isinstance(scales, dict) or set(scales) - set(RECONSTRUCTION_KINDS):
            raise ValueError(f"scene_reference.place_scale takes the error kinds {RECONSTRUCTION_KINDS}")
        place_scale = {k: decode_array(v, f"scene_reference.place_scale.{k}") for k, v in scales.items()}
        for kind, scale in place_scale.items():
            if scale.ndim != 2 or not np.all(scale > 0):
                raise ValueError(f"scene_reference.place_scale.{kind} must be a positive 2-D map")
        health = HealthReference.from_dict(data["health"]) if "health" in data else None
        return cls(place_scale, reference, str(data.get("scene", "")), int(data.get("frames", 0)), health)


def frame_figures(
    error_sums: dict[str, np.ndarray],
    pixels: int,
    latent: np.ndarray | None,
    positions: np.ndarray | None,
    latent_mean: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Per-frame scene figures: a map's mean per pixel for each figure in error_sums (the autoencoder's appearance
    error; a motion detector's ratio to normal motion), and the latent's RMS distance from the normal mean at its
    window place (absent without a latent or a card projection to centre it)."""
    out = {name: np.asarray(sums, dtype=np.float64) / pixels for name, sums in error_sums.items()}
    if latent is not None and latent_mean is not None and latent.shape[1] == latent_mean.shape[1]:
        pos = np.asarray(positions, dtype=np.int64)
        if len(pos) == len(latent) and (len(pos) == 0 or pos.max() < len(latent_mean)):
            parts = [
                np.linalg.norm(chunk.astype(np.float32) - latent_mean[pos[i * 4096 : i * 4096 + len(chunk)]], axis=1)
                for i, chunk in enumerate(iter_chunks(latent, 4096))
            ]
            out["latent"] = np.concatenate(parts) / np.sqrt(latent.shape[1]) if parts else np.zeros(0)
    return out


def background_distance(inputs: np.ndarray, mean_frame: np.ndarray, std: float) -> float:
    """RMS distance, in the model's input units, between a clip's static background (the median of up to
    BACKGROUND_FRAMES evenly spaced uint8 frames) and the model's mean normal frame."""
    if len(inputs) == 0:
        return 0.0
    pick = np.linspace(0, len(inputs) - 1, min(len(inputs), BACKGROUND_FRAMES)).round().astype(int)
    background = np.median(np.asarray(inputs[pick], dtype=np.float32), axis=0) / 255.0
    return float(np.sqrt(np.mean(np.square(background - mean_frame))) / std)


def frame_distances(inputs: np.ndarray, mean_frame: np.ndarray, std: float) -> np.ndarray:
    """Each uint8 frame's RMS distance from the mean frame, in the model's input units: the reference for
    background_distance. A whole frame, walkers and all, so one clip's calibration frames give a stable figure."""
    out = [
        np.sqrt(np.mean(np.square(chunk.astype(np.float32) / 255.0 - mean_frame), axis=(1, 2))) / std
        for chunk in iter_chunks(inputs)
    ]
    return np.concatenate(out) if out else np.zeros(0)


def fit_place_scales(maps: dict[str, list[np.ndarray]], scoring: ScoringConfig, mask: np.ndarray | None = None) -> dict:
    """Each error kind's place scale from normal frames' error maps (lists of (n, S, S) blocks); mask: the zones'
    place mask (vad_core.scoring.zones) the maps were masked with, or None."""
    counts = patch_mean(mask, scoring.patch) > 0.5 if mask is not None else None
    scales = {}
    for kind, blocks in maps.items():
        frames = np.concatenate([np.asarray(b, dtype=np.float32) for b in blocks])
        pick = np.linspace(0, len(frames) - 1, min(len(frames), MAX_PLACE_FRAMES)).round().astype(int)
        local = patch_mean(frames[pick], scoring.patch)
        scales[kind] = fit_place_scale(local, scoring.place_quantile, blur=scoring.patch / 2, counts=counts)
    return scales


def check_scene(figures: dict[str, np.ndarray], background: float, reference: SceneReference) -> SceneCheck:
    """Each figure's clip median over its normal 99th percentile; unfamiliar when the largest passes the limit."""
    ratios = {name: float(np.median(values)) / reference.reference[name] for name, values in figures.items()}
    ratios = {k: v for k, v in ratios.items() if np.isfinite(v)}
    ratios["background"] = background / reference.reference["background"]
    worst = max(ratios, key=ratios.get)
    score = ratios[worst]
    scene = reference.scene or "its training footage"
    if score <= FAMILIAR_LIMIT:
        reason = f"looks like {scene}: scene score {score:.2f} (normal footage stays under {FAMILIAR_LIMIT:g})"
        return SceneCheck(True, score, reason, ratios)
    reason = (
        f"unlike {scene}, the scene this model learned: scene score {score:.1f} "
        f"(normal footage stays under {FAMILIAR_LIMIT:g}; highest: {FIGURES[worst]}); "
        "its anomaly scores are not meaningful here"
    )
    return SceneCheck(False, score, reason, ratios)
