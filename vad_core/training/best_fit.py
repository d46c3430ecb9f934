"""train's default kind, best: every kind of detector fitted on the same normal clips inside one time budget, and
the one that scores best on anomalies injected into their held-out frames kept under the name asked for.

result = train_best(TrainConfig(data="../shared/data/ucsd_ped1", out="models/ped1", minutes=10))
result.checkpoint, result.chosen      # models/ped1.safetensors, "fused": a copy of models/ped1-fused
result.candidates                     # {"motion": models/ped1-motion..., "autoencoder": ..., "fused": ...}

The motion detector is fitted first (seconds to minutes, and its time tells how long the steps after the
autoencoder's training will take), the autoencoder trains for what is left of the budget, and the fused model's
rule is chosen on the frames both parts held out (train_fused). That choice already scores each part alone on the
same injected anomalies, so the kinds are ranked there, by the same figures (pooled, then per-video frame AUC),
without a label of any test clip. Every candidate stays saved beside the kept copy (STEM-KIND), whose card
records the ranking (detector_selection).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from vad_core.errors import BadInput
from vad_core.model.card import DETECTOR_KINDS, DetectorKind, RankedCandidate, ScoringSelection, read_card
from vad_core.model.checkpoint import checkpoint_paths, copy_checkpoint, new_checkpoint_paths
from vad_core.training.fused_fit import PARTS_ALONE, FusedResult, FusedTrainConfig, train_fused
from vad_core.training.motion_fit import MotionTrainConfig, train_motion
from vad_core.training.selection import best_first, figures_line, ranked_selection
from vad_core.training.train import TrainConfig, TrainProgress, TrainResult, check_start, train

BEST_MINUTES = 10.0  # the whole command's budget when none is given
MIN_BEST_MINUTES = 3.0
MIN_AUTOENCODER_MINUTES = 1.0
# The autoencoder's steps outside its training loop (decoding, calibration) and the fused model's (its rule chosen
# on injected anomalies, its calibration) took 1.5 times as long as the motion fit on Ped1 on a quiet machine
# (175 s against 120 s) and 2.4 times on a busy one (392 s against 166 s; docs/results.md): all are passes over the
# same footage. The larger keeps the whole command within its budget on a busy machine.
AFTER_TRAINING_PER_MOTION_FIT = 2.4
METHOD = "kind of detector, by pooled then per-video frame AUC on anomalies injected into held-out normal frames"
PART_KINDS = {"autoencoder part": "autoencoder", "motion part": "motion"}  # fused_fit's names of its parts alone


@dataclass(frozen=True)
class BestResult:
    """The kept model, the kind it is, every candidate's checkpoint, the autoencoder's run and the ranking."""

    checkpoint: Path
    chosen: DetectorKind
    candidates: dict[DetectorKind, Path]
    training: TrainResult
    fused: FusedResult
    selection: ScoringSelection

    def summary(self) -> str:
        """Two lines: the kind kept beside the others, and whether it beats the model-free baselines."""
        tried = figures_line(self.selection.candidates)
        return (
            f"chosen: {self.chosen} (pooled / per-video AUC on injected anomalies: {tried})\n{self.selection.verdict}"
        )


def candidate_stem(out: str | Path, kind: DetectorKind) -> Path:
    """Where a candidate of this kind is saved beside the kept model: STEM-KIND."""
    out = Path(out)
    return out.with_name(f"{out.name}-{kind}")


def check_budget(cfg: TrainConfig) -> None:
    """BadInput, before any work, for a budget too small to fit all three kinds, or a run asked to resume: an
    interrupted run's candidates are saved models, which a new run would not overwrite."""
    if cfg.resume:
        raise BadInput(
            "is for an autoencoder's run; a best-of-three run starts afresh: to finish an interrupted one, resume "
            "its autoencoder alone (kind autoencoder, out STEM-autoencoder) and fuse it with STEM-motion (kind fused)",
            option="resume",
        )
    if cfg.minutes is not None and cfg.minutes < MIN_BEST_MINUTES:
        raise BadInput(
            f"{cfg.minutes:g} is too few minutes to fit a motion detector, an autoencoder and their fusion: give "
            f"{MIN_BEST_MINUTES:g} or more, or train one kind (a motion detector fits in seconds to minutes)",
            option="minutes",
        )


