"""The model card: the JSON beside a checkpoint's weights, as typed sections.

card = read_card(Path("assets/models/ped2.json"))  # every section checked; no tensor allocated
card.scoring.kind, card.calibration.tau, card.training.data if card.training else None
data = card.to_json()                              # the one writer: the file's bytes, as train and calibrate save them

Sections: model (ModelConfig: the architecture; a motion detector's MotionConfig; a fused detector's FusionConfig),
preprocess, scoring (ScoringConfig), calibration, latent_projection and scene_reference (what calibration learned
about the scene), and provenance: training, calibration_data, scoring_selection, parent, adaptation, evaluation. A
fused card also holds parts: its autoencoder's and its motion detector's own cards, each checked as a card. A card
read and written again is the same JSON: its keys keep their order, and keys this version does not know (a
hand-written note) are kept where they were. A section the card lacks is None (scoring: the scoring of cards from
before per-place scoring; preprocess: empty).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import ClassVar, Literal, Self, get_args

from vad_core.errors import BadInput, parse_json
from vad_core.model.card_checks import architecture, is_int, number, section
from vad_core.model.config import ModelConfig
from vad_core.model.motion.config import MotionConfig
from vad_core.scoring.fusion import FusionConfig
from vad_core.scoring.latent import LATENT_GRID, LatentProjection
from vad_core.scoring.scene import SceneReference
from vad_core.scoring.scores import ERROR_KINDS, REDUCTIONS, MotionForm, ScoringConfig

MAX_CARD_BYTES = 64 * 2**20  # a card with its arrays is well under 2 MB


@dataclass(frozen=True)
class Calibration:
    """Quantiles of frame errors on held-out normal frames; tau divides e(t) into c(t)."""

    tau: float
    pixel_tau: float
    quantile: float
    frames: int
    quantiles: dict[str, float] = field(default_factory=dict)

    @classmethod
    def uncalibrated(cls, quantile: float = 0.99) -> Calibration:
        """tau 1 (c(t) is e(t)): a detector's before its calibration is fitted, for choosing and calibrating it."""
        return cls(tau=1.0, pixel_tau=1.0, quantile=quantile, frames=0)

    def to_dict(self) -> dict:
        """Cards without quantiles (written by hand) keep none."""
        doc = asdict(self)
        return doc if self.quantiles else {k: v for k, v in doc.items() if k != "quantiles"}

    @classmethod
    def from_dict(cls, doc: object) -> Calibration:
        doc = section(doc, "calibration")
        unknown = sorted(set(doc) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown calibration keys: {unknown}")
        tau = number(doc, "calibration", "tau", 0.0, math.inf, above=True)
        pixel_tau = number(doc, "calibration", "pixel_tau", 0.0, math.inf, above=True)
        quantile = number(doc, "calibration", "quantile", 0.0, 1.0, above=True)
        frames = doc.get("frames")
        if not (is_int(frames) and frames >= 0):
            raise ValueError(f"calibration.frames must be a whole number of frames, not {frames!r}")
        quantiles = section(doc.get("quantiles", {}), "calibration.quantiles")
        for key in quantiles:
            number(quantiles, "calibration.quantiles", key, 0.0, math.inf)
        return cls(tau, pixel_tau, quantile, frames, {k: float(v) for k, v in quantiles.items()})


def scoring_from_dict(doc: object, size: int) -> ScoringConfig:
    """The card's scoring, each setting checked and named; patch at most the input size."""
    doc = section(doc, "scoring")
    for key, allowed in (("kind", ERROR_KINDS), ("reduce", REDUCTIONS)):
        if key in doc and doc[key] not in allowed:
            raise ValueError(f"scoring.{key} is {doc[key]!r}; choose from {allowed}")
    if "patch" in doc and not (is_int(doc["patch"]) and 1 <= doc["patch"] <= size):
        raise ValueError(f"scoring.patch is {doc['patch']!r}; it must be an integer from 1 to the input size {size}")
    if "per_place" in doc and not isinstance(doc["per_place"], bool):
        raise ValueError(f"scoring.per_place must be true or false, not {doc['per_place']!r}")
    if "top_fraction" in doc:
        number(doc, "scoring", "top_fraction", 0.0, 1.0, above=True)
    if "smooth_sigma" in doc:
        number(doc, "scoring", "smooth_sigma", 0.0, 1000.0)
    return ScoringConfig.from_dict(doc)


@dataclass(frozen=True, kw_only=True)
class Record:
    """A descriptive section (preprocess, provenance): its fields typed, None left out of the JSON unless the
    field is NULLABLE, and keys this version does not know kept as they were (extra)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()
    extra: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        known = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {k: _plain(v) for k, v in known.items() if v is not None or k in self.NULLABLE} | self.extra

    @classmethod
    def from_dict(cls, doc: object, name: str) -> Self:
        doc = section(doc, name)
        names = {f.name for f in fields(cls)} - {"extra"}
        extra = {k: v for k, v in doc.items() if k not in names}
        return cls(**{k: v for k, v in doc.items() if k in names}, extra=extra)


def _plain(value: object) -> object:
    """A record's value as JSON takes it: tuples as lists, nested records as objects."""
    if isinstance(value, Record | SelectionCandidate | RankedCandidate):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class Preprocess(Record):
    """How frames become the model's input; std divides the mean-subtracted frame (needed with a mean frame)."""

    grayscale: bool | None = None
    input_size: int | None = None
    scale: str | None = None
    mean_frame_subtracted: bool | None = None
    std: float | None = None

    @classmethod
    def from_dict(cls, doc: object, name: str = "preprocess") -> Preprocess:
        out = super().from_dict(doc, name)
        if out.std is None:
            return out
        return replace(out, std=number({"std": out.std}, "preprocess", "std", 0.0, math.inf, above=True))


@dataclass(frozen=True, kw_only=True)
class TrainingRecord(Record):
    """How the weights were trained: the data, the command, the whole TrainConfig and what the run did."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"final_loss"})
    data: str | None = None
    clips: list[str] | None = None
    command: str | None = None
    config: dict | None = None  # TrainConfig as JSON
    device: str | None = None
    bf16: bool | None = None
    steps: int | None = None
    epochs_completed: int | None = None
    frames_seen: int | None = None
    seconds: float | None = None
    final_loss: float | None = None
    cancelled: bool | None = None


@dataclass(frozen=True, kw_only=True)
class CalibrationData(Record):
    """Which normal footage the calibration was fitted on: a training run's held-out tails, or calibrate's data."""

    data: str | None = None
    val_fraction: float | None = None
    clips: list[str] | None = None
    command: str | None = None


@dataclass(frozen=True, kw_only=True)
class Parent(Record):
    """The checkpoint a fine-tuned model started from (train --init, adapt)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"trained_on"})
    model: str | None = None
    checkpoint: str | None = None
    weights_sha256: str | None = None
    trained_on: str | None = None


