"""Evaluate a model on a dataset folder (train/, test/, labels.json, optional masks.npz).

report = evaluate_dataset("../shared/data/ucsd_ped2", load_checkpoint())
report["auc_micro"], report["pixel_auc"]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vad_core.errors import BadInput, parse_json
from vad_core.io.labels import label_array
from vad_core.io.video import list_clips, normal_clips
from vad_core.model.checkpoint import Detector, LoadedModel
from vad_core.pipeline.analysis import analyze
from vad_core.pipeline.result import Analysis
from vad_core.scoring.baselines import BASELINES, BaselineScorer, baseline_maps
from vad_core.scoring.metrics import equal_error_rate, frame_auc_macro, frame_auc_micro, frame_auc_video_norm, pixel_auc
from vad_core.scoring.scores import ScoringConfig

MAX_LABELS_BYTES = 256 * 2**20  # frame labels of a very large dataset fit in a few MB


def load_labels(dataset: Path) -> dict[str, np.ndarray]:
    """Frame labels per test clip name (no suffix) from labels.json; BadInput naming the entry that is wrong."""
    path = dataset / "labels.json"
    if not path.is_file():
        raise BadInput(f"{dataset}: labels.json not found; evaluation needs frame labels for the test clips")
    if path.stat().st_size > MAX_LABELS_BYTES:
        raise BadInput(f"{path}: {path.stat().st_size / 2**20:.0f} MB is too large for a labels file")
    doc = parse_json(path.read_bytes(), str(path))
    test = doc.get("test") if isinstance(doc, dict) else None
    if not isinstance(test, dict):
        raise BadInput(f"{path}: not in the expected format: a 'test' object with test.<clip>.labels")
    labels = {}
    for name, entry in test.items():
        if not isinstance(entry, dict) or "labels" not in entry:
            raise BadInput(f"{path}: test.{name} needs a 'labels' list (test.<clip>.labels)")
        labels[name] = label_array(entry["labels"], f"{path}: test.{name}.labels")
    return labels


def _resized_masks(masks: np.ndarray, size: int) -> np.ndarray:
    return np.stack([cv2.resize(m.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST) for m in masks])


@dataclass(frozen=True)
class TestSet:
    """Every labelled test clip of a dataset, in name order, with the model's analysis and the frame labels."""

    clips: list[Path]
    analyses: list[Analysis]
    truth: list[np.ndarray]


def analyze_test_set(dataset: str | Path, model: Detector, on_clip: Callable[[str], None] | None = None) -> TestSet:
    """Analyses and labels of every labelled test clip, in name order."""
    dataset = Path(dataset)
    labels = load_labels(dataset)
    test = TestSet([], [], [])
    for clip in list_clips(dataset / "test"):
        name = clip.stem if clip.is_file() else clip.name
        if name not in labels:
            continue
        if on_clip:
            on_clip(name)
        result = analyze(clip, model)
        if result.frame_count != len(labels[name]):
            raise BadInput(f"{name}: {result.frame_count} frames decoded but {len(labels[name])} labels")
        test.clips.append(clip)
        test.analyses.append(result)
        test.truth.append(labels[name])
    if not test.analyses:
        raise BadInput(f"{dataset}: no test clip has labels in labels.json")
    return test


def frame_metrics(scores: list[np.ndarray], truth: list[np.ndarray]) -> dict:
    """The contract's frame-level figures of per-clip scores against per-clip labels."""
    pooled, pooled_truth = np.concatenate(scores), np.concatenate(truth)
    return {
        "auc_micro": frame_auc_micro(scores, truth),
        "auc_macro": frame_auc_macro(scores, truth),
        "auc_micro_video_norm": frame_auc_video_norm(scores, truth),
        "eer": equal_error_rate(pooled, pooled_truth),
    }


