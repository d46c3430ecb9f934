"""Checkpoints: safetensors weights plus a JSON model card; nothing is ever unpickled.

model = load_checkpoint()                             # the bundled Ped2 model
save_checkpoint("out/mine", net, normalizer, card)    # creates mine.safetensors and mine.json; never overwrites
rewrite_card("out/mine", replace(card, name="mine"))  # the one explicit way to change a saved model's card
save_zones("out/mine", zones)                         # mine.zones.json: the camera's zones, loaded with the model

The card (model/card.py) is checked field by field, and the weights' shapes are read from the safetensors header
and compared with what the card's architecture implies, before any tensor is allocated.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from vad_core.errors import BadInput
from vad_core.io.paths import ASSETS
from vad_core.io.video import resize_scale
from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.card import Calibration, ModelCard, read_card
from vad_core.model.config import ModelConfig
from vad_core.model.inference import pick_device
from vad_core.model.motion.config import MotionConfig
from vad_core.model.motion.detector import MotionModel
from vad_core.model.motion.features import cell_grid
from vad_core.model.motion.normal import MotionNormal
from vad_core.model.preprocess import Normalizer
from vad_core.scoring.latent import LatentProjection
from vad_core.scoring.scene import SceneReference
from vad_core.scoring.scores import ScoringConfig
from vad_core.scoring.zones import Zones, read_zones

DEFAULT_CHECKPOINT = ASSETS / "models" / "ped2"
MEAN_FRAME_KEY = "preprocess.mean_frame"
MOTION_SCALE_KEY = "motion.scale"  # a motion detector's per-place normal scales (features, rows, cols)
PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin"}
# A model is named by its stem. A stem ending in one of these would be read back as another model's file
# (victim.json is model victim's card), as train's resume state, or be refused as a pickle.
RESERVED_SUFFIXES = {".safetensors", ".json", ".resume", ".zones"} | PICKLE_SUFFIXES
ZONES_SUFFIX = ".zones.json"  # STEM.zones.json: the model's zones (vad_core.scoring.zones), beside its card
FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}


@dataclass
class LoadedModel:
    """A network ready for inference with everything needed to score its output.

    scoring and calibration are the card's unless a caller tries another scoring (replace(model, scoring=...));
    projection: the card's latent_projection (PCA of held-out normal frames' bottleneck states), or None
    for cards written before it existed; scene: the card's scene_reference (per-place error levels, the scene
    check's reference figures), or None likewise. zones: STEM.zones.json's (the camera's ignore and only-count
    polygons), or None; a command's --zones replaces them (replace(model, zones=...)).
    """

    net: SpatioTemporalAE
    normalizer: Normalizer
    scoring: ScoringConfig
    calibration: Calibration
    card: ModelCard
    name: str
    projection: LatentProjection | None = None
    scene: SceneReference | None = None
    zones: Zones | None = None

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def cfg(self) -> ModelConfig:
        return self.net.cfg

    @property
    def window(self) -> int:
        """Frames scored together: a live source reads, and drops, whole windows of T frames."""
        return self.cfg.time_steps

    def weights(self) -> dict[str, np.ndarray]:
        """What was fitted, by name: the network's tensors (a fingerprint of the model, wherever it was loaded)."""
        return {name: tensor.detach().cpu().numpy() for name, tensor in self.net.state_dict().items()}

    def prepare(self, gray: np.ndarray) -> np.ndarray:
        """A decoded uint8 gray frame as the model takes it: resized to its square input, float32 in [0, 1]."""
        return resize_scale(gray, self.cfg.input_size)

    @classmethod
    def uncalibrated(
        cls, net: SpatioTemporalAE, normalizer: Normalizer, scoring: ScoringConfig, name: str, quantile: float = 0.99
    ) -> LoadedModel:
        """A network not calibrated yet (tau 1: c(t) is e(t)), for calibration itself, benchmarks and tests."""
        calibration = Calibration(tau=1.0, pixel_tau=1.0, quantile=quantile, frames=0)
        card = ModelCard(model=net.cfg, calibration=calibration, scoring=scoring, name=name)
        return cls(net, normalizer, scoring, calibration, card, name)


Detector = LoadedModel | MotionModel  # what load_checkpoint gives, by the card's kind; the engine takes either


def checkpoint_paths(stem: str | Path) -> tuple[Path, Path]:
    """(weights, card) of an existing checkpoint, its stem given with or without a suffix (for loading)."""
    stem = Path(stem)
    if stem.suffix in {".safetensors", ".json"}:
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def zones_path(stem: str | Path) -> Path:
    """STEM.zones.json, where a model's zones are kept (the stem given with or without a suffix)."""
    weights, _ = checkpoint_paths(stem)
    return weights.with_name(weights.name.removesuffix(".safetensors") + ZONES_SUFFIX)


def save_zones(stem: str | Path, zones: Zones) -> Path:
    """Write (or replace) STEM.zones.json: the zones go with the model wherever it is loaded. Written whole to a
    temporary file and renamed, so a reader sees the old zones or the new ones."""
    return _replace_file(zones_path(stem), zones.to_json().encode())


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


def save_checkpoint(stem: str | Path, net: SpatioTemporalAE, normalizer: Normalizer, card: ModelCard) -> Path:
    """Create STEM.safetensors (weights and mean frame) and STEM.json (the model card); never overwrites.

    The card's architecture and std are taken from net and normalizer, so they always describe these weights.
    The card is written last, so a model shows up (as a pair of files) only once its weights are complete.
    """
    weights_path, card_path = new_checkpoint_paths(stem)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    tensors[MEAN_FRAME_KEY] = torch.from_numpy(normalizer.mean_frame.copy())
    card = replace(card, model=net.cfg, preprocess=replace(card.preprocess, std=normalizer.std))
    return _write_pair(weights_path, card_path, tensors, card)


