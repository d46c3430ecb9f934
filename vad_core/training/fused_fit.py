"""Making a fused detector: an autoencoder, a motion detector fitted on the same normal footage, and the rule that
combines their calibrated scores, chosen without labels on anomalies injected into held-out normal frames.

result = train_fused(FusedTrainConfig(data="../shared/data/ucsd_ped2", out="models/ped2-fused"))   # train --kind fused
result = adapt_fused("tmp/adapted", "cam.mp4", ((0, 300),), out="models/cam-fused")           # adapt --kind fused
result.checkpoint, result.rule, result.verdict

The motion part is fitted by train_motion itself (on a dataset's normal clips, or on a clip's marked normal frames
written as lossless frame folders), so it is whatever `train --kind motion` makes. The frames it held out (the
tail of each clip or range, which the autoencoder did not train on either when it was trained or adapted with the
same fraction) are the fused model's: each rule is ranked on them and on anomalies injected into them
(detector_choice), and the best one's tau, pixel tau and scene reference are fitted on them. The card records every
rule's figures and, as baselines, each part alone and the model-free baselines on the same anomalies.
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from vad_core.errors import BadInput
from vad_core.io.frame_ranges import format_ranges
from vad_core.io.framestore import iter_chunks
from vad_core.io.video import normal_clips, stream_raw_gray
from vad_core.model.card import (
    Adaptation,
    Calibration,
    CalibrationData,
    ModelCard,
    Parent,
    ScoringSelection,
    TrainingRecord,
)
from vad_core.model.checkpoint import (
    BUNDLED_AUTOENCODER,
    LoadedModel,
    checkpoint_paths,
    load_autoencoder,
    load_checkpoint,
    new_checkpoint_paths,
    save_fused_checkpoint,
    save_zones,
)
from vad_core.model.fused import FusedModel
from vad_core.model.motion.config import FlowPreset, MotionConfig
from vad_core.model.motion.detector import MotionModel
from vad_core.pipeline.result import Analysis
from vad_core.scoring.fusion import FusionConfig, rule_candidates
from vad_core.scoring.scores import ScoringConfig
from vad_core.scoring.zones import Zones
from vad_core.training.calibration import fit_scene_reference, hold_out_tails, scene_name
from vad_core.training.detector_choice import analyze_clip, inject_clips, try_detectors
from vad_core.training.injection import DETECTOR_PROXY_KINDS, read_gray_clip
from vad_core.training.motion_fit import MotionTrainConfig, train_motion
from vad_core.training.selection import baselines_on, figures_line, ranked_selection
from vad_core.version import __version__

# Each part's calibrated score alone, as the fused score takes it (weight 1: the autoencoder's, 0: the motion part's)
PARTS_ALONE = {"autoencoder part": FusionConfig("weighted", 1.0), "motion part": FusionConfig("weighted", 0.0)}
METHOD = "fusion rule, by pooled then per-video frame AUC on anomalies injected into held-out normal frames"


@dataclass(frozen=True)
class FusedTrainConfig:
    """What `train --kind fused` makes: the autoencoder part (checkpoint, default the bundled autoencoder), the motion
    part's settings (MotionTrainConfig's, with its defaults) and the frames held out of each clip for the rule and
    the calibration."""

    data: str
    out: str
    checkpoint: str | None = None
    motion: str | None = None  # a motion detector fitted already on data's heads (train --kind best); None fits one
    cell: int | None = None  # the motion part's cell: None chooses it (motion_fit.choose_settings)
    flow: FlowPreset = MotionConfig.flow
    val_fraction: float = 0.25
    quantile: float = 0.99
    max_clips: int | None = None
    command: str = ""


@dataclass(frozen=True)
class FusedResult:
    """A saved fused model: where, its rule, every rule's figures (best first), the baselines and the verdict."""

    checkpoint: Path
    selection: ScoringSelection
    note: str | None = None  # a warning for the user: its autoencoder part does not know the scene

    @property
    def rule(self) -> str:
        return self.selection.candidates[0].name

    @property
    def verdict(self) -> str:
        return self.selection.verdict or ""

    def summary(self) -> str:
        """Two lines: the rule chosen beside the others, and whether it beats the baselines."""
        rules = figures_line(self.selection.candidates)
        lines = [f"fusion rule: {self.rule} (pooled / per-video AUC on injected anomalies: {rules})", self.verdict]
        return "\n".join(lines + ([self.note] if self.note else []))


