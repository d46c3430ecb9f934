"""The three curves a dashboard plots for one clip, and one threshold expressed on each of them.

    values = curve_values(result, "regularity")             # s(t) per frame
    cut = score_threshold(result, "regularity", 0.6)        # s(t) < 0.6, as a threshold on c(t)
    line = curve_threshold(result, "error", 1.0)            # c(t) = 1 drawn in e(t) units (= tau)

All three are monotone in e(t), so a threshold on any of them is a threshold on the calibrated
score c(t) = e(t) / tau. Segments, CSV and JSON exports are therefore always made on c(t).
"""

from __future__ import annotations

import math

import numpy as np

from vad_core.pipeline.result import Analysis

CURVES = ("score", "regularity", "error")
CURVE_LABELS = {"score": "calibrated score c(t)", "regularity": "regularity s(t)", "error": "raw error e(t)"}


def _check(curve: str) -> None:
    if curve not in CURVES:
        raise ValueError(f"unknown curve {curve!r}; choose from {CURVES}")


def curve_values(analysis: Analysis, curve: str) -> np.ndarray:
    """Per-frame values of a curve."""
    _check(curve)
    return {"score": analysis.score, "regularity": analysis.regularity, "error": analysis.error}[curve]


def _error_range(analysis: Analysis) -> tuple[float, float]:
    """(min e, max e) over finite frames: the constants of s(t) = 1 - (e - min e) / max e."""
    finite = analysis.error[np.isfinite(analysis.error)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def score_threshold(analysis: Analysis, curve: str, value: float) -> float:
    """The c(t) threshold that flags the same frames as `value` on `curve` (below it, for regularity)."""
    _check(curve)
    if curve == "score":
        return float(value)
    if curve == "error":
        return float(value) / analysis.tau
    low, top = _error_range(analysis)
    if top <= 0:  # a constant-zero clip: s(t) is 1 everywhere and never below a threshold <= 1
        return math.inf
    return (low + (1.0 - float(value)) * top) / analysis.tau


def curve_threshold(analysis: Analysis, curve: str, score_cut: float) -> float:
    """A c(t) threshold drawn in the units of `curve`: the inverse of score_threshold."""
    _check(curve)
    if curve == "score":
        return float(score_cut)
    if curve == "error":
        return float(score_cut) * analysis.tau
    low, top = _error_range(analysis)
    if top <= 0:
        return 1.0
    return 1.0 - (float(score_cut) * analysis.tau - low) / top
