"""Score formulas against hand-computed values, plus property tests of segments over arbitrary arrays."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vad_core.scoring.scores import (
    ScoringConfig,
    Segment,
    appearance_error_map,
    calibrated,
    find_segments,
    frame_labels_from_segments,
    motion_error_map,
    patch_mean,
    reduce_map,
    reduce_maps,
    regularity,
    regularity_events,
    smooth,
)

# --- error maps and reductions --------------------------------------------------------------------


def test_appearance_error_map_by_hand():
    x = np.array([[0.0, 1.0], [2.0, 3.0]])
    r = np.array([[0.0, 0.5], [0.0, 4.0]])
    assert appearance_error_map(x, r).tolist() == [[0.0, 0.25], [4.0, 1.0]]


def test_motion_error_map_by_hand():
    # ((x_t - x_t-1) - (r_t - r_t-1))^2: ((3 - 1) - (1 - 2))^2 = 9 and ((1 - 1) - (0.5 - 0.5))^2 = 0.
    x, x_prev = np.array([[3.0, 1.0]]), np.array([[1.0, 1.0]])
    r, r_prev = np.array([[1.0, 0.5]]), np.array([[2.0, 0.5]])
    assert motion_error_map(x, r, x_prev, r_prev).tolist() == [[9.0, 0.0]]
    # A static scene rendered with a constant offset has appearance error but no motion error.
    frame = np.random.default_rng(0).random((8, 8))
    assert np.allclose(motion_error_map(frame, frame + 0.3, frame, frame + 0.3), 0)
    assert appearance_error_map(frame, frame + 0.3).sum() > 0


def test_missed_motion_counts_only_motion_the_reconstruction_did_not_reproduce():
    # max((x_t - x_t-1)^2 - (r_t - r_t-1)^2, 0): 2^2 - 1^2 = 3 where the input moved more than the
    # reconstruction; 0 where the reconstruction shimmers (moves by 1) over a still input.
    x, x_prev = np.array([[3.0, 1.0]]), np.array([[1.0, 1.0]])
    r, r_prev = np.array([[1.0, 1.5]]), np.array([[2.0, 0.5]])
    assert motion_error_map(x, r, x_prev, r_prev, "missed").tolist() == [[3.0, 0.0]]
    assert motion_error_map(x, r, x_prev, r_prev, "error").tolist() == [[9.0, 1.0]]
    with pytest.raises(ValueError, match="motion form"):
        ScoringConfig(motion="optical flow")
    with pytest.raises(ValueError, match="place_quantile"):
        ScoringConfig(place_quantile=0)


def test_reduce_sum():
    m = np.array([[0.0, 1.0], [4.0, 9.0]], np.float32)
    assert reduce_map(m, ScoringConfig(reduce="sum")) == 14.0


def test_reduce_local_max_is_the_densest_patch_mean():
    m = np.zeros((40, 40), np.float32)
    m[10:14, 20:24] = 1.0  # a 4x4 object
    m[30, 5] = 8.0  # a hot pixel with half the block's total error, diluted by any patch
    cfg = ScoringConfig(reduce="local_max", patch=4)
    assert reduce_map(m, cfg) == pytest.approx(1.0)  # the 4x4 block fills one 4x4 patch: mean 1
    assert reduce_map(m, ScoringConfig(reduce="local_max", patch=8)) == pytest.approx(16 / 64)
    assert reduce_map(m, ScoringConfig(reduce="sum")) == pytest.approx(24.0)
    # A small object is not diluted by the frame size with local_max; the sum grows with it.
    big = np.zeros((400, 400), np.float32)
    big[:40, :40] = m
    assert reduce_map(big, cfg) == pytest.approx(reduce_map(m, cfg))


def test_reduce_local_top_is_the_mean_of_the_top_patch_means():
    m = np.arange(100, dtype=np.float32).reshape(10, 10)
    # patch 1 leaves the map as it is: the top 10 % of 100 pixels are 90..99
    assert reduce_map(m, ScoringConfig(reduce="local_top", patch=1, top_fraction=0.1)) == pytest.approx(94.5)
    assert reduce_map(m, ScoringConfig(reduce="local_top", patch=1, top_fraction=1.0)) == pytest.approx(49.5)
    assert reduce_map(m, ScoringConfig(reduce="local_top", patch=1, top_fraction=0.001)) == 99.0  # at least one
    # Between local_max and the mean of all patch means.
    rng = np.random.default_rng(0)
    noisy = rng.random((40, 40)).astype(np.float32)
    top = reduce_map(noisy, ScoringConfig(reduce="local_top", patch=4, top_fraction=0.2))
    assert patch_mean(noisy, 4).mean() < top < reduce_map(noisy, ScoringConfig(reduce="local_max", patch=4))
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="top_fraction"):
            ScoringConfig(top_fraction=bad)


@pytest.mark.parametrize("reduce", ["sum", "local_max", "local_top"])
def test_reduce_maps_is_reduce_map_per_frame(reduce):
    maps = np.random.default_rng(1).random((5, 24, 24)).astype(np.float32)
    cfg = ScoringConfig(reduce=reduce, patch=6, top_fraction=0.3)
    out = reduce_maps(maps, cfg)
    assert out.dtype == np.float64 and out.shape == (5,)
    assert np.allclose(out, [reduce_map(m, cfg) for m in maps], rtol=1e-6)


def test_patch_mean_mirrors_the_border():
    m = np.zeros((6, 6), np.float32)
    m[0, 0] = 9.0
    # 3x3 window at the corner, mirrored without repeating the edge: the hot pixel counts once -> 9 / 9.
    assert patch_mean(m, 3)[0, 0] == pytest.approx(1.0)


def test_patch_mean_by_hand_and_on_stacks():
    m = np.arange(16, dtype=np.float32).reshape(4, 4)
    pm = patch_mean(m, 1)
    assert np.array_equal(pm, m)
    # 3x3 mean around the interior pixel (1, 1): mean of rows 0-2, cols 0-2.
    assert patch_mean(m, 3)[1, 1] == pytest.approx(m[:3, :3].mean())
    stack = np.stack([m, 2 * m])
    out = patch_mean(stack, 3)
    assert out.shape == (2, 4, 4)
    assert np.allclose(out[1], 2 * out[0])


def test_scoring_config_validation_and_dict():
    with pytest.raises(ValueError, match="error kind"):
        ScoringConfig(kind="colour")
    with pytest.raises(ValueError, match="reduction"):
        ScoringConfig(reduce="mean")
    cfg = ScoringConfig(kind="appearance", reduce="sum", patch=8, smooth_sigma=0.0)
    assert ScoringConfig.from_dict(cfg.to_dict() | {"future_field": 1}) == cfg
    assert ScoringConfig.from_dict({}) == ScoringConfig(per_place=False)  # cards from before per-place scoring


# --- regularity, calibration, smoothing -----------------------------------------------------------


def test_regularity_by_hand():
    e = np.array([1.0, 2.0, 3.0, 5.0])
    # s = 1 - (e - min) / max = 1 - (e - 1) / 5
    assert np.allclose(regularity(e), [1.0, 0.8, 0.6, 0.2])


def test_regularity_edge_cases():
    assert np.array_equal(regularity(np.zeros(4)), np.ones(4))
    assert regularity(np.array([])).shape == (0,)
    assert regularity(np.array([7.0])).tolist() == [1.0]
    s = regularity(np.array([np.nan, 1.0, 3.0]))
    assert np.isnan(s[0]) and np.allclose(s[1:], [1.0, 1 - 2 / 3])
    s = regularity(np.array([1.0, np.inf, 3.0]))  # min and max over finite frames only
    assert s[0] == 1.0 and s[2] == pytest.approx(1 / 3) and s[1] == -np.inf
    assert np.array_equal(regularity(np.array([np.nan, np.nan])), np.ones(2))


def test_calibrated_by_hand():
    assert np.allclose(calibrated(np.array([1.0, 2.0, 3.0]), tau=2.0), [0.5, 1.0, 1.5])
    assert calibrated([4], 4.0).dtype == np.float64


def test_smooth():
    v = np.array([0.0, 0.0, 5.0, 0.0, 0.0])
    assert np.array_equal(smooth(v, 0), v)
    assert np.array_equal(smooth(np.array([3.0]), 2.0), [3.0])
    assert np.allclose(smooth(np.full(30, 2.5), 4.0), 2.5)
    impulse = np.zeros(61)
    impulse[30] = 1.0
    out = smooth(impulse, 2.0)
    assert out.sum() == pytest.approx(1.0)  # mass preserved away from the edges
    assert np.allclose(out, out[::-1])  # symmetric
    x = np.arange(-8, 9)  # scipy truncates the kernel at 4 sigma
    kernel = np.exp(-(x**2) / (2 * 2.0**2))
    kernel /= kernel.sum()
    assert np.allclose(out[22:39], kernel)


# --- segments -------------------------------------------------------------------------------------

SCORE = np.array([0, 2, 2, 0, 0, 2, 0, 0, 0, 2, 3, 2], dtype=float)


def spans(segments: list[Segment]) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in segments]


def test_find_segments_runs_threshold_and_peaks():
    segs = find_segments(SCORE, threshold=1.0)
    assert spans(segs) == [(1, 2), (5, 5), (9, 11)]
    assert segs[2].peak == 3.0 and segs[2].peak_frame == 10 and segs[2].length == 3
    assert find_segments(SCORE, threshold=2.0) == [Segment(10, 10, 3.0, 10)]  # strictly above
    assert find_segments(SCORE, threshold=3.0) == []


def test_find_segments_merge_gap_then_min_duration():
    assert spans(find_segments(SCORE, 1.0, merge_gap=2)) == [(1, 5), (9, 11)]  # gap of 2 joined, gap of 3 not
    assert spans(find_segments(SCORE, 1.0, merge_gap=3)) == [(1, 11)]
    assert spans(find_segments(SCORE, 1.0, min_duration=3)) == [(9, 11)]
    assert spans(find_segments(SCORE, 1.0, min_duration=2)) == [(1, 2), (9, 11)]
    # merging happens before the length filter: (1, 2) + (5, 5) -> (1, 5), long enough
    assert spans(find_segments(SCORE, 1.0, min_duration=4, merge_gap=2)) == [(1, 5)]


def test_find_segments_below_threshold_for_regularity():
    reg = np.array([1.0, 0.2, 0.3, 1.0, 0.9, 0.1])
    segs = find_segments(reg, threshold=0.5, above=False)
    assert spans(segs) == [(1, 2), (5, 5)]
    assert segs[0].peak == 0.2 and segs[0].peak_frame == 1


def test_find_segments_nan_is_never_anomalous():
    score = np.array([2.0, np.nan, 2.0, np.nan, np.nan])
    assert spans(find_segments(score, 1.0)) == [(0, 0), (2, 2)]
    merged = find_segments(score, 1.0, merge_gap=1)
    assert spans(merged) == [(0, 2)] and merged[0].peak == 2.0 and merged[0].peak_frame == 0
    assert find_segments(np.full(5, np.nan), 1.0) == []
    assert find_segments(np.array([]), 1.0) == []


def test_segment_dict_and_labels():
    seg = Segment(10, 19, 2.5, 12)
    d = seg.to_dict(fps=10.0)
    assert d["frames"] == 10 and d["start_s"] == 1.0 and d["end_s"] == 2.0 and d["peak_frame"] == 12
    assert "start_s" not in seg.to_dict()
    labels = frame_labels_from_segments([Segment(1, 2, 1, 1), Segment(5, 5, 1, 5)], 8)
    assert labels.tolist() == [0, 1, 1, 0, 0, 1, 0, 0]


def test_regularity_events_local_minima_within_window():
    reg = np.ones(200)
    reg[40], reg[50], reg[140] = 0.2, 0.5, 0.4
    # 40 and 50 are closer than half the 50-frame window: only the deeper dip is an event.
    assert regularity_events(reg, window=50) == [40, 140]
    assert regularity_events(reg, window=10) == [40, 50, 140]
    reg_nan = reg.copy()
    reg_nan[100] = np.nan  # treated as perfectly regular, never an event
    assert regularity_events(reg_nan, window=50) == [40, 140]
    assert regularity_events(np.array([0.5, 0.1])) == []


# --- properties over arbitrary arrays -------------------------------------------------------------

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
score_arrays = arrays(np.float64, st.integers(0, 80), elements=floats)
mostly_finite = arrays(
    np.float64,
    st.integers(0, 80),
    elements=st.one_of(st.floats(0, 10), st.just(np.nan), st.just(np.inf), st.just(-np.inf)),
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    score=st.one_of(score_arrays, mostly_finite),
    threshold=st.one_of(st.floats(-5, 5), st.just(np.nan), st.just(np.inf)),
    min_duration=st.integers(0, 10),
    merge_gap=st.integers(0, 10),
    above=st.booleans(),
)
@example(score=np.array([]), threshold=1.0, min_duration=0, merge_gap=0, above=True)
@example(score=np.array([2.0]), threshold=1.0, min_duration=1, merge_gap=0, above=True)
@example(score=np.array([np.nan]), threshold=1.0, min_duration=1, merge_gap=0, above=False)
@example(score=np.array([np.inf, -np.inf, np.nan, 3.0]), threshold=0.0, min_duration=1, merge_gap=2, above=False)
def test_find_segments_properties(score, threshold, min_duration, merge_gap, above):
    segs = find_segments(score, threshold, min_duration=min_duration, merge_gap=merge_gap, above=above)
    n = len(score)
    flagged = ~np.isnan(score) & ((score > threshold) if above else (score < threshold))
    previous_end = -1
    for seg in segs:
        assert 0 <= seg.start <= seg.end < n
        assert seg.length >= max(min_duration, 1)
        assert seg.start - previous_end - 1 > merge_gap or previous_end == -1  # sorted, disjoint, gaps kept
        previous_end = seg.end
        assert flagged[seg.start] and flagged[seg.end]  # a segment starts and ends on anomalous frames
        assert seg.start <= seg.peak_frame <= seg.end and flagged[seg.peak_frame]
        inside = score[seg.start : seg.end + 1]
        inside = inside[~np.isnan(inside)]
        assert seg.peak == (inside.max() if above else inside.min())
    if min_duration <= 1:  # nothing dropped: every anomalous frame is in some segment
        covered = frame_labels_from_segments(segs, n).astype(bool)
        assert not (flagged & ~covered).any()


@settings(max_examples=200, deadline=None, database=None)
@given(errors=st.one_of(score_arrays, mostly_finite), tau=st.floats(1e-6, 1e6))
@example(errors=np.array([]), tau=1.0)
@example(errors=np.array([3.0]), tau=2.0)
@example(errors=np.array([np.nan]), tau=1.0)
@example(errors=np.array([np.inf, 1.0]), tau=1.0)
def test_regularity_and_calibrated_never_crash(errors, tau):
    with np.errstate(all="ignore"):
        s = regularity(errors)
        c = calibrated(errors, tau)
        events = regularity_events(s)
        segs = find_segments(c, 1.0, min_duration=3, merge_gap=5)
    assert s.shape == c.shape == errors.shape
    assert all(0 <= e < len(errors) for e in events)
    assert all(0 <= seg.start <= seg.end < len(errors) for seg in segs)
    finite = np.isfinite(errors)
    assert np.array_equal(np.isnan(s) & finite, np.zeros_like(finite))  # finite inputs give numbers
    if finite.any() and (errors[finite] >= 0).all() and errors[finite].max() > 0:
        assert (s[finite] <= 1 + 1e-12).all() and (s[finite] >= -1e-12).all()
        assert s[finite][np.argmin(errors[finite])] == pytest.approx(1.0)