def fit_fusion(
    autoencoder: LoadedModel,
    motion: MotionModel,
    clips: list[np.ndarray],
    name: str,
    scene: str,
    quantile: float = 0.99,
    zones: Zones | None = None,
    rules: list[FusionConfig] | None = None,
) -> FusedModel:
    """The best rule (of rules, default rule_candidates) on held-out normal clips (uint8 frames at their own size)
    and anomalies injected into them, calibrated on the same normal clips; its card records the selection."""
    clips = [c for c in clips if len(c) >= max(autoencoder.window, 3)]
    if not clips:
        raise BadInput(
            f"no held-out normal clip of {autoencoder.window} frames or more to choose the fusion rule on: "
            "use longer clips (or ranges), or hold out more of each"
        )
    injected = inject_clips(clips, DETECTOR_PROXY_KINDS)
    base = replace(FusedModel.uncalibrated(autoencoder, motion, FusionConfig(), name, quantile), zones=zones)
    candidates = {cfg.name: base.with_rule(cfg) for cfg in rules or rule_candidates(autoencoder.cfg.input_size)}
    alone = {label: base.with_rule(cfg) for label, cfg in PARTS_ALONE.items()}
    trial = try_detectors(candidates | alone, clips, injected)
    ranked = [c for c in trial.ranked if c.name in candidates]
    best = candidates[ranked[0].name]
    baselines = {c.name: (c.auc_micro, c.auc_video_norm) for c in trial.ranked if c.name in alone}
    size = autoencoder.cfg.input_size
    baselines |= baselines_on(clips, injected, ScoringConfig(), size)  # scored as evaluate scores them
    selection = ranked_selection(METHOD, list(DETECTOR_PROXY_KINDS), ranked, baselines)
    normal = trial.normal[ranked[0].name]
    calibration = _calibration(normal, quantile)
    reference = fit_scene_reference(normal, best.projection, best.normalizer, quantile, scene)
    card = replace(best.card, calibration=calibration, scene_reference=reference, scoring_selection=selection)
    return replace(best, calibration=calibration, scene=reference, card=card)


def _calibration(results: list[Analysis], quantile: float) -> Calibration:
    """tau: the quantile of the fused e(t) (smoothed) on held-out normal frames; pixel tau: of each frame's
    largest fused map value."""
    errors = np.concatenate([r.error for r in results])
    peaks = np.concatenate(
        [np.asarray(chunk, np.float32).max(axis=(1, 2)) for r in results for chunk in iter_chunks(r.maps["fused"])]
    )
    return Calibration(
        tau=max(float(np.quantile(errors, quantile)), 1e-9),
        pixel_tau=max(float(np.quantile(peaks, quantile)), 1e-9),
        quantile=quantile,
        frames=int(errors.size),
        quantiles={str(q): float(np.quantile(errors, q)) for q in (0.5, 0.9, 0.95, 0.99, 0.999, 1.0)},
    )


