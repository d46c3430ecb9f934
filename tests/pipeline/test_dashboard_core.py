"""The library parts behind the dashboard: curves and thresholds, high-error regions, labels, rendering."""

from __future__ import annotations

import av
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vad_core.errors import BadInput
from vad_core.io.labels import label_runs, parse_labels
from vad_core.pipeline.curves import CURVES, curve_threshold, curve_values, score_threshold
from vad_core.pipeline.regions import find_regions, frame_regions
from vad_core.pipeline.render import (
    HEAT_RANGE,
    HeatStyle,
    PreviewFrames,
    colormap_lut,
    export_video,
    heat_levels,
    overlay,
    preview_shape,
)
from vad_core.pipeline.result import Analysis, SegmentRule
from vad_core.scoring.scores import ERROR_KINDS, REDUCTIONS, ScoringConfig, find_segments

SIZE = 48


def synthetic(errors: list[float], blob_frame: int | None = None, blob_value: float = 50.0) -> Analysis:
    """An Analysis with given frame errors (no smoothing) and, optionally, one bright square in one map."""
    n = len(errors)
    maps = np.zeros((n, SIZE, SIZE), np.float16)
    if blob_frame is not None:
        maps[blob_frame, 10:20, 24:34] = blob_value
    raw = np.asarray(errors, dtype=np.float64)
    return Analysis(
        name="synthetic",
        fps=10.0,
        source_size=(SIZE, SIZE),
        scoring=ScoringConfig(smooth_sigma=0.0, patch=4, per_place=False),
        tau=2.0,
        pixel_tau=1.0,
        frame_errors={f"{k}_{r}": raw for k in ERROR_KINDS for r in REDUCTIONS},
        maps={"appearance": maps, "motion": maps},
        inputs=np.full((n, SIZE, SIZE), 128, np.uint8),
        recons=np.full((n, SIZE, SIZE), 120, np.uint8),
    )


@given(
    errors=st.lists(st.floats(0.01, 100.0), min_size=3, max_size=40),
    value=st.floats(0.0, 1.0),
)
@settings(max_examples=60, deadline=None)
def test_a_regularity_threshold_flags_the_same_frames_as_its_score_threshold(errors, value):
    result = synthetic(errors)
    assume(np.min(np.abs(result.regularity - value)) > 1e-9)  # exact ties may round either way
    on_regularity = find_segments(result.regularity, value, above=False)
    on_score = find_segments(result.score, score_threshold(result, "regularity", value))
    assert [(s.start, s.end) for s in on_regularity] == [(s.start, s.end) for s in on_score]


@pytest.mark.parametrize("curve", CURVES)
def test_curve_threshold_inverts_score_threshold(curve):
    result = synthetic([1.0, 3.0, 2.0, 6.0])
    assert score_threshold(result, curve, curve_threshold(result, curve, 1.3)) == pytest.approx(1.3)


def test_curve_values_and_threshold_units():
    result = synthetic([1.0, 3.0, 2.0, 6.0])
    np.testing.assert_allclose(curve_values(result, "score"), [0.5, 1.5, 1.0, 3.0])
    np.testing.assert_allclose(curve_values(result, "error"), [1.0, 3.0, 2.0, 6.0])
    assert curve_threshold(result, "error", 1.0) == pytest.approx(2.0)  # c = 1 is e = tau
    with pytest.raises(ValueError, match="unknown curve"):
        curve_values(result, "loss")


def test_find_regions_boxes_connected_pixels_above_threshold():
    local = np.zeros((40, 40), np.float32)
    local[5:10, 8:20] = 2.0  # a 5 x 12 region
    local[30, 30] = 9.0  # a one-pixel speck, below min_area
    local[25:33, 0:4] = 3.0  # a 8 x 4 region with the larger peak
    boxes = find_regions(local, threshold=1.0, min_area=16)
    assert [(b.x, b.y, b.w, b.h, b.peak) for b in boxes] == [(0, 25, 4, 8, 3.0), (8, 5, 12, 5, 2.0)]
    assert boxes[1].fraction(40) == (0.2, 0.125, 0.5, 0.25)


