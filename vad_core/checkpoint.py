"""Checkpoints: safetensors weights plus a JSON model card; nothing is ever unpickled.

model = load_checkpoint()                             # the bundled Ped2 model
save_checkpoint("out/mine", net, normalizer, card)    # writes mine.safetensors and mine.json
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vad_core.errors import BadInput
from vad_core.inference import pick_device
from vad_core.latent import LatentProjection
from vad_core.model import ModelConfig, SpatioTemporalAE
from vad_core.preprocess import Normalizer
from vad_core.scene import SceneReference
from vad_core.scoring import ScoringConfig

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "assets" / "models" / "ped2"
MEAN_FRAME_KEY = "preprocess.mean_frame"
PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin"}


@dataclass
class Calibration:
    """Quantiles of frame errors on held-out normal frames; tau divides e(t) into c(t)."""

    tau: float
    pixel_tau: float
    quantile: float
    frames: int
    quantiles: dict[str, float] = field(default_factory=dict)


@dataclass
class LoadedModel:
    """A network ready for inference with everything needed to score its output.

    projection: the card's latent_projection (PCA of held-out normal frames' bottleneck states), or None
    for cards written before it existed; scene: the card's scene_reference (per-place error levels, the scene
    check's reference figures), or None likewise.
    """

    net: SpatioTemporalAE
    normalizer: Normalizer
    scoring: ScoringConfig
    calibration: Calibration
    card: dict
    name: str
    projection: LatentProjection | None = None
    scene: SceneReference | None = None

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def cfg(self) -> ModelConfig:
        return self.net.cfg


def checkpoint_paths(stem: str | Path) -> tuple[Path, Path]:
    """(weights, card) for a stem given with or without a suffix."""
    stem = Path(stem)
    if stem.suffix in {".safetensors", ".json"}:
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def save_checkpoint(stem: str | Path, net: SpatioTemporalAE, normalizer: Normalizer, card: dict) -> Path:
    """Write STEM.safetensors (weights and mean frame) and STEM.json (the model card)."""
    weights_path, card_path = checkpoint_paths(stem)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    tensors[MEAN_FRAME_KEY] = torch.from_numpy(normalizer.mean_frame.copy())
    save_file(tensors, str(weights_path))
    card = card | {"model": net.cfg.to_dict(), "preprocess": card.get("preprocess", {}) | {"std": normalizer.std}}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return weights_path


def _read_card(card_path: Path) -> dict:
    if not card_path.is_file():
        raise BadInput(f"model card {card_path.name} is missing; a checkpoint is STEM.safetensors plus STEM.json")
    try:
        card = json.loads(card_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"model card {card_path.name} is not valid JSON ({err})") from err
    if not isinstance(card, dict) or "model" not in card or "calibration" not in card:
        raise BadInput(f"model card {card_path.name} lacks the 'model' or 'calibration' section")
    return card


def _card_std(card: dict, card_path: Path) -> float:
    preprocess = card.get("preprocess")
    std = preprocess.get("std") if isinstance(preprocess, dict) else None
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not np.isfinite(std) or std <= 0:
        raise BadInput(f"model card {card_path.name} needs preprocess.std, a positive number, for its mean frame")
    return float(std)


def load_checkpoint(stem: str | Path | None = None, device: str | None = None) -> LoadedModel:
    """Load weights and card; refuse pickles and checkpoints that do not fit the architecture."""
    stem = Path(stem) if stem else DEFAULT_CHECKPOINT
    if stem.suffix.lower() in PICKLE_SUFFIXES:
        raise BadInput(f"checkpoint {stem.name} is a pickle file; only .safetensors plus a .json card is loaded")
    weights_path, card_path = checkpoint_paths(stem)
    if not weights_path.is_file():
        raise BadInput(f"checkpoint weights {weights_path} not found")
    card = _read_card(card_path)
    try:
        cfg = ModelConfig.from_dict(card["model"])
        scoring = ScoringConfig.from_dict(card.get("scoring", {}))
        calibration = Calibration(**card["calibration"])
        projection = LatentProjection.from_dict(card["latent_projection"]) if "latent_projection" in card else None
        scene = SceneReference.from_dict(card["scene_reference"]) if "scene_reference" in card else None
    except (TypeError, ValueError) as err:
        raise BadInput(f"model card {card_path.name} is invalid: {err}") from err
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError) as err:
        raise BadInput(f"{weights_path.name} is not a valid safetensors file ({err})") from err
    mean_frame = tensors.pop(MEAN_FRAME_KEY, None)
    net = SpatioTemporalAE(cfg)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1].strip()
        raise BadInput(f"{weights_path.name} does not match the architecture in its card: {first}") from err
    size = cfg.input_size
    if mean_frame is None:
        normalizer = Normalizer.identity(size)
    elif tuple(mean_frame.shape) != (size, size):
        raise BadInput(f"{weights_path.name}: mean frame is {tuple(mean_frame.shape)}, expected {(size, size)}")
    else:
        normalizer = Normalizer(mean_frame.numpy().astype(np.float32), _card_std(card, card_path))
    if scene is not None and any(scale.shape != (size, size) for scale in scene.place_scale.values()):
        raise BadInput(f"model card {card_path.name}: scene_reference.place_scale does not match {size} px")
    if scoring.per_place and (scene is None or scoring.kind not in scene.place_scale):
        raise BadInput(f"model card {card_path.name} asks for per-place scoring but has no {scoring.kind} place scale")
    net.eval().to(pick_device(device))
    return LoadedModel(net, normalizer, scoring, calibration, card, stem.name, projection, scene)


def record_evaluation(stem: str | Path | None, metrics: dict, data: str | Path) -> None:
    """Store evaluation results in the model card, so the card says how good the model is and on what."""
    _, card_path = checkpoint_paths(Path(stem) if stem else DEFAULT_CHECKPOINT)
    card = _read_card(card_path)
    card.setdefault("evaluation", {})[Path(data).resolve().name] = metrics
    card_path.write_text(json.dumps(card, indent=2) + "\n")
