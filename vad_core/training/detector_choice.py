"""Choosing among detectors without labels: anomalies injected into held-out normal frames are the ground truth.

injected = inject_clips(normal, DETECTOR_PROXY_KINDS)                 # (uint8 frames, 0/1 labels) per clip and kind
ranked = rank_detectors({"max": fused_max, "mean": fused_mean}, normal, injected)
ranked[0].name, ranked[0].auc_micro, ranked[0].auc_video_norm         # best first

Clips are uint8 gray frames at their own resolution, as decoded; every candidate scores them through the one engine
as it would score a camera (its own prepare, blocks, smoothing and calibration). The ranking is by pooled frame AUC
over the normal clips and the injected ones together (whether one threshold works across clips: a candidate whose
normal level wanders from clip to clip loses there), then by per-video AUC over the injected clips (each min-max
normalized, the papers' convention). Fused candidates that differ only in their rule share one engine pass: the
rule is applied again to the parts' errors their analysis keeps (FusedModel.fused_error, the code the engine's
blocks fuse with). A fused detector's rule is chosen with it (vad_core.training.fused_fit); the motion detector's
own settings are meant to be chosen with it too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vad_core.model.card import RankedCandidate
from vad_core.model.checkpoint import Detector
from vad_core.model.fused import FusedModel
from vad_core.pipeline.engine import analyze_frames
from vad_core.pipeline.result import Analysis
from vad_core.scoring.metrics import frame_auc_micro, frame_auc_video_norm
from vad_core.training.injection import DETECTOR_PROXY_KINDS
from vad_core.training.selection import best_first, inject_at_random

Injected = list[tuple[np.ndarray, np.ndarray]]  # (uint8 frames (N, H, W), int8 labels (N,)) per injected clip


def inject_clips(clips: list[np.ndarray], kinds: tuple[str, ...] = DETECTOR_PROXY_KINDS, seed: int = 0) -> Injected:
    """One anomaly of each kind injected into each clip (of at least 3 frames) at a seeded place and time."""
    usable = [clip for clip in clips if len(clip) >= 3]
    seeds = {(i, k): seed + 100 * i + k for i in range(len(usable)) for k in range(len(kinds))}
    return [inject_at_random(clip, kind, seeds[i, k]) for i, clip in enumerate(usable) for k, kind in enumerate(kinds)]


def analyze_clip(model: Detector, frames: np.ndarray, name: str = "clip") -> Analysis:
    """A clip of uint8 gray frames at its own resolution through the engine, as the model prepares them."""
    source_size = (frames.shape[2], frames.shape[1])
    return analyze_frames((model.prepare(f) for f in frames), model, name=name, source_size=source_size)


def rescored(model: FusedModel, analysis: Analysis) -> Analysis:
    """An analysis by a fused model with the same parts, scored as this one scores: its rule over the parts' errors
    the analysis keeps, its calibration (the maps are the parts', whatever the rule)."""
    errors = analysis.frame_errors | {"fused": model.fused_error(analysis.frame_errors)}
    cal = model.calibration
    return replace(analysis, frame_errors=errors, scoring=model.scoring, tau=cal.tau, pixel_tau=cal.pixel_tau)


@dataclass(frozen=True)
class DetectorTrial:
    """What try_detectors measured: the candidates best first, and each candidate's analyses (by name) of the
    normal clips and of the injected ones, in the order given."""

    ranked: list[RankedCandidate]
    normal: dict[str, list[Analysis]]
    injected: dict[str, list[Analysis]]


def _engine_pass(model: Detector) -> tuple[int, ...]:
    """Candidates with the same key give the same engine output: a fused detector's is its parts'."""
    return (id(model.autoencoder), id(model.motion)) if isinstance(model, FusedModel) else (id(model),)


def try_detectors(candidates: dict[str, Detector], normal: list[np.ndarray], injected: Injected) -> DetectorTrial:
    """Each candidate's analyses of the normal and the injected clips, and the ranking (see rank_detectors)."""
    clips = [*normal, *(frames for frames, _ in injected)]
    truth = [np.zeros(len(c), np.int8) for c in normal] + [labels for _, labels in injected]
    passes: dict[tuple[int, ...], list[Analysis]] = {}
    ranked, by_name = [], {}
    for name, model in candidates.items():
        key = _engine_pass(model)
        if key not in passes:
            passes[key] = [analyze_clip(model, clip, f"{name} {i}") for i, clip in enumerate(clips)]
        results = passes[key]
        if isinstance(model, FusedModel):
            results = [rescored(model, result) for result in results]
        by_name[name] = results
        scores = [result.score for result in results]
        micro = frame_auc_micro(scores, truth) or 0.0
        video = frame_auc_video_norm(scores[len(normal) :], truth[len(normal) :]) or 0.0
        ranked.append(RankedCandidate(name, micro, video))
    ranked = best_first(ranked)
    split = len(normal)
    return DetectorTrial(ranked, {n: r[:split] for n, r in by_name.items()}, {n: r[split:] for n, r in by_name.items()})


def rank_detectors(
    candidates: dict[str, Detector], normal: list[np.ndarray], injected: Injected
) -> list[RankedCandidate]:
    """The candidates best first, by pooled frame AUC over the normal and injected clips, then per-video AUC over
    the injected ones (RankedCandidate: name, auc_micro, auc_video_norm); ties keep the order given."""
    return try_detectors(candidates, normal, injected).ranked