def test_frame_regions_find_the_bright_square_only_where_it_is():
    result = synthetic([1.0] * 4, blob_frame=2)
    (box,) = frame_regions(result.frame_map(2), result.scoring.patch, result.pixel_tau)
    assert box.x <= 24 and box.y <= 10 and box.x + box.w >= 34 and box.y + box.h >= 20
    assert frame_regions(result.frame_map(1), result.scoring.patch, result.pixel_tau) == []


def test_labels_from_the_dataset_json_a_bare_list_and_csv():
    doc = b'{"test": {"Test001": {"labels": [0, 1, 1]}, "Test004": {"labels": [1, 0, 0]}}}'
    assert parse_labels(doc, "labels.json", "Test004", 3).tolist() == [1, 0, 0]
    assert parse_labels(b'{"test": {"Any": {"labels": [0, 0, 1]}}}', "l.json", "clip", 3).tolist() == [0, 0, 1]
    assert parse_labels(b"[0, 1, 0]", "l.json", "clip", 3).tolist() == [0, 1, 0]
    assert parse_labels(b"frame,label\n0,0\n1,1\n2,1\n", "gt.csv", "clip", 3).tolist() == [0, 1, 1]
    assert parse_labels(b"anomalous\n1\n0\n", "gt.CSV", "clip", 2).tolist() == [1, 0]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b'{"test": {"A": {"labels": [0]}, "B": {"labels": [1]}}}', "labels.json", "none for clip"),
        (b"[0, 1]", "labels.json", "cover 2 frames but the clip has 3"),
        (b"[0, 2, 1]", "labels.json", "0 \\(normal\\) or 1"),
        (b"{not json", "labels.json", "not valid JSON"),
        (b"a,b\n0,1\n", "gt.csv", "needs a column"),
    ],
)
def test_bad_labels_are_bad_input(data, name, message):
    with pytest.raises(BadInput, match=message):
        parse_labels(data, name, "clip", 3)


def test_label_runs_are_inclusive():
    assert label_runs(np.array([0, 1, 1, 0, 1])) == [(1, 2), (4, 4)]


def test_heat_levels_use_the_calibrated_scale():
    result = synthetic([1.0] * 3, blob_frame=1, blob_value=HEAT_RANGE * 1.0 / 2)
    levels = heat_levels(result.frame_map(1), result.pixel_tau)
    assert levels.dtype == np.uint8 and levels.max() == 128 and levels[0, 0] == 0


def test_overlay_leaves_zero_error_pixels_as_they_are():
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    lut = colormap_lut("inferno")
    assert lut.shape == (256, 4) and lut[0, 3] == 0 and lut[255, 3] == 255
    out = overlay(gray, np.zeros((4, 4), np.uint8), lut, opacity=1.0)
    np.testing.assert_array_equal(out, np.repeat(gray[..., None], 3, axis=2))
    hot = overlay(gray, np.full((4, 4), 255, np.uint8), lut, opacity=1.0)
    assert (hot == lut[255, :3]).all()


def test_unknown_colormap_is_refused():
    with pytest.raises(ValueError, match="unknown colormap"):
        HeatStyle(colormap="rainbow")


def test_preview_frames_fit_their_box_whatever_the_frame_shape():
    preview = PreviewFrames(box=(180, 180), budget_bytes=1000)  # spills to disk after the first frames
    for frame in [np.zeros((240, 360), np.uint8), np.zeros((16000, 360), np.uint8), np.zeros((1, 1), np.uint8)]:
        preview(frame)
    frames = preview.finish()
    assert frames.shape == (3, 120, 180) and frames.dtype == np.uint8
    assert preview_shape(16000, 360, (360, 360)) == (360, 8)
    assert preview_shape(3, 16000, (360, 360)) == (2, 360)


def test_export_is_browser_playable_h264(tmp_path):
    result = synthetic([1.0, 1.0, 5.0, 6.0, 5.0, 1.0], blob_frame=3)
    frames = np.full((6, 60, 90), 100, np.uint8)
    path = export_video(tmp_path / "out.mp4", result, frames, HeatStyle(), SegmentRule(1.0, 1, 0))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
    assert stream.codec_context.name == "h264"
    assert len(decoded) == 6
    assert (decoded[0].width, decoded[0].height) == (90, 60 + 56)  # frame above the score strip