def _masks(test: TestSet, masks_path: Path, size: int) -> dict[int, np.ndarray]:
    """The pixel masks of the test clips that have them, resized to the model's input, by position in the test set:
    read once, for the model's pixel AUC and each baseline's."""
    if not masks_path.is_file():
        return {}
    with np.load(masks_path) as masks:
        return {
            i: _resized_masks(masks[Path(a.name).stem], size)
            for i, a in enumerate(test.analyses)
            if Path(a.name).stem in masks.files
        }


def _pixel_auc(masks: dict[int, np.ndarray], maps: list[np.ndarray]) -> float | None:
    """Pixel AUC of the masked clips' per-pixel maps (maps[k]: the k-th masked clip's); None without masks."""
    return pixel_auc(maps, list(masks.values())) if masks else None


def _local_maps(analysis: Analysis) -> np.ndarray:
    """Every frame's patch-averaged map: what the model's pixel AUC scores."""
    return np.stack([analysis.local_map(t) for t in range(analysis.frame_count)])


def report(test: TestSet, masks: dict[int, np.ndarray], seconds: float) -> dict:
    """The contract's evaluation keys from analyses already computed."""
    analyses = test.analyses
    frames = sum(a.frame_count for a in analyses)
    return frame_metrics([a.score for a in analyses], test.truth) | {
        "pixel_auc": _pixel_auc(masks, [_local_maps(analyses[i]) for i in masks]),
        "frames": int(frames),
        "frames_per_second": float(frames / seconds) if seconds > 0 else 0.0,
    }


def baseline_report(dataset: Path, test: TestSet, model: Detector, masks: dict[int, np.ndarray]) -> dict:
    """Frame differencing and optical flow on the same test clips, scored as the model scores (per place, fitted on
    the dataset's normal clips): the figures the model has to beat."""
    size = model.cfg.input_size
    scoring = model.scoring if isinstance(model, LoadedModel) else ScoringConfig()  # a motion model: the default's
    out = {}
    for kind in BASELINES:
        scorer = BaselineScorer.fit([baseline_maps(kind, clip, size) for clip in normal_clips(dataset)], scoring)
        maps = [baseline_maps(kind, clip, size) for clip in test.clips]
        out[kind] = frame_metrics([scorer.frame_errors(m) for m in maps], test.truth) | {
            "pixel_auc": _pixel_auc(masks, [scorer.local_maps(maps[i]) for i in masks])
        }
    return out


def evaluate_dataset(dataset: str | Path, model: Detector, on_clip: Callable[[str], None] | None = None) -> dict:
    """Analyze every labelled test clip and compute the contract's metrics, with the baselines beside them."""
    started = time.perf_counter()
    test = analyze_test_set(dataset, model, on_clip)
    seconds = time.perf_counter() - started
    masks = _masks(test, Path(dataset) / "masks.npz", test.analyses[0].inputs.shape[1])
    return report(test, masks, seconds) | {"baselines": baseline_report(Path(dataset), test, model, masks)}


@dataclass(frozen=True)
class Shortfall:
    """A recorded evaluation where a model-free baseline scored at least as well as the model."""

    dataset: str
    baseline: str
    figure: str  # "pooled" or "per-video"
    model: float
    other: float

    def sentence(self) -> str:
        return (
            f"on {self.dataset}, {self.baseline.replace('_', ' ')} scores {self.other:.3f} {self.figure} frame AUC, "
            f"this model {self.model:.3f}"
        )


FIGURES = {"pooled": "auc_micro", "per-video": "auc_micro_video_norm"}


def baseline_shortfalls(evaluation: dict[str, dict]) -> list[Shortfall]:
    """Where a card's recorded evaluations (evaluate --update-card) show a baseline beside the model scoring at least
    as high, pooled or per-video: what the dashboard has to say about the model it offers."""
    out = []
    for dataset, metrics in evaluation.items():
        for baseline, figures in (metrics.get("baselines") or {}).items():
            for figure, key in FIGURES.items():
                model, other = metrics.get(key), figures.get(key)
                if isinstance(model, float) and isinstance(other, float) and other >= model:
                    out.append(Shortfall(dataset, baseline, figure, model, other))
    return out
