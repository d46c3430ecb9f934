"""Choose the default scoring without test labels: anomalies injected into normal clips are the ground truth.

report = select_scoring(load_autoencoder(), list_clips("data/ucsd_ped1/train"), clips=8)
report.best.scoring, report.rows[0]["auc_micro"]

The normal clips are split in two: the first half calibrates each candidate (its tau and, for per-place
scoring, its place scales, as calibration does), the second half gets synthetic anomalies (a moving object,
a speed-up) at a seeded place and time. Each candidate scores the same analyses, so the model runs once.
The ranking is by the pooled, un-normalized frame AUC over the injected clips: the figure that says whether
one threshold works across clips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from vad_core.errors import BadInput
from vad_core.io.framestore import iter_chunks
from vad_core.io.video import resize_scale
from vad_core.model.card import RankedCandidate, ScoringSelection
from vad_core.model.checkpoint import LoadedModel
from vad_core.pipeline.analysis import analyze
from vad_core.pipeline.engine import analyze_frames
from vad_core.pipeline.result import Analysis
from vad_core.scoring.baselines import BASELINES, BaselineScorer, frames_maps
from vad_core.scoring.metrics import frame_auc_macro, frame_auc_micro, frame_auc_video_norm
from vad_core.scoring.scene import fit_place_scales
from vad_core.scoring.scores import MOTION_FORMS, REDUCTIONS, ScoringConfig, reduce_maps, smooth
from vad_core.training.injection import InjectionConfig, inject, read_gray_clip


class _Figures(Protocol):
    auc_micro: float
    auc_video_norm: float


Ranked = TypeVar("Ranked", bound=_Figures)

PROXY_KINDS = ("moving_object", "speedup")  # what UCSD's anomalies look like: bikes, carts, skaters, hurried people
INJECTED_FRAMES = 40
# choose_scoring: clips to calibrate on, and as many to inject into. All 34 of Ped1 take part: with 6 and 6, the
# choice between close candidates flipped with the split of the clips.
SELECTION_CLIPS = 17


@dataclass(frozen=True)
class Candidate:
    scoring: ScoringConfig
    auc_micro: float
    auc_video_norm: float
    auc_macro: float


@dataclass(frozen=True)
class SelectionReport:
    candidates: list[Candidate]  # best first
    calibration_clips: list[str]
    injected_clips: list[str]

    @property
    def best(self) -> Candidate:
        return self.candidates[0]


def candidate_scorings(base: ScoringConfig | None = None) -> list[ScoringConfig]:
    """The grid: error kind x frame reduction x per-place or not x patch size x temporal smoothing."""
    base = base or ScoringConfig()
    grid = []
    for kind in ("motion", "appearance"):
        for reduce in REDUCTIONS:
            for per_place in (False, True) if reduce != "sum" else (False,):
                for patch in (16, 24) if reduce != "sum" else (base.patch,):
                    for sigma in (3.0, 6.0):
                        grid.append(replace(base, kind=kind, reduce=reduce, per_place=per_place, patch=patch,
                                            smooth_sigma=sigma))  # fmt: skip
    return grid


def inject_at_random(frames: np.ndarray, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 frames with one anomaly of this kind at a seeded place and time; (frames, 0/1 labels)."""
    rng = np.random.default_rng(seed)
    length = min(INJECTED_FRAMES, len(frames) // 3)
    start = int(rng.integers(length, len(frames) - 2 * length + 1))
    return inject(frames, InjectionConfig(kind, start=start, end=start + length, seed=seed))


def _errors(analysis: Analysis, scoring: ScoringConfig, scale: np.ndarray | None) -> np.ndarray:
    maps = analysis.maps[scoring.kind]
    raw = np.concatenate([reduce_maps(np.asarray(c, np.float32), scoring, scale) for c in iter_chunks(maps)])
    return smooth(raw, scoring.smooth_sigma)


def rank_scorings(
    normal: list[Analysis],
    injected: list[tuple[Analysis, np.ndarray]],
    candidates: list[ScoringConfig],
    quantile: float = 0.99,
) -> list[Candidate]:
    """Each candidate calibrated on the normal analyses (tau, and place scales as calibration fits them) and
    scored on the injected ones; best first, by pooled AUC, then per-video AUC."""
    truth = [labels for _, labels in injected]
    rows = []
    for scoring in candidates:
        scale = None
        if scoring.per_place:
            fitted = fit_place_scales({scoring.kind: [a.maps[scoring.kind] for a in normal]}, scoring)
            scale = fitted[scoring.kind]
        tau = float(np.quantile(np.concatenate([_errors(a, scoring, scale) for a in normal]), quantile))
        scores = [_errors(a, scoring, scale) / tau for a, _ in injected]
        micro, video = frame_auc_micro(scores, truth) or 0.0, frame_auc_video_norm(scores, truth) or 0.0
        rows.append(Candidate(scoring, micro, video, frame_auc_macro(scores, truth) or 0.0))
    return best_first(rows)


def best_first(candidates: list[Ranked]) -> list[Ranked]:
    """By pooled AUC (whether one threshold works across clips), then per-video AUC; ties keep the given order."""
    return sorted(candidates, key=lambda c: (c.auc_micro, c.auc_video_norm), reverse=True)


def figures_line(candidates: list[RankedCandidate]) -> str:
    """Each candidate's pooled / per-video AUC, as the commands print a ranking: "max 0.789 / 0.802, ..."."""
    return ", ".join(f"{c.name} {c.auc_micro:.3f} / {c.auc_video_norm:.3f}" for c in candidates)


def ranked_selection(
    method: str, proxies: list[str], ranked: list[RankedCandidate], baselines: dict[str, tuple[float, float]]
) -> ScoringSelection:
    """The card's record of a choice by name: the candidates best first, the baselines (name -> (pooled,
    per-video)) on the same injected anomalies, and the verdict of the first against them."""
    return ScoringSelection(
        method=method,
        proxies=proxies,
        candidates=ranked,
        baselines={n: {"auc_micro": m, "auc_video_norm": v} for n, (m, v) in baselines.items()},
        verdict=verdict(ranked[0].auc_micro, ranked[0].auc_video_norm, baselines),
    )


def select_scoring(
    model: LoadedModel,
    clips: list[Path],
    count: int = 8,
    kinds: tuple[str, ...] = PROXY_KINDS,
    quantile: float = 0.99,
    on_step: Callable[[str], None] | None = None,
) -> SelectionReport:
    """Rank candidate_scorings() on anomalies injected into normal clip files (see the module's docstring)."""
    if len(clips) < 2:
        raise BadInput("scoring selection needs at least two normal clips: one to calibrate, one to inject into")
    half = min(count, len(clips) // 2)
    calibration, targets = clips[:half], clips[half : 2 * half]
    normal = []
    for path in calibration:
        if on_step:
            on_step(f"calibration {path.name}")
        normal.append(analyze(path, model))
    size, injected = model.cfg.input_size, []
    for i, path in enumerate(targets):
        for k, kind in enumerate(kinds):
            if on_step:
                on_step(f"{kind} in {path.name}")
            frames, labels = inject_at_random(read_gray_clip(path), kind, seed=100 * i + k)
            resized = (resize_scale(f, size) for f in frames)
            source_size = (frames.shape[2], frames.shape[1])
            result = analyze_frames(resized, model, name=f"{path.name}+{kind}", source_size=source_size)
            injected.append((result, labels))
    ranked = rank_scorings(normal, injected, candidate_scorings(model.scoring), quantile)
    return SelectionReport(ranked, [p.name for p in calibration], [a.name for a, _ in injected])


@dataclass(frozen=True)
class ScoringChoice:
    """What choose_scoring found: the best scoring, every candidate best first, and the model-free baselines on
    the same injected anomalies (so train can say whether the model beats them on its own calibration data)."""

    scoring: ScoringConfig
    ranked: list[Candidate]
    baselines: dict[str, tuple[float, float]]  # baseline -> (pooled AUC, per-video AUC)

    def verdict(self) -> str:
        """One line: the model's figures on the injected anomalies beside each baseline's."""
        return verdict(self.ranked[0].auc_micro, self.ranked[0].auc_video_norm, self.baselines)


def verdict(micro: float, video: float, baselines: dict[str, tuple[float, float]]) -> str:
    """One line: a model's pooled and per-video AUC on injected anomalies beside each baseline's (name -> (pooled,
    per-video)), and whether it beats them (both figures higher)."""
    beaten = [n for n, (m, v) in baselines.items() if micro > m and video > v]
    others = ", ".join(f"{n.replace('_', ' ')} {m:.3f} / {v:.3f}" for n, (m, v) in baselines.items())
    if len(beaten) == len(baselines):
        outcome = "beats every baseline"
    elif beaten:
        outcome = "beats " + ", ".join(n.replace("_", " ") for n in beaten) + " only"
    else:
        outcome = "does not beat its baselines"
    return (
        f"on anomalies injected into its normal clips the model scores {micro:.3f} pooled / "
        f"{video:.3f} per-video AUC ({others}): it {outcome}"
    )


def baselines_on(
    normal: list[np.ndarray],
    targets: list[tuple[np.ndarray, np.ndarray]],
    scoring: ScoringConfig,
    size: int | None = None,
) -> dict[str, tuple[float, float]]:
    """Each baseline's (pooled, per-video) AUC on the injected targets, its place scales fitted on the normal
    clips (uint8 frames at the model's size, as the model saw them; or at any size, their maps resized to size),
    scored with the chosen scoring."""
    size = size or normal[0].shape[-1]
    truth = [labels for _, labels in targets]
    out = {}
    for kind in BASELINES:
        scorer = BaselineScorer.fit([frames_maps(kind, clip, size) for clip in normal], scoring)
        scores = [scorer.frame_errors(frames_maps(kind, frames, size)) for frames, _ in targets]
        out[kind] = (frame_auc_micro(scores, truth) or 0.0, frame_auc_video_norm(scores, truth) or 0.0)
    return out


def calibration_candidates(base: ScoringConfig) -> list[ScoringConfig]:
    """What calibration chooses among: per-place off, or on with the 99th percentile or the largest normal patch
    mean as each place's scale; and for motion, the error of the reconstructed motion or the motion it missed.
    The reduction, patch and smoothing stay the model's: the injected anomalies do not tell them apart
    (their pooled AUCs differ by less than a split of the clips moves them)."""
    places = [replace(base, per_place=False)] + [replace(base, per_place=True, place_quantile=q) for q in (0.99, 1.0)]
    forms = MOTION_FORMS if base.kind == "motion" else (base.motion,)
    return [replace(place, motion=form) for form in forms for place in places]


def _pixels(clip: np.ndarray) -> np.ndarray:
    """Frames in [0, 1] (as calibration holds them) back to uint8 gray levels, as injection and the baselines take."""
    return np.clip(np.round(clip * 255.0), 0, 255).astype(np.uint8)


def choose_scoring(
    model: LoadedModel, clips: list[np.ndarray], quantile: float = 0.99, count: int = SELECTION_CLIPS
) -> ScoringChoice | None:
    """The best of calibration_candidates() on anomalies injected into the model's own normal clips (frames in
    [0, 1] at the model's size), with all candidates ranked; None with fewer than two clips long enough.

    Calibration runs it, so each scene makes its own choice without test labels: judging each place by its own
    normal pays off in a scene with strong perspective (UCSD Ped1) and not in a flatter one (Ped2), and a model
    that reproduces little of its scene's motion scores better by the motion it missed."""
    usable = [c for c in clips if len(c) >= 3 * model.cfg.time_steps]
    half = min(count, len(usable) // 2)
    if half < 1:
        return None
    targets = []
    for i, clip in enumerate(usable[half : 2 * half]):
        targets += [inject_at_random(_pixels(clip), kind, seed=100 * i + k) for k, kind in enumerate(PROXY_KINDS)]
    candidates, ranked = calibration_candidates(model.scoring), []
    for form in dict.fromkeys(c.motion for c in candidates):  # each motion form needs its own maps
        scored = replace(model, scoring=replace(model.scoring, motion=form))
        normal = [analyze_frames(iter(c), scored, name="normal") for c in usable[:half]]
        injected = [
            (analyze_frames(iter(frames.astype(np.float32) / 255.0), scored, name="injected"), labels)
            for frames, labels in targets
        ]
        ranked += rank_scorings(normal, injected, [c for c in candidates if c.motion == form], quantile)
    ranked = best_first(ranked)
    normal_pixels = [_pixels(c) for c in usable[:half]]
    return ScoringChoice(ranked[0].scoring, ranked, baselines_on(normal_pixels, targets, ranked[0].scoring))
