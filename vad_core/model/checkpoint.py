"""Checkpoints: safetensors weights plus a JSON model card; nothing is ever unpickled.

model = load_checkpoint()                             # the bundled Ped2 model
save_checkpoint("out/mine", net, normalizer, card)    # creates mine.safetensors and mine.json; never overwrites
rewrite_card("out/mine", card | {"note": "..."})      # the one explicit way to change a saved model's card

A card is checked field by field, and the weights' shapes are read from the safetensors header and compared
with what the card's architecture implies, before any tensor is allocated.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from vad_core.errors import BadInput, parse_json
from vad_core.io.paths import ASSETS
from vad_core.model.autoencoder import ModelConfig, SpatioTemporalAE
from vad_core.model.inference import pick_device
from vad_core.model.preprocess import Normalizer
from vad_core.scoring.latent import LATENT_GRID, LatentProjection
from vad_core.scoring.scene import SceneReference
from vad_core.scoring.scores import ERROR_KINDS, REDUCTIONS, ScoringConfig

DEFAULT_CHECKPOINT = ASSETS / "models" / "ped2"
MEAN_FRAME_KEY = "preprocess.mean_frame"
PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin"}
# A model is named by its stem. A stem ending in one of these would be read back as another model's file
# (victim.json is model victim's card), as train's resume state, or be refused as a pickle.
RESERVED_SUFFIXES = {".safetensors", ".json", ".resume"} | PICKLE_SUFFIXES
MAX_CARD_BYTES = 64 * 2**20  # a card with its arrays is well under 2 MB
FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}
# Architecture bounds a card may ask for: (smallest, largest) per entry, and at most this many layers.
MODEL_BOUNDS: dict[str, tuple[int, int]] = {
    "input_size": (19, 1024),
    "time_steps": (2, 100),
    "lstm_kernel": (1, 15),
    "encoder_channels": (1, 1024),
    "kernel_sizes": (1, 31),
    "strides": (1, 8),
    "lstm_channels": (1, 1024),
}
MAX_LAYERS = {"encoder_channels": 4, "kernel_sizes": 4, "strides": 4, "lstm_channels": 8}


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
    """(weights, card) of an existing checkpoint, its stem given with or without a suffix (for loading)."""
    stem = Path(stem)
    if stem.suffix in {".safetensors", ".json"}:
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def new_checkpoint_paths(stem: str | Path) -> tuple[Path, Path]:
    """(STEM.safetensors, STEM.json) for a new model, the names appended to the stem as a string; BadInput when
    the stem's name is reserved, when either file exists already, or when its folder cannot be written.

    Checked before a training run starts, and again by save_checkpoint, which creates the files exclusively.
    """
    stem = Path(stem)
    name, suffix = stem.name, stem.suffix
    if not name or name in {".", ".."}:
        raise BadInput(f"{str(stem)!r} names a folder, not a model; give a checkpoint stem such as models/mine")
    if suffix.lower() in RESERVED_SUFFIXES:
        raise BadInput(
            f"model name {name!r} ends in {suffix!r}, which would be read back as another file; a model is named "
            f"by its stem (STEM.safetensors and STEM.json are written): choose a name without {suffix!r}"
        )
    paths = stem.with_name(name + ".safetensors"), stem.with_name(name + ".json")
    for path in paths:
        if path.exists() or path.is_symlink():
            raise BadInput(
                f"{path.name} exists already in {path.parent}; saved models are never overwritten, "
                "so choose another name (or remove the old model first)"
            )
    # train writes STEM.resume.safetensors as it goes: that must not be the weights of a model named STEM.resume
    if stem.with_name(name + ".resume.json").exists():
        raise BadInput(
            f"a model named {name}.resume exists in {stem.parent}; training {name} would write its resume state "
            "over that model's weights, so choose another name"
        )
    folder = next(p for p in (stem.parent.absolute(), *stem.parent.absolute().parents) if p.exists())
    if not folder.is_dir():
        raise BadInput(f"cannot save {name} under {stem.parent}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(f"cannot save {name}: the folder {folder} is not writable")
    return paths


def _create(path: Path, data: bytes) -> None:
    """Write a new file; BadInput, and nothing replaced, when the name was taken meanwhile."""
    try:
        with open(path, "xb") as f:  # O_CREAT | O_EXCL: fails rather than replace, symlinks included
            try:
                f.write(data)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
    except FileExistsError as err:
        raise BadInput(
            f"{path.name} appeared in {path.parent} while saving; saved models are never overwritten"
        ) from err


def save_checkpoint(stem: str | Path, net: SpatioTemporalAE, normalizer: Normalizer, card: dict) -> Path:
    """Create STEM.safetensors (weights and mean frame) and STEM.json (the model card); never overwrites.

    The card is written last, so a model shows up (as a pair of files) only once its weights are complete.
    """
    weights_path, card_path = new_checkpoint_paths(stem)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    tensors[MEAN_FRAME_KEY] = torch.from_numpy(normalizer.mean_frame.copy())
    card = card | {"model": net.cfg.to_dict(), "preprocess": card.get("preprocess", {}) | {"std": normalizer.std}}
    card_bytes = (json.dumps(card, indent=2) + "\n").encode()
    _create(weights_path, save(tensors))
    try:
        _create(card_path, card_bytes)
    except BaseException:
        weights_path.unlink(missing_ok=True)  # ours: created exclusively just above
        raise
    return weights_path


def rewrite_card(stem: str | Path, card: dict) -> Path:
    """Replace the card of an existing model: for commands that exist to change it (calibrate, evaluate
    --update-card). The new card goes to a temporary file beside it and is renamed over the old one, so a
    reader sees one card or the other, never half of one."""
    weights_path, card_path = checkpoint_paths(stem)
    if not (weights_path.is_file() and card_path.is_file()):
        raise BadInput(f"{card_path.name}: no saved model to update (STEM.safetensors and STEM.json)")
    temporary = card_path.with_name(f".{card_path.name}.{uuid.uuid4().hex}.tmp")
    _create(temporary, (json.dumps(card, indent=2) + "\n").encode())
    try:
        os.replace(temporary, card_path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return card_path


def _read_card(card_path: Path) -> dict:
    if not card_path.is_file():
        raise BadInput(f"model card {card_path.name} is missing; a checkpoint is STEM.safetensors plus STEM.json")
    if card_path.stat().st_size > MAX_CARD_BYTES:
        raise BadInput(
            f"model card {card_path.name} is {card_path.stat().st_size / 2**20:.0f} MB; a card is under 2 MB"
        )
    card = parse_json(card_path.read_bytes(), f"model card {card_path.name}")
    if not isinstance(card, dict) or "model" not in card or "calibration" not in card:
        raise BadInput(f"model card {card_path.name} lacks the 'model' or 'calibration' section")
    return card


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(doc: dict, section: str, key: str, low: float, high: float, *, above: bool = False) -> float:
    """doc[key], a finite number in [low, high] (above: > low); ValueError naming section.key otherwise."""
    value = doc.get(key)
    if value is None and key not in doc:
        raise ValueError(f"{section}.{key} is missing")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{section}.{key} must be a finite number, not {value!r}")
    if value < low or (above and value == low) or value > high:
        bounds = f"{'above' if above else 'at least'} {low:g} and at most {high:g}"
        raise ValueError(f"{section}.{key} is {value!r}; it must be {bounds}")
    return float(value)


def _model_config(doc: object) -> ModelConfig:
    """The card's architecture, every field present, typed and within MODEL_BOUNDS; ValueError otherwise."""
    if not isinstance(doc, dict):
        raise ValueError("model must be an object")
    names = [f.name for f in fields(ModelConfig)]
    unknown = sorted(set(doc) - set(names))
    if unknown:
        raise ValueError(f"unknown model config keys: {unknown}")
    for name in names:
        if name not in doc:
            raise ValueError(f"model.{name} is missing")
        value = doc[name]
        if name in ("temporal", "activation"):
            if not isinstance(value, str):
                raise ValueError(f"model.{name} must be a string, not {value!r}")
            continue
        low, high = MODEL_BOUNDS[name]
        if name in MAX_LAYERS:
            if not isinstance(value, list) or len(value) > MAX_LAYERS[name]:
                raise ValueError(f"model.{name} must be a list of at most {MAX_LAYERS[name]} integers")
            entries = value
        else:
            entries = [value]
        if not all(_is_int(v) and low <= v <= high for v in entries):
            raise ValueError(f"model.{name} is {value!r}; each entry must be an integer from {low} to {high}")
    if doc["lstm_kernel"] % 2 == 0:
        raise ValueError(
            f"model.lstm_kernel is {doc['lstm_kernel']}; the ConvLSTM keeps the map size only with an odd one"
        )
    return ModelConfig.from_dict(doc)  # its own checks: layers that agree, an input size that inverts exactly


