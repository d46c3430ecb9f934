"""Fitting a motion detector on normal clips: per-place flow statistics, then calibration on held-out frames.

cfg = MotionTrainConfig(data="../shared/data/ucsd_ped2", out="models/ped2-motion")
path = train_motion(cfg)        # models/ped2-motion.safetensors + .json (kind "motion"), in seconds to minutes

The tail of each normal clip is held out, as the autoencoder's training does: the places' scales come from the
heads, c(t)'s tau, the pixel tau, the scene check's references and camera health from the tails, run through the
one engine (vad_core.pipeline.engine) exactly as any clip will be. How far the places' normal is smoothed over
neighbouring places (scale_sigma) is chosen per scene without labels (choose_settings): each candidate's normal
is fitted on every other normal clip and judged on anomalies injected into the others.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from vad_core.errors import BadInput
from vad_core.io.video import normal_clips, probe, stream_raw_gray
from vad_core.model.card import (
    Calibration,
    CalibrationData,
    ModelCard,
    RankedCandidate,
    ScoringSelection,
    TrainingRecord,
)
from vad_core.model.checkpoint import new_checkpoint_paths, save_motion_checkpoint
from vad_core.model.motion.config import FlowPreset, MotionConfig, MotionFeature
from vad_core.model.motion.detector import MOTION_SCORING, MotionModel
from vad_core.model.motion.features import clip_features
from vad_core.model.motion.normal import MotionNormal
from vad_core.model.preprocess import Normalizer
from vad_core.pipeline.engine import analyze_frames
from vad_core.pipeline.result import Analysis
from vad_core.scoring.flow import fit_frame, flow_size
from vad_core.scoring.health import HealthReference
from vad_core.scoring.metrics import frame_auc_micro, frame_auc_video_norm
from vad_core.scoring.scene import SceneReference, frame_distances
from vad_core.scoring.scores import ScoringConfig, smooth
from vad_core.training.calibration import hold_out_tails, scene_name
from vad_core.training.selection import baselines_on, best_first, inject_at_random, ranked_selection

CELLS = (16, 8)  # px at the flow's size: a place's side
SCALE_SIGMAS = (0.0, 1.0, 2.0, 3.0)  # cells: how far a place's normal may borrow from its neighbours
# What a motion statistic is for: a person-sized object at twice the walking pace (a cyclist, a skater). Kinds it
# cannot see (a still object, a wrong-way walker at a normal pace) would only add noise to the choice of its
# settings; they weigh in where detectors are chosen (injection.DETECTOR_PROXY_KINDS).
SETTING_PROXY_KINDS = ("walker",)
SETTING_METHOD = "cell and scale_sigma on walkers injected into every other normal clip, fitted on the rest"
INJECTIONS_PER_CLIP = 3  # each at its own seeded place and time: one per clip leaves the choice to chance


@dataclass(frozen=True)
class MotionTrainConfig:
    """What `train --kind motion` fits: the detector's settings (MotionConfig's, with its defaults: flat here so
    the CLI's options map onto them) and the calibration's."""

    data: str
    out: str
    cell: int | None = None  # None: chosen on injected anomalies (choose_settings)
    features: tuple[MotionFeature, ...] = MotionConfig.features
    flow: FlowPreset = MotionConfig.flow
    place_quantile: float = MotionConfig.quantile
    scale_sigma: float | None = None  # None: chosen on injected anomalies (choose_settings)
    persistence: int = MotionConfig.persistence
    val_fraction: float = 0.15
    quantile: float = 0.99
    max_clips: int | None = None
    command: str = ""


def _read(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A normal clip's uint8 gray frames at the flow's size (N, H, W)."""
    frames = [fit_frame(gray, size) for gray in stream_raw_gray(path)]
    if len(frames) < 2:
        raise BadInput(f"{path.name}: a motion detector needs at least 2 frames of each normal clip")
    return np.stack(frames)


