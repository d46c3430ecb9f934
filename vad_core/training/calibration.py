"""Calibration: the normal-error quantiles that turn e(t) into the calibrated score c(t) = e(t) / tau.

train_part, held_out = split_clips(paths, size=131, val_fraction=0.15)
cal = calibrate(model, held_out, quantile=0.99)          # cal.tau, cal.pixel_tau
fit = fit_normal(model, held_out, quantile=0.99)         # fit.calibration, fit.projection (latent view), fit.scene
recalibrate("assets/models/ped2", "my_normal_clips", ScoringConfig(kind="appearance"))
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vad_core.errors import BadInput
from vad_core.io.video import normal_clips, probe, read_clip
from vad_core.model.card import Calibration, CalibrationData, ScoringSelection, SelectionCandidate
from vad_core.model.checkpoint import LoadedModel, load_autoencoder, rewrite_card
from vad_core.model.preprocess import Normalizer
from vad_core.pipeline.engine import analyze_frames
from vad_core.pipeline.result import Analysis
from vad_core.scoring.health import HealthReference
from vad_core.scoring.latent import LatentProjection
from vad_core.scoring.scene import MAX_PLACE_FRAMES, SceneReference, fit_place_scales, frame_distances
from vad_core.scoring.scores import RECONSTRUCTION_KINDS, ScoringConfig, smooth
from vad_core.training.selection import PROXY_KINDS, choose_scoring


def split_clips(paths: list[Path], size: int, val_fraction: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Load clips and hold out the tail of each, so calibration sees the scene but unseen frames."""
    loading = tqdm(paths, desc="loading clips", unit="clip", leave=False, disable=None)
    clips = [read_clip(path, size) for path in loading]
    return hold_out_tails(clips, val_fraction)