def _scoring(doc: object, size: int) -> ScoringConfig:
    if not isinstance(doc, dict):
        raise ValueError("scoring must be an object")
    for key, allowed in (("kind", ERROR_KINDS), ("reduce", REDUCTIONS)):
        if key in doc and doc[key] not in allowed:
            raise ValueError(f"scoring.{key} is {doc[key]!r}; choose from {allowed}")
    if "patch" in doc and not (_is_int(doc["patch"]) and 1 <= doc["patch"] <= size):
        raise ValueError(f"scoring.patch is {doc['patch']!r}; it must be an integer from 1 to the input size {size}")
    if "per_place" in doc and not isinstance(doc["per_place"], bool):
        raise ValueError(f"scoring.per_place must be true or false, not {doc['per_place']!r}")
    if "top_fraction" in doc:
        _number(doc, "scoring", "top_fraction", 0.0, 1.0, above=True)
    if "smooth_sigma" in doc:
        _number(doc, "scoring", "smooth_sigma", 0.0, 1000.0)
    return ScoringConfig.from_dict(doc)


def _calibration(doc: object) -> Calibration:
    if not isinstance(doc, dict):
        raise ValueError("calibration must be an object")
    unknown = sorted(set(doc) - {f.name for f in fields(Calibration)})
    if unknown:
        raise ValueError(f"unknown calibration keys: {unknown}")
    tau = _number(doc, "calibration", "tau", 0.0, math.inf, above=True)
    pixel_tau = _number(doc, "calibration", "pixel_tau", 0.0, math.inf, above=True)
    quantile = _number(doc, "calibration", "quantile", 0.0, 1.0, above=True)
    frames = doc.get("frames")
    if not (_is_int(frames) and frames >= 0):
        raise ValueError(f"calibration.frames must be a whole number of frames, not {frames!r}")
    quantiles = doc.get("quantiles", {})
    if not isinstance(quantiles, dict):
        raise ValueError("calibration.quantiles must be an object")
    for key in quantiles:
        _number(quantiles, "calibration.quantiles", key, 0.0, math.inf)
    return Calibration(tau, pixel_tau, quantile, frames, {k: float(v) for k, v in quantiles.items()})