def _scene_note(autoencoder: LoadedModel, clips: list[np.ndarray], source: str | Path) -> str | None:
    """A warning when the autoencoder's own scene check finds most of a few held-out clips unfamiliar: its
    calibration, which its part of the fused score divides by, was not made for this scene."""
    checks = [analyze_clip(autoencoder, c).scene_check() for c in clips if len(c) >= autoencoder.window][:3]
    unfamiliar = [c for c in checks if c is not None and not c.familiar]
    if not checks or 2 * len(unfamiliar) <= len(checks):
        return None
    score = max(c.score for c in unfamiliar)
    return (
        f"note: the autoencoder {autoencoder.name} does not know this scene (scene score {score:.1f} on its normal "
        "frames; its own footage stays under 2), so its calibrated score means little here: fine-tune it on this "
        f"scene first (train --init {source} --data DATA --out AE) and fuse that one (--checkpoint AE)"
    )


def _parent(source: str | Path, autoencoder: LoadedModel) -> Parent:
    """The checkpoint the autoencoder part came from."""
    weights, _ = checkpoint_paths(source)
    training = autoencoder.card.training
    return Parent(
        model=autoencoder.name,
        checkpoint=str(source),
        weights_sha256=hashlib.sha256(weights.read_bytes()).hexdigest(),
        trained_on=training.data if training else None,
    )


def _save(out: str, model: FusedModel, card: ModelCard) -> Path:
    """The fused checkpoint with its provenance, and its zones beside it (STEM.zones.json) where it has any."""
    card = replace(card, library="vad_core", library_version=__version__)
    path = save_fused_checkpoint(out, replace(model, card=card))
    if model.zones:
        save_zones(out, model.zones)
    return path


def train_fused(cfg: FusedTrainConfig) -> FusedResult:
    """Fit the motion part on the data's normal clips (train_motion), choose the rule and calibrate on the tails
    it held out, and save STEM.safetensors and STEM.json (kind "fused")."""
    new_checkpoint_paths(cfg.out)
    started = time.perf_counter()
    source = cfg.checkpoint or BUNDLED_AUTOENCODER
    autoencoder = load_autoencoder(source, purpose="a fused model's autoencoder part", part=True)
    paths = normal_clips(Path(cfg.data))[: cfg.max_clips]
    motion = _motion_part(cfg)
    tails = [t.copy() for p in paths for t in hold_out_tails([read_gray_clip(p)], cfg.val_fraction)[1]]
    name = Path(cfg.out).name
    model = fit_fusion(autoencoder, motion, tails, name, scene_name(cfg.data), cfg.quantile)
    training = TrainingRecord(
        data=cfg.data,
        clips=[p.name for p in paths],
        command=cfg.command,
        seconds=round(time.perf_counter() - started, 1),
    )
    calibration_data = CalibrationData(data=cfg.data, val_fraction=cfg.val_fraction, command=cfg.command)
    parent = _parent(source, autoencoder)
    card = replace(model.card, training=training, calibration_data=calibration_data, parent=parent)
    trained_here = autoencoder.card.training is not None and autoencoder.card.training.data == cfg.data
    note = None if trained_here else _scene_note(autoencoder, tails, source)  # it knows the scene it trained on
    return FusedResult(_save(cfg.out, model, card), model.card.scoring_selection, note)


def _motion_part(cfg: FusedTrainConfig) -> MotionModel:
    """cfg.motion, or a motion detector fitted on the data's normal clips as train --kind motion fits one, with the
    fused model's held-out fraction (so the rule is chosen on frames neither part was fitted on)."""
    if cfg.motion is not None:
        motion = load_checkpoint(cfg.motion)
        if not isinstance(motion, MotionModel):
            raise BadInput(f"{Path(cfg.motion).name} is not a motion detector; a fused model's motion part must be")
        return motion
    with tempfile.TemporaryDirectory(prefix="vad-fused-") as folder:
        motion_cfg = MotionTrainConfig(
            data=cfg.data,
            out=str(Path(folder) / "motion"),
            cell=cfg.cell,
            flow=cfg.flow,
            val_fraction=cfg.val_fraction,
            quantile=cfg.quantile,
            max_clips=cfg.max_clips,
            command=cfg.command,
        )
        train_motion(motion_cfg)
        return load_checkpoint(motion_cfg.out)