def hold_out_tails(clips: list[np.ndarray], val_fraction: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(heads, tails): the last val_fraction of each clip is held out; empty tails are left out."""
    heads, tails = [], []
    for frames in clips:
        cut = len(frames) - round(len(frames) * val_fraction)
        heads.append(frames[:cut])
        if cut < len(frames):
            tails.append(frames[cut:])
    return heads, tails


@dataclass
class NormalFit:
    """What held-out normal frames fix for a model: the score's calibration, the latent view's PCA, and the
    scene reference (per-place error levels and the scene check's figures)."""

    calibration: Calibration
    projection: LatentProjection
    scene: SceneReference
    scoring: ScoringConfig
    selection: ScoringSelection | None = None  # how the per-place choice was made, for the card


def fit_normal(
    model: LoadedModel,
    clips: list[np.ndarray],
    quantile: float,
    scene: str = "",
    place_clips: list[np.ndarray] | None = None,
    select_clips: list[np.ndarray] | None = None,
    source_size: tuple[int, int] = (0, 0),
) -> NormalFit:
    """Calibration (see calibrate), the latent projection and the scene reference, from one analysis of the
    held-out normal clips. The place scales come first (the per-place scores, and so tau, are taken on them);
    they are fitted on place_clips too (say, spread_pieces of the training part of the same clips): a per-place
    quantile needs many frames, and its overall level does not matter, since tau comes after. With
    select_clips (whole normal clips, SELECTION_CLIPS of them used as normal and as many injected), the
    per-place scales and the motion form are first chosen by choose_scoring, on whole frames (its injected
    anomalies land anywhere). The model's zones mask the maps that tau, pixel tau and the place scales are taken
    on; source_size: the clips' frame size (width, height) before they were resized, where the zones are drawn."""
    selection = None
    choice = choose_scoring(replace(model, zones=None), select_clips, quantile) if select_clips else None
    if choice is not None:
        model = replace(model, scoring=choice.scoring)
        selection = ScoringSelection(
            method="per-place scales and motion form, by pooled frame AUC on anomalies injected into normal clips",
            proxies=list(PROXY_KINDS),
            candidates=[
                SelectionCandidate(
                    c.scoring.per_place, c.scoring.place_quantile, c.scoring.motion, c.auc_micro, c.auc_video_norm
                )
                for c in choice.ranked
            ],
            baselines={n: {"auc_micro": m, "auc_video_norm": v} for n, (m, v) in choice.baselines.items()},
            verdict=choice.verdict(),
        )
    results = [analyze_frames(iter(clip), model, name="calibration", source_size=source_size) for clip in clips]
    if not results:
        raise BadInput("no normal clips long enough to calibrate on")
    pieces = [c for c in place_clips or [] if len(c) >= model.cfg.time_steps]
    extra = [analyze_frames(iter(clip), model, name="places", source_size=source_size) for clip in pieces]
    maps = {kind: [r.maps[kind] for r in results + extra] for kind in RECONSTRUCTION_KINDS}
    mask = model.zones.place_mask(source_size, model.cfg.input_size) if model.zones else None
    scales = fit_place_scales(maps, model.scoring, mask)
    for result in results:
        result.score_places(scales)
    errors = np.concatenate([smooth(r.raw_error(), model.scoring.smooth_sigma) for r in results])
    local = np.concatenate([r.frame_errors[f"{model.scoring.kind}_local_max"] for r in results])
    calibration = Calibration(
        tau=float(np.quantile(errors, quantile)),
        pixel_tau=float(np.quantile(local, quantile)),
        quantile=quantile,
        frames=int(errors.size),
        quantiles={str(q): float(np.quantile(errors, q)) for q in (0.5, 0.9, 0.95, 0.99, 0.999, 1.0)},
    )
    latents = np.concatenate([r.latent for r in results])
    positions = np.concatenate([r.latent_position for r in results])
    projection = LatentProjection.fit(latents, positions, model.cfg.time_steps)
    scene_reference = fit_scene_reference(results, projection, model.normalizer, quantile, scene, scales)
    return NormalFit(calibration, projection, scene_reference, model.scoring, selection)


def fit_scene_reference(
    results: list[Analysis],
    projection: LatentProjection | None,
    normalizer: Normalizer,
    quantile: float,
    scene: str,
    place_scale: dict[str, np.ndarray] | None = None,
) -> SceneReference:
    """The scene check's references (each figure's quantile over analyses of held-out normal frames, the
    background's distance from the mean frame) and camera health's, with the place scales calibration fitted."""
    figures = [r.scene_figures(projection) for r in results]
    reference = {name: float(np.quantile(np.concatenate([f[name] for f in figures]), quantile)) for name in figures[0]}
    norm = normalizer
    distances = np.concatenate([frame_distances(r.inputs, norm.mean_frame, norm.std) for r in results])
    reference["background"] = float(np.quantile(distances, quantile))
    health = HealthReference.fit([r.health for r in results])
    frames = sum(r.frame_count for r in results)
    return SceneReference(place_scale or {}, reference, scene, frames, health)


def spread_pieces(clips: list[np.ndarray], frames: int, piece: int) -> list[np.ndarray]:
    """Pieces of `piece` frames spread evenly through each clip, about `frames` frames in all: a sample of
    normal footage that sees every part of every clip, for per-place statistics."""
    total = sum(len(c) for c in clips)
    out = []
    for clip in clips:
        count = max(1, round(len(clip) * min(frames / max(total, 1), 1.0) / piece))
        if len(clip) <= piece * count:
            out.append(clip)
            continue
        starts = np.linspace(0, len(clip) - piece, count).round().astype(int)
        out += [clip[start : start + piece] for start in starts]
    return out


def calibrate(model: LoadedModel, clips: list[np.ndarray], quantile: float) -> Calibration:
    """tau: the quantile of smoothed e(t) over normal frames; pixel_tau: the same quantile of the
    unsmoothed localized (patch-mean) maximum, used to outline high-error regions."""
    return fit_normal(model, clips, quantile).calibration


def clip_size(path: Path) -> tuple[int, int]:
    """A clip's frame size (width, height), as zones are drawn on it; the clips of one camera share it."""
    info = probe(path)
    return info.width, info.height


def scene_name(data: str | Path) -> str:
    """How the scene check names the model's scene: the calibration footage's folder (a dataset's name)."""
    data = Path(data)
    name = data.parent.name if data.name == "train" else data.name
    return f"the footage in {name}" if name else "its training footage"


def recalibrate(
    stem: str | Path,
    data: str | Path,
    scoring: ScoringConfig | None = None,
    val_fraction: float = 1.0,
    quantile: float = 0.99,
    command: str = "",
    select: bool = False,
) -> Calibration:
    """Re-fit the calibration (optionally with another scoring) and the latent projection on normal clips,
    and rewrite the card.

    val_fraction 1.0 uses whole clips: right for footage the model never trained on, such as a
    user's own camera. Use the training run's fraction to reuse its held-out tails. select: let the clips
    choose the per-place scales and the motion form (fit_normal).
    """
    model = load_autoencoder(stem, purpose="re-calibrating a scoring")
    if scoring is not None:
        model = replace(model, scoring=scoring)
    data = Path(data)
    paths = normal_clips(data)
    heads, held_out = split_clips(paths, model.cfg.input_size, val_fraction)
    held_out = [c for c in held_out if len(c) >= model.cfg.time_steps]
    pieces = spread_pieces(heads, MAX_PLACE_FRAMES, 2 * model.cfg.time_steps)
    choosing = (heads if any(len(h) for h in heads) else held_out) if select else None
    size = clip_size(paths[0]) if model.zones and paths else (0, 0)
    fit = fit_normal(model, held_out, quantile, scene_name(data), pieces, choosing, size)
    card = replace(
        model.card,
        scoring=fit.scoring,
        scoring_selection=fit.selection or model.card.scoring_selection,
        calibration=fit.calibration,
        latent_projection=fit.projection,
        scene_reference=fit.scene,
        calibration_data=CalibrationData(data=str(data), val_fraction=val_fraction, command=command),
    )
    rewrite_card(stem, card)
    return fit.calibration