def _latent_channels(cfg: ModelConfig) -> int:
    """Channels of the layer the latent view pools: the middle of (encoder output, ConvLSTM outputs...)."""
    chans = (cfg.encoder_channels[-1], *(cfg.lstm_channels if cfg.temporal == "convlstm" else ()))
    return chans[len(chans) // 2]


@dataclass
class _Card:
    cfg: ModelConfig
    scoring: ScoringConfig
    calibration: Calibration
    projection: LatentProjection | None
    scene: SceneReference | None


def _validate_card(card: dict) -> _Card:
    """Every section the loader uses, checked without allocating a tensor; ValueError naming the field."""
    cfg = _model_config(card["model"])
    size = cfg.input_size
    scoring = _scoring(card.get("scoring", {}), size)
    calibration = _calibration(card["calibration"])
    projection = LatentProjection.from_dict(card["latent_projection"]) if "latent_projection" in card else None
    if projection is not None:
        dims = _latent_channels(cfg) * LATENT_GRID * LATENT_GRID
        if projection.dims != dims or projection.places not in (1, cfg.time_steps):
            raise ValueError(
                f"latent_projection is {projection.places} x {projection.dims}; the model's latents need "
                f"1 or {cfg.time_steps} x {dims}"
            )
    scene = SceneReference.from_dict(card["scene_reference"]) if "scene_reference" in card else None
    if scene is not None and any(scale.shape != (size, size) for scale in scene.place_scale.values()):
        raise ValueError(f"scene_reference.place_scale does not match {size} px")
    if scoring.per_place and (scene is None or scoring.kind not in scene.place_scale):
        raise ValueError(f"scoring asks for per-place scoring but the card has no {scoring.kind} place scale")
    return _Card(cfg, scoring, calibration, projection, scene)


def _card_std(card: dict, card_path: Path) -> float:
    preprocess = card.get("preprocess")
    std = preprocess.get("std") if isinstance(preprocess, dict) else None
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not np.isfinite(std) or std <= 0:
        raise BadInput(f"model card {card_path.name} needs preprocess.std, a positive number, for its mean frame")
    return float(std)


def _check_weights(weights_path: Path, cfg: ModelConfig) -> bool:
    """Compare the tensors the safetensors header declares with those the architecture needs (shapes from a
    model built on the meta device: no memory); True when the file holds a mean frame. Reads only the header."""
    try:
        with safe_open(str(weights_path), framework="pt") as f:
            slices = {k: f.get_slice(k) for k in f.keys()}  # noqa: SIM118 (a safe_open is not iterable)
            declared = {k: (tuple(v.get_shape()), v.get_dtype()) for k, v in slices.items()}
    except (SafetensorError, OSError, ValueError) as err:
        raise BadInput(f"{weights_path.name} is not a valid safetensors file ({' '.join(str(err).split())})") from err
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in SpatioTemporalAE(cfg).state_dict().items()}
    mismatch = f"{weights_path.name} does not match the architecture in its card"
    missing = sorted(set(expected) - set(declared))
    extra = sorted(set(declared) - set(expected) - {MEAN_FRAME_KEY})
    if missing or extra:
        what = f"missing {', '.join(missing[:3])}" if missing else f"unexpected {', '.join(extra[:3])}"
        raise BadInput(f"{mismatch}: {what}")
    for key, shape in expected.items():
        if declared[key][0] != shape:
            raise BadInput(f"{mismatch}: size mismatch for {key}: {declared[key][0]} in the file, {shape} in the card")
    for key, (_, dtype) in declared.items():
        if dtype not in FLOAT_DTYPES:
            raise BadInput(f"{weights_path.name}: tensor {key} holds {dtype}; weights are floating point")
    if MEAN_FRAME_KEY in declared and declared[MEAN_FRAME_KEY][0] != (cfg.input_size,) * 2:
        frame = declared[MEAN_FRAME_KEY][0]
        raise BadInput(f"{weights_path.name}: mean frame is {frame}, expected {(cfg.input_size,) * 2}")
    return MEAN_FRAME_KEY in declared