@dataclass(frozen=True, kw_only=True)
class Adaptation(Record):
    """The clip a model was adapted to and its frames marked normal, as START:END ranges (end exclusive); events:
    the event store's ids of the false alarms those frames came from ("learn these as normal"), where they did."""

    clip: str | None = None
    ranges: list[list[int]] | None = None
    minutes: float | None = None
    events: list[int] | None = None


@dataclass(frozen=True)
class SelectionCandidate:
    """One scoring calibration tried, and the pooled and per-video frame AUC it reached on injected anomalies."""

    per_place: bool
    place_quantile: float
    motion: MotionForm
    auc_micro: float
    auc_video_norm: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RankedCandidate:
    """One detector tried by name (a fused detector's rule, "max" or "weighted 0.25"), and the pooled and per-video
    frame AUC it reached on injected anomalies (vad_core.training.detector_choice)."""

    name: str
    auc_micro: float
    auc_video_norm: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class ScoringSelection(Record):
    """How calibration chose the scoring (or a fused detector its rule): the method, the injected anomaly kinds, the
    candidates best first, and the baselines on the same anomalies with the verdict."""

    method: str | None = None
    proxies: list[str] | None = None
    candidates: list[SelectionCandidate | RankedCandidate] | None = None
    baselines: dict[str, dict[str, float]] | None = None  # the model-free baselines on the same injected anomalies
    verdict: str | None = None  # whether the chosen scoring beats them, in one line

    @classmethod
    def from_dict(cls, doc: object, name: str = "scoring_selection") -> ScoringSelection:
        out = super().from_dict(doc, name)
        if out.candidates is None:
            return out
        return replace(out, candidates=[_candidate(section(c, name)) for c in out.candidates])


def _candidate(doc: dict) -> SelectionCandidate | RankedCandidate:
    """A scoring candidate (per_place, ...) or a named one (name, ...), by its keys."""
    return RankedCandidate(**doc) if "name" in doc else SelectionCandidate(**doc)


DetectorKind = Literal["autoencoder", "motion", "fused"]
PART_KINDS: tuple[DetectorKind, ...] = ("autoencoder", "motion")  # a fused card's parts, in the file's order
DETECTOR_KINDS: tuple[DetectorKind, ...] = get_args(DetectorKind)

