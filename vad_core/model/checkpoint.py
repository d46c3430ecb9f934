"""Checkpoints: safetensors weights plus a JSON model card; nothing is ever unpickled.

model = load_checkpoint()                             # the bundled default: Ped2's fused model (DEFAULT_CHECKPOINT)
ae = load_autoencoder()                               # the bundled Ped2 autoencoder (BUNDLED_AUTOENCODER)
save_checkpoint("out/mine", net, normalizer, card)    # creates mine.safetensors and mine.json; never overwrites
rewrite_card("out/mine", replace(card, name="mine"))  # the one explicit way to change a saved model's card
save_zones("out/mine", zones)                         # mine.zones.json: the camera's zones, loaded with the model

The card (model/card.py) is checked field by field, and the weights' shapes are read from the safetensors header
and compared with what the card's architecture implies, before any tensor is allocated.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from vad_core.errors import BadInput
from vad_core.io.paths import ASSETS
from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.card import ModelCard, Parts, read_card
from vad_core.model.fused import FusedModel
from vad_core.model.inference import pick_device
from vad_core.model.loaded import LoadedModel
from vad_core.model.motion.detector import MotionModel
from vad_core.model.motion.features import cell_grid
from vad_core.model.motion.normal import MotionNormal
from vad_core.model.preprocess import Normalizer
from vad_core.scoring.zones import Zones, read_zones

# What analyzes by default: the best detector on Ped2 by the label-free selection (anomalies injected into held-out
# normal clips ranked it above both of its parts). The autoencoder is what needs a network by default (calibrate,
# select-scoring, a fused model's part, the benchmark's reference) and what the Reconstruction lab teaches with.
DEFAULT_CHECKPOINT = ASSETS / "models" / "ped2-fused"
BUNDLED_AUTOENCODER = ASSETS / "models" / "ped2"
MEAN_FRAME_KEY = "preprocess.mean_frame"
MOTION_SCALE_KEY = "motion.scale"  # a motion detector's per-place normal scales (features, rows, cols)
PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin"}
# A model is named by its stem. A stem ending in one of these would be read back as another model's file
# (victim.json is model victim's card), as train's resume state, or be refused as a pickle.
RESERVED_SUFFIXES = {".safetensors", ".json", ".resume", ".zones"} | PICKLE_SUFFIXES
ZONES_SUFFIX = ".zones.json"  # STEM.zones.json: the model's zones (vad_core.scoring.zones), beside its card
FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}


Detector = LoadedModel | MotionModel | FusedModel  # load_checkpoint's, by the card's kind; the engine takes any
PART_PREFIXES = ("autoencoder.", "motion.")  # a fused model's tensors: each part's, under its prefix


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


def _autoencoder_contents(
    net: SpatioTemporalAE, normalizer: Normalizer, card: ModelCard
) -> tuple[dict[str, torch.Tensor], ModelCard]:
    """An autoencoder's tensors (weights and mean frame) and its card, whose architecture and std are taken from net
    and normalizer, so that they always describe these weights."""
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    tensors[MEAN_FRAME_KEY] = torch.from_numpy(normalizer.mean_frame.copy())
    card = replace(card, model=net.cfg, preprocess=replace(card.preprocess, std=normalizer.std))
    return tensors, card


def _motion_contents(model: MotionModel) -> tuple[dict[str, torch.Tensor], ModelCard]:
    """A motion detector's tensors (each place's normal motion scales and the scene's mean frame) and its card."""
    tensors = {
        MOTION_SCALE_KEY: torch.from_numpy(model.normal.scale.copy()),
        MEAN_FRAME_KEY: torch.from_numpy(model.normalizer.mean_frame.copy()),
    }
    card = replace(model.card, kind="motion", model=model.cfg)
    return tensors, replace(card, preprocess=replace(card.preprocess, std=model.normalizer.std))