def load_checkpoint(stem: str | Path | None = None, device: str | None = None) -> LoadedModel:
    """Load weights and card; refuse pickles and checkpoints that do not fit the architecture.

    The card is validated and the weights' header compared with it before any tensor is read.
    """
    stem = Path(stem) if stem else DEFAULT_CHECKPOINT
    if stem.suffix.lower() in PICKLE_SUFFIXES:
        raise BadInput(f"checkpoint {stem.name} is a pickle file; only .safetensors plus a .json card is loaded")
    weights_path, card_path = checkpoint_paths(stem)
    if not weights_path.is_file():
        raise BadInput(f"checkpoint weights {weights_path} not found")
    card = _read_card(card_path)
    try:
        parts = _validate_card(card)
    except (TypeError, ValueError) as err:
        raise BadInput(f"model card {card_path.name} is invalid: {' '.join(str(err).split())}") from err
    cfg, size = parts.cfg, parts.cfg.input_size
    has_mean_frame = _check_weights(weights_path, cfg)
    std = _card_std(card, card_path) if has_mean_frame else None
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
    normalizer = Normalizer.identity(size) if mean_frame is None else Normalizer(mean_frame.float().numpy(), std)
    net.eval().to(pick_device(device))
    return LoadedModel(
        net, normalizer, parts.scoring, parts.calibration, card, stem.name, parts.projection, parts.scene
    )


def record_evaluation(stem: str | Path | None, metrics: dict, data: str | Path) -> None:
    """Store evaluation results in the model card (evaluate --update-card), so the card says how good the
    model is and on what."""
    stem = Path(stem) if stem else DEFAULT_CHECKPOINT
    card = _read_card(checkpoint_paths(stem)[1])
    card.setdefault("evaluation", {})[Path(data).resolve().name] = metrics
    rewrite_card(stem, card)
