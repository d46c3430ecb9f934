"""Evaluate a model on a dataset folder (train/, test/, labels.json, optional masks.npz).

report = evaluate_dataset("../shared/data/ucsd_ped2", load_checkpoint())
report["auc_micro"], report["pixel_auc"]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from vad_core.errors import BadInput, parse_json
from vad_core.io.labels import label_array
from vad_core.io.video import list_clips
from vad_core.model.checkpoint import LoadedModel
from vad_core.pipeline.analysis import analyze
from vad_core.pipeline.result import Analysis
from vad_core.scoring.metrics import equal_error_rate, frame_auc_macro, frame_auc_micro, frame_auc_video_norm, pixel_auc

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


def analyze_test_set(
    dataset: str | Path, model: LoadedModel, on_clip: Callable[[str], None] | None = None
) -> tuple[list[Analysis], list[np.ndarray]]:
    """Analyses and labels of every labelled test clip, in name order."""
    dataset = Path(dataset)
    labels = load_labels(dataset)
    analyses, truth = [], []
    for clip in list_clips(dataset / "test"):
        name = clip.stem if clip.is_file() else clip.name
        if name not in labels:
            continue
        if on_clip:
            on_clip(name)
        result = analyze(clip, model)
        if result.frame_count != len(labels[name]):
            raise BadInput(f"{name}: {result.frame_count} frames decoded but {len(labels[name])} labels")
        analyses.append(result)
        truth.append(labels[name])
    if not analyses:
        raise BadInput(f"{dataset}: no test clip has labels in labels.json")
    return analyses, truth


def report(analyses: list[Analysis], truth: list[np.ndarray], masks_path: Path | None, seconds: float) -> dict:
    """The contract's evaluation keys from analyses already computed."""
    scores = [a.score for a in analyses]
    pooled, pooled_truth = np.concatenate(scores), np.concatenate(truth)
    out = {
        "auc_micro": frame_auc_micro(scores, truth),
        "auc_macro": frame_auc_macro(scores, truth),
        "auc_micro_video_norm": frame_auc_video_norm(scores, truth),
        "eer": equal_error_rate(pooled, pooled_truth),
        "pixel_auc": None,
        "frames": int(pooled.size),
        "frames_per_second": float(pooled.size / seconds) if seconds > 0 else 0.0,
    }
    if masks_path and masks_path.is_file():
        with np.load(masks_path) as masks:
            pairs = [(a, masks[Path(a.name).stem]) for a in analyses if Path(a.name).stem in masks.files]
            size = analyses[0].inputs.shape[1]
            maps = [np.stack([a.local_map(i) for i in range(a.frame_count)]) for a, _ in pairs]
            out["pixel_auc"] = pixel_auc(maps, [_resized_masks(m, size) for _, m in pairs]) if pairs else None
    return out


def evaluate_dataset(dataset: str | Path, model: LoadedModel, on_clip: Callable[[str], None] | None = None) -> dict:
    """Analyze every labelled test clip and compute the contract's metrics."""
    started = time.perf_counter()
    analyses, truth = analyze_test_set(dataset, model, on_clip)
    return report(analyses, truth, Path(dataset) / "masks.npz", time.perf_counter() - started)