def save_checkpoint(stem: str | Path, net: SpatioTemporalAE, normalizer: Normalizer, card: ModelCard) -> Path:
    """Create STEM.safetensors (weights and mean frame) and STEM.json (the model card); never overwrites.

    The card's architecture and std are taken from net and normalizer, so they always describe these weights.
    The card is written last, so a model shows up (as a pair of files) only once its weights are complete.
    """
    weights_path, card_path = new_checkpoint_paths(stem)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    return _write_pair(weights_path, card_path, *_autoencoder_contents(net, normalizer, card))


def save_motion_checkpoint(stem: str | Path, model: MotionModel) -> Path:
    """Create STEM.safetensors (each place's normal motion scales and the scene's mean frame) and STEM.json (the
    card, kind "motion"); never overwrites."""
    weights_path, card_path = new_checkpoint_paths(stem)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    return _write_pair(weights_path, card_path, *_motion_contents(model))


def save_fused_checkpoint(stem: str | Path, model: FusedModel) -> Path:
    """Create STEM.safetensors (both parts' tensors, each under its part's prefix: autoencoder., motion.) and
    STEM.json (the card, kind "fused": the rule, the fused score's calibration and scene reference, and each part's
    own card under parts); never overwrites."""
    weights_path, card_path = new_checkpoint_paths(stem)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    ae = model.autoencoder
    ae_tensors, ae_card = _autoencoder_contents(ae.net, ae.normalizer, ae.card)
    motion_tensors, motion_card = _motion_contents(model.motion)
    tensors = {f"{PART_PREFIXES[0]}{k}": v for k, v in ae_tensors.items()}
    tensors |= {f"{PART_PREFIXES[1]}{k}": v for k, v in motion_tensors.items()}
    card = replace(
        model.card,
        kind="fused",
        model=replace(model.fusion, input_size=ae.cfg.input_size),
        scoring=model.scoring,
        calibration=model.calibration,
        scene_reference=model.scene,
        parts=Parts(_with_kind(ae_card, "autoencoder"), _with_kind(motion_card, "motion")),
    )
    return _write_pair(weights_path, card_path, tensors, card)


def _with_kind(card: ModelCard, kind: str) -> ModelCard:
    """A part's card saying its kind, first (a card from before kinds has none)."""
    return replace(card, kind=kind, order=("kind", *(key for key in card.order if key != "kind")))


def _write_pair(weights_path: Path, card_path: Path, tensors: dict[str, torch.Tensor], card: ModelCard) -> Path:
    """The weights first, then the card, so a model shows up (as a pair of files) only once its weights are
    complete; neither is left behind alone."""
    return _write_files(weights_path, card_path, save(tensors), card)


def _write_files(weights_path: Path, card_path: Path, weights: bytes, card: ModelCard) -> Path:
    card_bytes = card.to_json()
    _create(weights_path, weights)
    try:
        _create(card_path, card_bytes)
    except BaseException:
        weights_path.unlink(missing_ok=True)  # ours: created exclusively just above
        raise
    return weights_path


def copy_checkpoint(source: str | Path, stem: str | Path, card: ModelCard) -> Path:
    """A new model at stem: source's weights (and zones) under the given card, e.g. the candidate a choice among
    saved models keeps under the name asked for; never overwrites."""
    weights, _ = checkpoint_paths(source)
    weights_path, card_path = new_checkpoint_paths(stem)
    path = _write_files(weights_path, card_path, weights.read_bytes(), card)
    if zones_path(source).is_file():
        _create(zones_path(stem), zones_path(source).read_bytes())
    return path


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


Declared = dict[str, tuple[tuple[int, ...], str]]  # tensor name -> (shape, dtype), as a safetensors header says


def _header(weights_path: Path) -> Declared:
    """The tensors a safetensors file declares, read from its header alone (no tensor is read)."""
    try:
        with safe_open(str(weights_path), framework="pt") as f:
            slices = {k: f.get_slice(k) for k in f.keys()}  # noqa: SIM118 (a safe_open is not iterable)
            return {k: (tuple(v.get_shape()), v.get_dtype()) for k, v in slices.items()}
    except (SafetensorError, OSError, ValueError) as err:
        raise BadInput(f"{weights_path.name} is not a valid safetensors file ({' '.join(str(err).split())})") from err