# Descriptive sections: read and written as they are (checked only for shape).
RECORDS: dict[str, type[Record]] = {
    "training": TrainingRecord,
    "calibration_data": CalibrationData,
    "scoring_selection": ScoringSelection,
    "detector_selection": ScoringSelection,
    "parent": Parent,
    "adaptation": Adaptation,
}
# What calibration learned about the scene, with arrays inside.
ARRAY_SECTIONS = {"latent_projection": LatentProjection.from_dict, "scene_reference": SceneReference.from_dict}
# The order train writes a card in; a card read from a file keeps its own.
ORDER = (
    "kind",
    "name",
    "library",
    "library_version",
    "training",
    "preprocess",
    "scoring",
    "calibration_data",
    "calibration",
    "latent_projection",
    "scene_reference",
    "scoring_selection",
    "detector_selection",
    "parent",
    "adaptation",
    "model",
    "parts",
    "evaluation",
)


@dataclass(frozen=True)
class Parts:
    """A fused card's parts: its autoencoder's card and its motion detector's, each a whole card of its kind."""

    autoencoder: ModelCard
    motion: ModelCard

    def to_dict(self) -> dict:
        return {"autoencoder": self.autoencoder.to_dict(), "motion": self.motion.to_dict()}

    @classmethod
    def from_dict(cls, doc: object) -> Parts:
        doc = section(doc, "parts")
        if sorted(doc) != sorted(PART_KINDS):
            raise ValueError(f"parts holds {sorted(doc)}; a fused card's parts are {', '.join(PART_KINDS)}")
        cards = {}
        for kind in PART_KINDS:
            part = section(doc[kind], f"parts.{kind}")
            if "model" not in part or "calibration" not in part:
                raise ValueError(f"parts.{kind} lacks the 'model' or 'calibration' section")
            try:
                cards[kind] = ModelCard.from_dict(part)
            except (TypeError, ValueError) as err:
                raise ValueError(f"parts.{kind}: {err}") from err
            if cards[kind].detector != kind:
                raise ValueError(f"parts.{kind} is a card of kind {cards[kind].detector}")
        return cls(**cards)


