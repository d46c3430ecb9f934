"""Frame- and pixel-level metrics with scikit-learn: AUC (micro, macro, per-video normalized), EER.

auc = frame_auc_micro([scores_a, scores_b], [labels_a, labels_b])
eer = equal_error_rate(np.concatenate(scores), np.concatenate(labels))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def _finite(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    top = np.nanmax(np.where(np.isfinite(scores), scores, np.nan)) if np.isfinite(scores).any() else 0.0
    return np.nan_to_num(scores, nan=0.0, posinf=top, neginf=0.0)


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """ROC AUC; None when only one class is present (AUC is undefined)."""
    labels = np.asarray(labels).astype(int).ravel()
    if labels.min(initial=0) == labels.max(initial=0) or len(np.unique(labels)) < 2:
        return None
    return float(roc_auc_score(labels, _finite(scores).ravel()))


def frame_auc_micro(scores: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> float | None:
    """All frames of all videos pooled, raw scores: what a live dashboard with one threshold sees."""
    return auc(np.concatenate(scores), np.concatenate(labels))


def frame_auc_macro(scores: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> float | None:
    """Mean of per-video AUCs, over videos that have both classes."""
    values = [a for s, y in zip(scores, labels, strict=True) if (a := auc(s, y)) is not None]
    return float(np.mean(values)) if values else None


def minmax(scores: np.ndarray) -> np.ndarray:
    scores = _finite(scores)
    span = scores.max() - scores.min() if scores.size else 0.0
    return (scores - scores.min()) / span if span > 0 else np.zeros_like(scores)


def frame_auc_video_norm(scores: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> float | None:
    """Each video's scores min-max normalized, then pooled: the convention of many papers."""
    return frame_auc_micro([minmax(s) for s in scores], labels)


def equal_error_rate(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """The error rate where false positive and false negative rates are equal."""
    labels = np.asarray(labels).astype(int).ravel()
    if len(np.unique(labels)) < 2:
        return None
    fpr, tpr, _ = roc_curve(labels, _finite(scores).ravel())
    fnr = 1.0 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2.0)


def pixel_auc(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray], step: int = 2) -> float | None:
    """Pixel-level AUC: error maps against ground-truth masks of the same shape, pooled.

    Every `step`-th pixel in each direction is used, to keep tens of millions of pixels tractable.
    """
    values = np.concatenate([m[:, ::step, ::step].ravel() for m in maps])
    truth = np.concatenate([k[:, ::step, ::step].ravel() for k in masks])
    return auc(values, truth)