def setting_name(cell: int, sigma: float) -> str:
    """A settings candidate's name in the card's scoring_selection."""
    return f"cell {cell} px, scale_sigma {sigma:g}"


def frame_error(normal: MotionNormal, features: np.ndarray, cfg: MotionConfig) -> np.ndarray:
    """A clip's e(t) from its cell features (N, F, rows, cols), as the engine scores it with these settings (the
    largest place score, smoothed over time): what the settings are chosen on, computed without the engine."""
    return smooth(normal.place_scores(features, cfg.persistence).max(axis=(1, 2)), MOTION_SCORING.smooth_sigma)


def candidate_settings(cfg: MotionTrainConfig) -> list[tuple[int, float]]:
    """(cell, scale_sigma) pairs to choose among: CELLS x SCALE_SIGMAS, less what the config fixes."""
    cells = (cfg.cell,) if cfg.cell else CELLS
    sigmas = (cfg.scale_sigma,) if cfg.scale_sigma is not None else SCALE_SIGMAS
    return [(cell, sigma) for cell in cells for sigma in sigmas]


def choose_settings(
    heads: list[np.ndarray], base: MotionConfig, candidates: list[tuple[int, float]]
) -> tuple[MotionConfig, list[np.ndarray], ScoringSelection]:
    """The best (cell, scale_sigma) of candidates, each fitted on every other normal clip (one clip: its first half)
    and scored on SETTING_PROXY_KINDS injected into the others; with the chosen cell's features of every clip (or
    half) for the final fit, and the selection the card keeps: every candidate best first (pooled, then per-video
    AUC), and the model-free baselines on the same anomalies with the verdict. A small cell sees a far pedestrian
    whole; a large one is steadier. Smoothing the scales pays where normal clips crossed each place too seldom for
    its own quantile to be steady, and costs where a place's own normal is what tells an anomaly (walking on the
    grass). The flow is computed once a clip and cell: a scale_sigma only changes the places' scales."""
    pieces = heads if len(heads) >= 2 else [part for h in heads for part in np.array_split(h, 2)]
    targets = [
        inject_at_random(h, kind, seed=100 * i + k)
        for i, h in enumerate(pieces[1::2])
        if len(h) >= 9
        for k, kind in enumerate(SETTING_PROXY_KINDS * INJECTIONS_PER_CLIP)
    ]
    if not targets:
        raise BadInput("choosing the motion settings needs normal clips of 18 frames or more")
    labels = [truth for _, truth in targets]
    features: dict[int, list[np.ndarray]] = {}
    ranked = []
    for cell in dict.fromkeys(c for c, _ in candidates):
        cfg = replace(base, cell=cell)
        features[cell] = [clip_features(list(p), cfg) for p in pieces]
        fitted = np.concatenate(features[cell][::2])
        injected = [clip_features(list(frames), cfg) for frames, _ in targets]
        for sigma in (s for c, s in candidates if c == cell):
            normal = MotionNormal.fit(fitted, replace(cfg, scale_sigma=sigma))
            errors = [frame_error(normal, f, cfg) for f in injected]
            micro, video = frame_auc_micro(errors, labels) or 0.0, frame_auc_video_norm(errors, labels) or 0.0
            ranked.append(RankedCandidate(setting_name(cell, sigma), micro, video))
    ranked = best_first(ranked)
    cell, sigma = next(c for c in candidates if setting_name(*c) == ranked[0].name)
    baselines = baselines_on(pieces[::2], targets, ScoringConfig(), base.input_size)  # scored as evaluate scores
    return (
        replace(base, cell=cell, scale_sigma=sigma),
        features[cell],
        ranked_selection(SETTING_METHOD, list(SETTING_PROXY_KINDS), ranked, baselines),
    )