def _marked_frames(video: Path, ranges: tuple[tuple[int, int], ...]) -> list[np.ndarray]:
    """Each normal range's uint8 gray frames at the clip's own size (the autoencoder's adaptation checked them)."""
    kept: list[list[np.ndarray]] = [[] for _ in ranges]
    for index, frame in enumerate(itertools.islice(stream_raw_gray(video), max(end for _, end in ranges))):
        for (start, end), frames in zip(ranges, kept, strict=True):
            if start <= index < end:
                frames.append(frame)
    return [np.stack(frames) for frames in kept if frames]


def _motion_from_ranges(
    clips: list[np.ndarray], names: list[str], video: Path, cfg: MotionTrainConfig, scene: str
) -> MotionModel:
    """train_motion on the marked ranges, written as lossless frame folders (a clip the project reads like a
    video); its card then names the clip and ranges instead of the temporary folder."""
    with tempfile.TemporaryDirectory(prefix="vad-fused-") as folder:
        for i, clip in enumerate(clips):
            target = Path(folder) / "train" / f"range{i:03d}"
            target.mkdir(parents=True)
            for j, frame in enumerate(clip):
                cv2.imwrite(str(target / f"{j:06d}.png"), frame)
        train_motion(replace(cfg, data=str(Path(folder) / "train"), out=str(Path(folder) / "motion")))
        motion = load_checkpoint(Path(folder) / "motion")
    card = motion.card
    training = replace(card.training, data=str(video), clips=names) if card.training else None
    calibration_data = replace(card.calibration_data, data=str(video)) if card.calibration_data else None
    scene_reference = replace(motion.scene, scene=scene) if motion.scene else None
    card = replace(card, training=training, calibration_data=calibration_data, scene_reference=scene_reference)
    return replace(motion, card=card, scene=scene_reference)


def adapt_fused(
    autoencoder_stem: str | Path,
    video: str | Path,
    ranges: tuple[tuple[int, int], ...],
    out: str,
    val_fraction: float = 0.25,
    minutes: float | None = None,
    command: str = "",
    quantile: float = 0.99,
) -> FusedResult:
    """A fused model for one camera: the autoencoder adapted to the clip's normal ranges (saved at
    autoencoder_stem by adapt), a motion part fitted on the same ranges, the rule chosen and calibrated on their
    held-out tails; saved at out with the adaptation recorded, and the autoencoder's zones beside it."""
    new_checkpoint_paths(out)
    started, video = time.perf_counter(), Path(video)
    autoencoder = load_autoencoder(autoencoder_stem, purpose="a fused model's autoencoder part", part=True)
    autoencoder = replace(autoencoder, card=replace(autoencoder.card, name=Path(out).name))  # not the stem adapt used
    clips = _marked_frames(video, ranges)
    names = [f"{video.name}[{start}:{end}]" for start, end in ranges]
    scene = f"the normal frames {format_ranges(ranges)} of {video.name}"
    motion_cfg = MotionTrainConfig(data="", out="", val_fraction=val_fraction, quantile=quantile, command=command)
    motion = _motion_from_ranges(clips, names, video, motion_cfg, scene)
    tails = hold_out_tails(clips, val_fraction)[1]
    model = fit_fusion(autoencoder, motion, tails, Path(out).name, scene, quantile, zones=autoencoder.zones)
    training = TrainingRecord(
        data=str(video), clips=names, command=command, seconds=round(time.perf_counter() - started, 1)
    )
    card = replace(
        model.card,
        training=training,
        calibration_data=CalibrationData(data=str(video), val_fraction=val_fraction, clips=names, command=command),
        parent=autoencoder.card.parent,
        adaptation=Adaptation(clip=video.name, ranges=[list(r) for r in ranges], minutes=minutes),
    )
    return FusedResult(_save(out, model, card), model.card.scoring_selection)