@dataclass(frozen=True)
class ModelCard:
    """A checkpoint's card. model and calibration are required; evaluation maps a dataset's name to the metrics
    evaluate --update-card stored for it. kind is the kind of detector (DESIGN's contract); None is a card written
    before kinds existed, an autoencoder, and is written back without the key. model is the detector's settings:
    the autoencoder's architecture, a motion detector's MotionConfig, or a fused detector's FusionConfig (its rule);
    parts: a fused detector's part cards (None for the other kinds)."""

    model: ModelConfig | MotionConfig | FusionConfig
    calibration: Calibration
    kind: DetectorKind | None = None
    scoring: ScoringConfig = field(default_factory=lambda: ScoringConfig.from_dict({}))
    preprocess: Preprocess = field(default_factory=Preprocess)
    name: str | None = None
    library: str | None = None
    library_version: str | None = None
    training: TrainingRecord | None = None
    calibration_data: CalibrationData | None = None
    latent_projection: LatentProjection | None = None
    scene_reference: SceneReference | None = None
    scoring_selection: ScoringSelection | None = None
    detector_selection: ScoringSelection | None = None  # train --kind best: the kinds fitted and why this one
    parent: Parent | None = None
    adaptation: Adaptation | None = None
    evaluation: dict[str, dict] = field(default_factory=dict)
    parts: Parts | None = None
    extra: dict[str, object] = field(default_factory=dict)  # top-level keys this version does not know
    order: tuple[str, ...] = field(default=(), compare=False)  # the key order of the file it was read from

    @property
    def detector(self) -> DetectorKind:
        """The kind of detector, for cards from before kinds too."""
        return self.kind or "autoencoder"

    def to_dict(self) -> dict:
        """The card as JSON: absent sections left out, the file's own key order first, then ORDER."""
        known = {key: getattr(self, key) for key in ORDER}
        known = {k: v.to_dict() if hasattr(v, "to_dict") else v for k, v in known.items()}
        doc = {k: v for k, v in known.items() if v is not None and (v != {} or k in self.order)} | self.extra
        return {k: doc[k] for k in self.order if k in doc} | doc

    def to_json(self) -> bytes:
        """The bytes a card file holds."""
        return (json.dumps(self.to_dict(), indent=2) + "\n").encode()

    @classmethod
    def from_dict(cls, doc: dict) -> ModelCard:
        """Every section the loader uses, checked without allocating a tensor; ValueError naming the field."""
        kind = doc.get("kind")
        if kind is not None and kind not in DETECTOR_KINDS:
            raise ValueError(f"kind is {kind!r}; a card's kind is one of {', '.join(DETECTOR_KINDS)}")
        cfg = _settings(kind, doc["model"])
        if ("parts" in doc) != (kind == "fused"):
            raise ValueError("a fused card needs its parts" if kind == "fused" else "only a fused card has parts")
        parts = {key: RECORDS[key].from_dict(value, key) for key, value in doc.items() if key in RECORDS}
        names = {key: doc[key] for key in ("name", "library", "library_version") if key in doc}
        arrays = {key: parse(doc[key]) for key, parse in ARRAY_SECTIONS.items() if key in doc}
        card = cls(
            model=cfg,
            calibration=Calibration.from_dict(doc["calibration"]),
            kind=kind,
            scoring=scoring_from_dict(doc.get("scoring", {}), cfg.input_size),
            preprocess=Preprocess.from_dict(doc.get("preprocess", {})),
            evaluation=dict(section(doc.get("evaluation", {}), "evaluation")),
            parts=Parts.from_dict(doc["parts"]) if "parts" in doc else None,
            extra={k: v for k, v in doc.items() if k not in ORDER},
            order=tuple(doc),
            **names,
            **arrays,
            **parts,
        )
        card.check()
        return card

    def check(self) -> None:
        """The sections agree with each other: the latent projection and place scales fit the architecture,
        per-place scoring has its place scale, and a fused card's scoring and map size are its parts'."""
        cfg, projection, scene = self.model, self.latent_projection, self.scene_reference
        if (self.scoring.kind == "fused") != (self.detector == "fused"):
            raise ValueError(f"scoring.kind is {self.scoring.kind!r}; a fused card, and only one, scores kind 'fused'")
        if self.parts is not None and self.parts.autoencoder.model.input_size != cfg.input_size:
            raise ValueError(
                f"model.input_size is {cfg.input_size}; the autoencoder part's is "
                f"{self.parts.autoencoder.model.input_size}"
            )
        if projection is not None and isinstance(cfg, MotionConfig):
            raise ValueError("a motion detector has no latent view; its card takes no latent_projection")
        if projection is not None and isinstance(cfg, FusionConfig):
            raise ValueError("a fused card keeps its latent_projection in its autoencoder part, not at the top")
        if projection is not None:
            dims = cfg.latent_channels * LATENT_GRID * LATENT_GRID
            if projection.dims != dims or projection.places not in (1, cfg.time_steps):
                raise ValueError(
                    f"latent_projection is {projection.places} x {projection.dims}; the model's latents need "
                    f"1 or {cfg.time_steps} x {dims}"
                )
        size = cfg.input_size
        if scene is not None and any(scale.shape != (size, size) for scale in scene.place_scale.values()):
            raise ValueError(f"scene_reference.place_scale does not match {size} px")
        if self.scoring.per_place and (scene is None or self.scoring.kind not in scene.place_scale):
            raise ValueError(f"scoring asks for per-place scoring but the card has no {self.scoring.kind} place scale")


def _settings(kind: str | None, doc: object) -> ModelConfig | MotionConfig | FusionConfig:
    """The card's model section as its kind's settings, every key checked."""
    if kind == "motion":
        return MotionConfig.from_dict(section(doc, "model"))
    if kind == "fused":
        return FusionConfig.from_dict(section(doc, "model"))
    return architecture(doc)


def read_card(card_path: Path) -> ModelCard:
    """A card file, typed and checked; BadInput naming the file and the field otherwise."""
    if not card_path.is_file():
        raise BadInput(f"model card {card_path.name} is missing; a checkpoint is STEM.safetensors plus STEM.json")
    if card_path.stat().st_size > MAX_CARD_BYTES:
        raise BadInput(
            f"model card {card_path.name} is {card_path.stat().st_size / 2**20:.0f} MB; a card is under 2 MB"
        )
    doc = parse_json(card_path.read_bytes(), f"model card {card_path.name}")
    if not isinstance(doc, dict) or "model" not in doc or "calibration" not in doc:
        raise BadInput(f"model card {card_path.name} lacks the 'model' or 'calibration' section")
    try:
        return ModelCard.from_dict(doc)
    except (TypeError, ValueError) as err:
        raise BadInput(f"model card {card_path.name} is invalid: {' '.join(str(err).split())}") from err