def _mean_frame(heads: list[np.ndarray], size: int) -> Normalizer:
    """The scene's mean frame and std at the map size (the scene check's background figure, camera health)."""
    frames = [
        cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for h in heads for f in h[:: max(1, len(h) // 20)]
    ]
    return Normalizer.fit(np.stack(frames).astype(np.float32) / 255.0)


def _calibration(results: list[Analysis], quantile: float) -> Calibration:
    errors = np.concatenate([r.error for r in results])
    local = np.concatenate([r.frame_errors["motion_local_max"] for r in results])
    return Calibration(
        tau=float(np.quantile(errors, quantile)),
        pixel_tau=float(np.quantile(local, quantile)),
        quantile=quantile,
        frames=int(errors.size),
        quantiles={str(q): float(np.quantile(errors, q)) for q in (0.5, 0.9, 0.95, 0.99, 0.999, 1.0)},
    )


def _scene(results: list[Analysis], model: MotionModel, quantile: float, scene: str) -> SceneReference:
    """The scene check's references (the motion figure, the background's distance) and camera health's."""
    figures = np.concatenate([r.scene_figures()["motion"] for r in results])
    norm = model.normalizer
    distances = np.concatenate([frame_distances(r.inputs, norm.mean_frame, norm.std) for r in results])
    reference = {"motion": float(np.quantile(figures, quantile)), "background": float(np.quantile(distances, quantile))}
    reference = {k: max(v, 1e-6) for k, v in reference.items()}
    health = HealthReference.fit([r.health for r in results])
    return SceneReference({}, reference, scene, len(figures), health)


def train_motion(cfg: MotionTrainConfig) -> Path:
    """Fit, calibrate and save a motion detector (STEM.safetensors and STEM.json); returns the weights' path."""
    new_checkpoint_paths(cfg.out)
    started = time.perf_counter()
    paths = normal_clips(Path(cfg.data))[: cfg.max_clips]
    info = probe(paths[0])
    size = flow_size(info.width, info.height, MotionConfig.max_side)
    motion = MotionConfig(
        size,
        MotionConfig.max_side,
        cfg.cell or MotionConfig.cell,
        cfg.features,
        cfg.flow,
        cfg.place_quantile,
        persistence=cfg.persistence,
    )
    heads, tails = hold_out_tails([_read(p, motion.frame_size) for p in paths], cfg.val_fraction)
    heads = [h for h in heads if len(h)]
    candidates, selection = candidate_settings(cfg), None
    if len(candidates) > 1:
        motion, head_features, selection = choose_settings(heads, motion, candidates)
    else:
        ((cell, sigma),) = candidates
        motion = replace(motion, cell=cell, scale_sigma=sigma)
        head_features = [clip_features(list(h), motion) for h in heads]
    features = np.concatenate(head_features)
    normalizer = _mean_frame(heads, motion.input_size)
    uncalibrated = Calibration.uncalibrated(cfg.quantile)
    name = Path(cfg.out).name
    card = ModelCard(model=motion, calibration=uncalibrated, kind="motion", scoring=MOTION_SCORING, name=name)
    model = MotionModel(
        motion, MotionNormal.fit(features, motion), normalizer, MOTION_SCORING, uncalibrated, card, name
    )
    results = [analyze_frames(iter(t), model, name="calibration") for t in tails if len(t) >= 2]
    if not results:
        raise BadInput("no held-out normal frames to calibrate on: use a val fraction above 0 or longer clips")
    calibration = _calibration(results, cfg.quantile)
    scene = _scene(results, model, cfg.quantile, scene_name(cfg.data))
    training = TrainingRecord(
        data=cfg.data,
        clips=[p.name for p in paths],
        command=cfg.command,
        config=asdict(cfg),
        frames_seen=len(features),
        seconds=round(time.perf_counter() - started, 1),
    )
    calibration_data = CalibrationData(data=cfg.data, val_fraction=cfg.val_fraction, command=cfg.command)
    card = replace(card, calibration=calibration, scene_reference=scene, training=training, scoring_selection=selection)
    card = replace(card, calibration_data=calibration_data)
    return save_motion_checkpoint(cfg.out, replace(model, calibration=calibration, card=card, scene=scene))