def save_motion_checkpoint(stem: str | Path, model: MotionModel) -> Path:
    """Create STEM.safetensors (each place's normal motion scales and the scene's mean frame) and STEM.json (the
    card, kind "motion"); never overwrites."""
    weights_path, card_path = new_checkpoint_paths(stem)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        MOTION_SCALE_KEY: torch.from_numpy(model.normal.scale.copy()),
        MEAN_FRAME_KEY: torch.from_numpy(model.normalizer.mean_frame.copy()),
    }
    card = replace(model.card, kind="motion", model=model.cfg)
    card = replace(card, preprocess=replace(card.preprocess, std=model.normalizer.std))
    return _write_pair(weights_path, card_path, tensors, card)


def _write_pair(weights_path: Path, card_path: Path, tensors: dict[str, torch.Tensor], card: ModelCard) -> Path:
    """The weights first, then the card, so a model shows up (as a pair of files) only once its weights are
    complete; neither is left behind alone."""
    card_bytes = card.to_json()
    _create(weights_path, save(tensors))
    try:
        _create(card_path, card_bytes)
    except BaseException:
        weights_path.unlink(missing_ok=True)  # ours: created exclusively just above
        raise
    return weights_path


def rewrite_card(stem: str | Path, card: ModelCard) -> Path:
    """Replace the card of an existing model: for commands that exist to change it (calibrate, evaluate
    --update-card). The new card goes to a temporary file beside it and is renamed over the old one, so a
    reader sees one card or the other, never half of one."""
    weights_path, card_path = checkpoint_paths(stem)
    if not (weights_path.is_file() and card_path.is_file()):
        raise BadInput(f"{card_path.name}: no saved model to update (STEM.safetensors and STEM.json)")
    return _replace_file(card_path, card.to_json())


def _replace_file(path: Path, data: bytes) -> Path:
    """Write data to a temporary file beside path and rename it over path: a reader sees one or the other."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    _create(temporary, data)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


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


def load_checkpoint(stem: str | Path | None = None, device: str | None = None) -> Detector:
    """Load weights and card; refuse pickles and checkpoints that do not fit the architecture. A card of kind
    "motion" gives a MotionModel (it runs on the CPU whatever the device).

    The card is validated and the weights' header compared with it before any tensor is read.
    """
    stem = Path(stem) if stem else DEFAULT_CHECKPOINT
    if stem.suffix.lower() in PICKLE_SUFFIXES:
        raise BadInput(f"checkpoint {stem.name} is a pickle file; only .safetensors plus a .json card is loaded")
    weights_path, card_path = checkpoint_paths(stem)
    if not weights_path.is_file():
        raise BadInput(f"checkpoint weights {weights_path} not found")
    card = read_card(card_path)
    zones = read_zones(zones_path(stem)) if zones_path(stem).is_file() else None
    if isinstance(card.model, MotionConfig):
        return _load_motion(weights_path, card, stem.name, zones)
    cfg, size, std = card.model, card.model.input_size, card.preprocess.std
    if _check_weights(weights_path, cfg) and std is None:  # a mean frame, and nothing to divide by
        raise BadInput(f"model card {card_path.name} needs preprocess.std, a positive number, for its mean frame")
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
        net,
        normalizer,
        card.scoring,
        card.calibration,
        card,
        stem.name,
        card.latent_projection,
        card.scene_reference,
        zones,
    )


def load_autoencoder(stem: str | Path | None = None, device: str | None = None, purpose: str = "this") -> LoadedModel:
    """load_checkpoint for what only an autoencoder has, its network (fine-tuning it, re-fitting or choosing its
    scoring); BadInput for a motion detector, saying how one is refitted instead."""
    model = load_checkpoint(stem, device)
    if isinstance(model, MotionModel):
        raise BadInput(
            f"{model.name} is a motion detector, and {purpose} needs an autoencoder; a motion model is fitted "
            "afresh instead, in seconds: train --kind motion --data DATASET --out STEM"
        )
    return model


def _load_motion(weights_path: Path, card: ModelCard, name: str, zones: Zones | None) -> MotionModel:
    """A motion detector's scales and mean frame, their shapes checked against its card before use."""
    cfg, std = card.model, card.preprocess.std
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError) as err:
        raise BadInput(f"{weights_path.name} is not a valid safetensors file ({err})") from err
    rows, cols = cell_grid(cfg.frame_size, cfg.cell)
    expected = {MOTION_SCALE_KEY: (len(cfg.features), rows, cols), MEAN_FRAME_KEY: (cfg.input_size,) * 2}
    shapes = {key: tuple(value.shape) for key, value in tensors.items()}
    if shapes != expected or std is None:
        msg = f"{weights_path.name} holds {shapes}; its card (kind motion) needs {expected} and preprocess.std"
        raise BadInput(msg)
    scale = tensors[MOTION_SCALE_KEY].float().numpy()
    if not np.all(scale > 0):
        raise BadInput(f"{weights_path.name}: the motion scales must be positive")
    normalizer = Normalizer(tensors[MEAN_FRAME_KEY].float().numpy(), std)
    return MotionModel(
        cfg, MotionNormal(scale), normalizer, card.scoring, card.calibration, card, name, card.scene_reference, zones
    )


def record_evaluation(stem: str | Path | None, metrics: dict, data: str | Path) -> None:
    """Store evaluation results in the model card (evaluate --update-card), so the card says how good the
    model is and on what."""
    stem = Path(stem) if stem else DEFAULT_CHECKPOINT
    card = read_card(checkpoint_paths(stem)[1])
    rewrite_card(stem, replace(card, evaluation=card.evaluation | {Path(data).resolve().name: metrics}))