def autoencoder_minutes(cfg: TrainConfig, spent_s: float) -> float | None:
    """The autoencoder's share of the budget (None: cfg trains for epochs): what spent_s of motion fitting and the
    steps after training leave, and at least MIN_AUTOENCODER_MINUTES (the budget is then overrun)."""
    if cfg.epochs is not None and cfg.minutes is None:
        return None
    budget = cfg.minutes if cfg.minutes is not None else BEST_MINUTES
    return max(budget - spent_s * (1 + AFTER_TRAINING_PER_MOTION_FIT) / 60, MIN_AUTOENCODER_MINUTES)


def detector_selection(fused: ScoringSelection) -> ScoringSelection:
    """The kinds ranked on the fused model's trial: its best rule, and each part alone (scored there too)."""
    best_rule = fused.candidates[0]
    figures = fused.baselines or {}
    ranked = [RankedCandidate(f"fused ({best_rule.name})", best_rule.auc_micro, best_rule.auc_video_norm)]
    ranked += [RankedCandidate(k, figures[n]["auc_micro"], figures[n]["auc_video_norm"]) for n, k in PART_KINDS.items()]
    model_free = {n: (f["auc_micro"], f["auc_video_norm"]) for n, f in figures.items() if n not in PARTS_ALONE}
    return ranked_selection(METHOD, fused.proxies, best_first(ranked), model_free)


def _kind(candidate: RankedCandidate) -> DetectorKind:
    return next(kind for kind in DETECTOR_KINDS if candidate.name.startswith(kind))


def train_best(
    cfg: TrainConfig,
    on_step: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    show_progress: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> BestResult:
    """Fit the motion detector, train the autoencoder (cfg, its budget the rest of cfg.minutes), fuse them, and
    copy the best of the three to cfg.out. on_stage is told each stage as it starts."""
    stems = {kind: candidate_stem(cfg.out, kind) for kind in DETECTOR_KINDS}
    for stem in (cfg.out, *stems.values()):
        new_checkpoint_paths(stem)  # a taken name fails now, not after the budget is spent
    check_budget(cfg)
    check_start(cfg)
    tell = on_stage or (lambda stage: None)
    started = time.perf_counter()
    tell("fitting the motion detector")
    val_fraction = FusedTrainConfig.val_fraction  # the frames the fused rule is chosen on: unseen by this part
    motion_cfg = MotionTrainConfig(
        data=cfg.data, out=str(stems["motion"]), val_fraction=val_fraction, max_clips=cfg.max_clips, command=cfg.command
    )
    train_motion(motion_cfg)
    minutes = autoencoder_minutes(cfg, time.perf_counter() - started)
    tell("training the autoencoder" + (f" for {minutes:.1f} minutes" if minutes is not None else ""))
    training = train(replace(cfg, out=str(stems["autoencoder"]), minutes=minutes), on_step, should_stop, show_progress)
    tell("fusing them and choosing the best")
    fused_cfg = FusedTrainConfig(
        data=cfg.data,
        out=str(stems["fused"]),
        checkpoint=str(stems["autoencoder"]),
        motion=str(stems["motion"]),
        max_clips=cfg.max_clips,
        command=cfg.command,
    )
    fused = train_fused(fused_cfg)
    selection = detector_selection(fused.selection)
    chosen = _kind(selection.candidates[0])
    card = read_card(checkpoint_paths(stems[chosen])[1])
    card = replace(card, name=Path(cfg.out).name, detector_selection=selection)
    path = copy_checkpoint(stems[chosen], cfg.out, card)
    candidates = {kind: checkpoint_paths(stem)[0] for kind, stem in stems.items()}
    return BestResult(path, chosen, candidates, training, fused, selection)