def _check_floats(declared: Declared, label: str) -> None:
    for key, (_, dtype) in declared.items():
        if dtype not in FLOAT_DTYPES:
            raise BadInput(f"{label}: tensor {key} holds {dtype}; weights are floating point")


def _check_autoencoder(declared: Declared, card: ModelCard, label: str) -> None:
    """Compare the declared tensors with those the card's architecture needs (shapes from a model built on the meta
    device: no memory); a mean frame needs the card's preprocess.std."""
    cfg = card.model
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in SpatioTemporalAE(cfg).state_dict().items()}
    mismatch = f"{label} does not match the architecture in its card"
    missing = sorted(set(expected) - set(declared))
    extra = sorted(set(declared) - set(expected) - {MEAN_FRAME_KEY})
    if missing or extra:
        what = f"missing {', '.join(missing[:3])}" if missing else f"unexpected {', '.join(extra[:3])}"
        raise BadInput(f"{mismatch}: {what}")
    for key, shape in expected.items():
        if declared[key][0] != shape:
            raise BadInput(f"{mismatch}: size mismatch for {key}: {declared[key][0]} in the file, {shape} in the card")
    _check_floats(declared, label)
    if MEAN_FRAME_KEY in declared and declared[MEAN_FRAME_KEY][0] != (cfg.input_size,) * 2:
        frame = declared[MEAN_FRAME_KEY][0]
        raise BadInput(f"{label}: mean frame is {frame}, expected {(cfg.input_size,) * 2}")
    if MEAN_FRAME_KEY in declared and card.preprocess.std is None:  # a mean frame, and nothing to divide by
        raise BadInput(f"the model card of {label} needs preprocess.std, a positive number, for its mean frame")


def _check_motion(declared: Declared, card: ModelCard, label: str) -> None:
    """A motion detector's declared scales and mean frame against the shapes its card implies."""
    cfg = card.model
    rows, cols = cell_grid(cfg.frame_size, cfg.cell)
    expected = {MOTION_SCALE_KEY: (len(cfg.features), rows, cols), MEAN_FRAME_KEY: (cfg.input_size,) * 2}
    shapes = {key: shape for key, (shape, _) in declared.items()}
    if shapes != expected or card.preprocess.std is None:
        raise BadInput(f"{label} holds {shapes}; its card (kind motion) needs {expected} and preprocess.std")
    _check_floats(declared, label)


def _read_tensors(weights_path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(weights_path))
    except (SafetensorError, OSError) as err:
        raise BadInput(f"{weights_path.name} is not a valid safetensors file ({err})") from err


