"""Calibration: the normal-error quantiles that turn e(t) into the calibrated score c(t) = e(t) / tau.

train_part, held_out = split_clips(paths, size=131, val_fraction=0.15)
cal = calibrate(model, held_out, quantile=0.99)          # cal.tau, cal.pixel_tau
fit = fit_normal(model, held_out, quantile=0.99)         # fit.calibration, and fit.projection for the latent view
recalibrate("assets/models/ped2", "my_normal_clips", ScoringConfig(kind="appearance"))
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vad_core.analysis import analyze_frames
from vad_core.checkpoint import Calibration, LoadedModel, checkpoint_paths, load_checkpoint
from vad_core.errors import BadInput
from vad_core.latent import LatentProjection
from vad_core.scoring import ScoringConfig, smooth
from vad_core.video import list_clips, read_clip


def split_clips(paths: list[Path], size: int, val_fraction: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Load clips and hold out the tail of each, so calibration sees the scene but unseen frames."""
    train, val = [], []
    for path in tqdm(paths, desc="loading clips", unit="clip", leave=False, disable=None):
        frames = read_clip(path, size)
        cut = len(frames) - round(len(frames) * val_fraction)
        train.append(frames[:cut])
        if cut < len(frames):
            val.append(frames[cut:])
    return train, val


@dataclass
class NormalFit:
    """What held-out normal frames fix for a model: the score's calibration and the latent view's PCA."""

    calibration: Calibration
    projection: LatentProjection


def fit_normal(model: LoadedModel, clips: list[np.ndarray], quantile: float) -> NormalFit:
    """Calibration (see calibrate) and the latent projection, from one analysis of the normal clips."""
    frame_errors, local_max, latents, positions = [], [], [], []
    for clip in clips:
        result = analyze_frames(iter(clip), model, name="calibration")
        frame_errors.append(smooth(result.raw_error(), model.scoring.smooth_sigma))
        local_max.append(result.frame_errors[f"{model.scoring.kind}_local_max"])
        latents.append(result.latent)
        positions.append(result.latent_position)
    if not frame_errors:
        raise BadInput("no normal clips long enough to calibrate on")
    errors, local = np.concatenate(frame_errors), np.concatenate(local_max)
    calibration = Calibration(
        tau=float(np.quantile(errors, quantile)),
        pixel_tau=float(np.quantile(local, quantile)),
        quantile=quantile,
        frames=int(errors.size),
        quantiles={str(q): float(np.quantile(errors, q)) for q in (0.5, 0.9, 0.95, 0.99, 0.999, 1.0)},
    )
    places = model.cfg.time_steps
    projection = LatentProjection.fit(np.concatenate(latents), np.concatenate(positions), places)
    return NormalFit(calibration, projection)


def calibrate(model: LoadedModel, clips: list[np.ndarray], quantile: float) -> Calibration:
    """tau: the quantile of smoothed e(t) over normal frames; pixel_tau: the same quantile of the
    unsmoothed localized (patch-mean) maximum, used to outline high-error regions."""
    return fit_normal(model, clips, quantile).calibration


def recalibrate(
    stem: str | Path,
    data: str | Path,
    scoring: ScoringConfig | None = None,
    val_fraction: float = 1.0,
    quantile: float = 0.99,
    command: str = "",
) -> Calibration:
    """Re-fit the calibration (optionally with another scoring) and the latent projection on normal clips,
    and rewrite the card.

    val_fraction 1.0 uses whole clips: right for footage the model never trained on, such as a
    user's own camera. Use the training run's fraction to reuse its held-out tails.
    """
    model = load_checkpoint(stem)
    if scoring is not None:
        model = replace(model, scoring=scoring)
    data = Path(data)
    paths = list_clips(data / "train" if (data / "train").is_dir() else data)
    _, held_out = split_clips(paths, model.cfg.input_size, val_fraction)
    held_out = [c for c in held_out if len(c) >= model.cfg.time_steps]
    fit = fit_normal(model, held_out, quantile)
    _, card_path = checkpoint_paths(stem)
    card = json.loads(card_path.read_text())
    card["scoring"] = model.scoring.to_dict()
    card["calibration"] = asdict(fit.calibration)
    card["latent_projection"] = fit.projection.to_dict()
    card["calibration_data"] = {"data": str(data), "val_fraction": val_fraction, "command": command}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return fit.calibration
