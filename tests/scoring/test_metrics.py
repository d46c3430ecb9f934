"""Frame and pixel metrics against cases whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from vad_core.scoring.metrics import (
    auc,
    equal_error_rate,
    frame_auc_macro,
    frame_auc_micro,
    frame_auc_video_norm,
    minmax,
    pixel_auc,
)

LABELS = np.array([0, 0, 1, 1])
SCORES = np.array([0.1, 0.4, 0.35, 0.8])  # 3 of the 4 (anomalous, normal) pairs are ordered right


def test_auc_perfect_inverted_and_by_hand():
    assert auc(LABELS.astype(float), LABELS) == 1.0
    assert auc(-LABELS.astype(float), LABELS) == 0.0
    assert auc(SCORES, LABELS) == pytest.approx(0.75)
    assert auc(np.ones(4), LABELS) == 0.5  # ties everywhere


def test_auc_random_scores_near_half():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 20000)
    assert auc(rng.random(20000), labels) == pytest.approx(0.5, abs=0.02)


def test_auc_one_class_is_undefined():
    assert auc(np.arange(5.0), np.zeros(5)) is None
    assert auc(np.arange(5.0), np.ones(5)) is None
    assert auc(np.array([]), np.array([])) is None
    assert frame_auc_micro([np.arange(3.0)], [np.ones(3)]) is None
    assert frame_auc_macro([np.arange(3.0), np.arange(2.0)], [np.ones(3), np.zeros(2)]) is None
    assert equal_error_rate(np.arange(4.0), np.zeros(4)) is None


def test_auc_tolerates_nan_and_inf():
    scores = np.array([np.nan, 0.2, np.inf, 0.9, -np.inf])
    labels = np.array([0, 0, 1, 1, 0])
    # NaN and -inf count as 0, +inf as the largest finite score: normals {0, 0.2, 0}, anomalies {0.9, 0.9}.
    assert auc(scores, labels) == 1.0


def two_videos():
    # Each video alone is perfectly separable, but on different scales: video B's normal frames score
    # above video A's anomalies. Pooled pairs (anomaly > normal): 1>0 yes, 1>10 no, 11>0 yes, 11>10 yes.
    scores = [np.array([0.0, 1.0]), np.array([10.0, 11.0])]
    labels = [np.array([0, 1]), np.array([0, 1])]
    return scores, labels


def test_micro_macro_and_video_norm():
    scores, labels = two_videos()
    assert frame_auc_micro(scores, labels) == pytest.approx(0.75)
    assert frame_auc_macro(scores, labels) == 1.0
    assert frame_auc_video_norm(scores, labels) == 1.0


def test_macro_is_the_mean_over_two_class_videos_only():
    scores = [np.array([0.0, 1.0]), np.array([1.0, 0.0]), np.array([5.0, 6.0, 7.0]), SCORES]
    labels = [np.array([0, 1]), np.array([0, 1]), np.array([0, 0, 0]), LABELS]
    assert frame_auc_macro(scores, labels) == pytest.approx((1.0 + 0.0 + 0.75) / 3)


def test_minmax():
    assert np.allclose(minmax(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    assert np.array_equal(minmax(np.full(3, 7.0)), np.zeros(3))
    assert minmax(np.array([])).shape == (0,)


def test_eer_known_cases():
    assert equal_error_rate(LABELS.astype(float), LABELS) == 0.0
    assert equal_error_rate(-LABELS.astype(float), LABELS) == 1.0
    # ROC points (fpr, fnr): (0, 1), (0, .5), (.5, .5), (.5, 0), (1, 0); they cross at 0.5.
    assert equal_error_rate(SCORES, LABELS) == pytest.approx(0.5)


def test_eer_of_overlapping_uniform_distributions():
    # normal ~ U(0, 1), anomalous ~ U(0.5, 1.5): at threshold 0.75, fpr = fnr = 0.25.
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.random(20000), 0.5 + rng.random(20000)])
    labels = np.repeat([0, 1], 20000)
    assert equal_error_rate(scores, labels) == pytest.approx(0.25, abs=0.01)


def test_pixel_auc():
    rng = np.random.default_rng(2)
    masks = [rng.random((3, 8, 8)) > 0.7, rng.random((2, 8, 8)) > 0.7]
    assert pixel_auc([m.astype(np.float32) for m in masks], masks) == 1.0
    assert pixel_auc([(~m).astype(np.float32) for m in masks], masks, step=1) == 0.0
    noisy = [m + rng.normal(0, 0.3, m.shape) for m in masks]
    assert 0.8 < pixel_auc(noisy, masks, step=1) < 1.0
    assert pixel_auc([np.ones((2, 8, 8))], [np.zeros((2, 8, 8), bool)]) is None
    # step subsamples: a mask set only on odd pixels is invisible with step 2.
    odd = np.zeros((1, 8, 8), bool)
    odd[:, 1::2, 1::2] = True
    assert pixel_auc([odd.astype(float)], [odd], step=2) is None
    assert pixel_auc([odd.astype(float)], [odd], step=1) == 1.0