def load_checkpoint(stem: str | Path | None = None, device: str | None = None) -> Detector:
    """Load weights and card; refuse pickles and checkpoints that do not fit the architecture. A card of kind
    "motion" gives a MotionModel (it runs on the CPU whatever the device), one of kind "fused" a FusedModel.

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
    declared, label = _header(weights_path), weights_path.name
    if card.detector == "fused":
        return _load_fused(weights_path, declared, card, stem.name, zones, device)
    if card.detector == "motion":
        _check_motion(declared, card, label)
        return _motion(_read_tensors(weights_path), card, stem.name, zones, label)
    _check_autoencoder(declared, card, label)
    return _autoencoder(_read_tensors(weights_path), card, stem.name, zones, device, label)


def _autoencoder(
    tensors: dict[str, torch.Tensor], card: ModelCard, name: str, zones: Zones | None, device: str | None, label: str
) -> LoadedModel:
    """An autoencoder from its tensors (the header already checked against its card)."""
    cfg, std = card.model, card.preprocess.std
    mean_frame = tensors.pop(MEAN_FRAME_KEY, None)
    net = SpatioTemporalAE(cfg)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1].strip()
        raise BadInput(f"{label} does not match the architecture in its card: {first}") from err
    size = cfg.input_size
    normalizer = Normalizer.identity(size) if mean_frame is None else Normalizer(mean_frame.float().numpy(), std)
    net.eval().to(pick_device(device))
    scene, projection = card.scene_reference, card.latent_projection
    return LoadedModel(net, normalizer, card.scoring, card.calibration, card, name, projection, scene, zones)


def _motion(
    tensors: dict[str, torch.Tensor], card: ModelCard, name: str, zones: Zones | None, label: str
) -> MotionModel:
    """A motion detector from its scales and mean frame (their shapes already checked against its card)."""
    scale = tensors[MOTION_SCALE_KEY].float().numpy()
    if not np.all(scale > 0):
        raise BadInput(f"{label}: the motion scales must be positive")
    normalizer = Normalizer(tensors[MEAN_FRAME_KEY].float().numpy(), card.preprocess.std)
    normal, scene = MotionNormal(scale), card.scene_reference
    return MotionModel(card.model, normal, normalizer, card.scoring, card.calibration, card, name, scene, zones)


def _load_fused(
    weights_path: Path, declared: Declared, card: ModelCard, name: str, zones: Zones | None, device: str | None
) -> FusedModel:
    """Both parts from one file, each part's tensors under its prefix checked against its part card before any
    tensor is read; the zones are the fused model's (the engine masks both parts' maps with them)."""
    stray = sorted(k for k in declared if not k.startswith(PART_PREFIXES))
    if stray:
        raise BadInput(
            f"{weights_path.name}: unexpected {', '.join(stray[:3])}; a fused model's tensors are named "
            f"{' or '.join(PART_PREFIXES)}..."
        )
    ae_prefix, motion_prefix = PART_PREFIXES
    ae_label, motion_label = (f"{weights_path.name} (its {p.rstrip('.')} part)" for p in PART_PREFIXES)
    _check_autoencoder(_part(declared, ae_prefix), card.parts.autoencoder, ae_label)
    _check_motion(_part(declared, motion_prefix), card.parts.motion, motion_label)
    tensors = _read_tensors(weights_path)
    ae = _autoencoder(_part(tensors, ae_prefix), card.parts.autoencoder, name, None, device, ae_label)
    motion = _motion(_part(tensors, motion_prefix), card.parts.motion, name, None, motion_label)
    return FusedModel(ae, motion, card.model, card.scoring, card.calibration, card, name, card.scene_reference, zones)


def _part(values: dict, prefix: str) -> dict:
    """The entries under one part's prefix, without it."""
    return {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}


def load_autoencoder(
    stem: str | Path | None = None, device: str | None = None, purpose: str = "this", part: bool = False
) -> LoadedModel:
    """load_checkpoint for what only an autoencoder has, its network (fine-tuning it, re-fitting or choosing its
    scoring); BadInput for a motion detector, saying how one is refitted instead. A fused detector gives its
    autoencoder part where part (fine-tuning it, or fusing it anew), and BadInput otherwise: its card is the fused
    model's, which calibrating the part alone would overwrite. Without a stem, the bundled autoencoder."""
    model = load_checkpoint(stem or BUNDLED_AUTOENCODER, device)
    if isinstance(model, MotionModel):
        raise BadInput(
            f"{model.name} is a motion detector, and {purpose} needs an autoencoder; a motion model is fitted "
            "afresh instead, in seconds: train --kind motion --data DATASET --out STEM"
        )
    if isinstance(model, FusedModel):
        if part:
            return model.autoencoder
        raise BadInput(
            f"{model.name} is a fused detector, and {purpose} needs an autoencoder of its own; to fit a fused "
            "model's autoencoder part to a camera, adapt it: adapt VIDEO --normal START:END --kind fused --checkpoint "
            f"{model.name} --out STEM"
        )
    return model


def record_evaluation(stem: str | Path | None, metrics: dict, data: str | Path) -> None:
    """Store evaluation results in the model card (evaluate --update-card), so the card says how good the
    model is and on what."""
    stem = Path(stem) if stem else DEFAULT_CHECKPOINT
    card = read_card(checkpoint_paths(stem)[1])
    rewrite_card(stem, replace(card, evaluation=card.evaluation | {Path(data).resolve().name: metrics}))
