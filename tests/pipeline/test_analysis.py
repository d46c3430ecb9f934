"""analyze() on a real sample clip: the per-frame table, the formulas behind it, and the saved files."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from vad_core.pipeline.analysis import analyze
from vad_core.pipeline.result import SegmentRule
from vad_core.scoring.scores import (
    ScoringConfig,
    calibrated,
    motion_error_map,
    patch_mean,
    reduce_map,
    regularity,
    smooth,
)

COLUMNS = ["frame", "time_s", "error", "regularity", "score", "anomalous"]


@pytest.fixture(scope="module")
def test004(samples, analysis_model):
    calls = []
    result = analyze(samples / "test" / "Test004.mp4", analysis_model, progress=lambda d, t: calls.append((d, t)))
    return result, calls


def test_every_frame_is_scored(test004, sample_labels, analysis_model):
    result, calls = test004
    n = sample_labels["test"]["Test004"]["num_frames"]
    assert result.frame_count == n == 180
    assert result.fps == 10.0 and result.source_size == (360, 240) and result.name == "Test004.mp4"
    size = analysis_model.cfg.input_size
    assert result.inputs.shape == result.recons.shape == (n, size, size)
    assert result.inputs.dtype == np.uint8
    for kind in ("appearance", "motion"):
        assert result.maps[kind].shape == (n, size, size)
        assert np.isfinite(result.maps[kind].astype(np.float32)).all() and (result.maps[kind] >= 0).all()
    assert calls[-1] == (n, n) and all(0 < d <= n for d, _ in calls)
    assert result.seconds > 0 and result.frames_per_second > 0


def test_scores_frame_table(test004):
    result, _ = test004
    table = result.scores_frame()
    assert list(table.columns) == COLUMNS
    assert len(table) == 180
    assert table["frame"].tolist() == list(range(180))
    assert np.allclose(table["time_s"], np.arange(180) / 10.0)
    e = table["error"].to_numpy()
    assert np.isfinite(e).all() and (e >= 0).all()
    # The formulas of DESIGN.md, recomputed from the table's own error column.
    assert np.allclose(table["regularity"], 1 - (e - e.min()) / e.max())
    assert np.allclose(table["score"], e / result.tau)
    assert table["regularity"].max() == pytest.approx(1.0) and table["regularity"].min() >= 0
    flags = np.zeros(180, int)
    for seg in result.segments():
        flags[seg.start : seg.end + 1] = 1
        assert (table["score"].to_numpy()[[seg.start, seg.end]] > result.rule.threshold).all()
    assert table["anomalous"].tolist() == flags.tolist()


def test_frame_errors_are_the_reductions_of_the_maps(test004):
    result, _ = test004
    for kind in ("appearance", "motion"):
        maps = result.maps[kind].astype(np.float64)
        assert np.allclose(result.frame_errors[f"{kind}_sum"], maps.sum(axis=(1, 2)), rtol=1e-6)
        local = [patch_mean(m.astype(np.float32), result.scoring.patch).max() for m in result.maps[kind][:20]]
        assert np.allclose(result.frame_errors[f"{kind}_local_max"][:20], local, rtol=1e-5)
        top = replace(result.scoring, kind=kind, reduce="local_top")
        expected = [reduce_map(m.astype(np.float32), top) for m in result.maps[kind][:20]]
        assert np.allclose(result.frame_errors[f"{kind}_local_top"][:20], expected, rtol=1e-5)
    assert np.array_equal(result.maps["motion"][0], result.maps["motion"][1])  # frame 0 borrows frame 1's motion
    assert np.allclose(result.error, smooth(result.raw_error(), result.scoring.smooth_sigma))
    assert np.allclose(result.regularity, regularity(result.error))
    assert np.allclose(result.score, calibrated(result.error, result.tau))
    other = ScoringConfig(kind="appearance", reduce="sum")
    assert np.array_equal(result.raw_error(other), result.frame_errors["appearance_sum"])


def test_appearance_map_is_the_squared_reconstruction_error(test004, analysis_model):
    result, _ = test004
    norm = analysis_model.normalizer
    frame = 77
    x = norm.apply(result.inputs[frame].astype(np.float32) / 255.0)
    r = norm.apply(result.recons[frame].astype(np.float32) / 255.0)
    # inputs/recons are 8-bit and clipped to [0, 1]: compare where the reconstruction was not clipped
    ok = (result.recons[frame] > 0) & (result.recons[frame] < 255)
    step = 1.0 / 255.0 / norm.std  # one grey level in normalized units
    expected = (x - r) ** 2
    got = result.maps["appearance"][frame].astype(np.float32)
    assert ok.mean() > 0.5
    assert np.all(np.abs(np.sqrt(got[ok]) - np.sqrt(expected[ok])) <= 1.5 * step + 1e-3 * np.sqrt(expected[ok]))


def test_segment_rule_changes_segments_and_flags(test004):
    result, _ = test004
    low = SegmentRule(threshold=float(np.quantile(result.score, 0.5)), min_duration=1, merge_gap=0)
    segs = result.segments(low)
    assert segs and sum(s.length for s in segs) == int((result.score > low.threshold).sum())
    assert result.scores_frame(low)["anomalous"].sum() == sum(s.length for s in segs)
    assert result.segments(SegmentRule(threshold=float(result.score.max()) + 1)) == []


def test_save_writes_the_contract_files(test004, tmp_path):
    result, _ = test004
    rule = SegmentRule(threshold=float(np.quantile(result.score, 0.7)), min_duration=3, merge_gap=5)
    out = result.save(tmp_path / "out", rule)
    table = pd.read_csv(out / "scores.csv")
    assert list(table.columns) == COLUMNS and len(table) == 180
    assert np.allclose(table["error"], result.error) and np.allclose(table["score"], result.score)
    doc = json.loads((out / "segments.json").read_text())
    assert doc["frames"] == 180 and doc["fps"] == 10.0 and doc["threshold"] == rule.threshold
    assert doc["segments"] == [{"kind": "anomaly"} | s.to_dict(10.0) for s in result.segments(rule)]
    assert doc["health"] == []  # a healthy camera
    assert sum(s["frames"] for s in doc["segments"]) == table["anomalous"].sum() > 0
    with np.load(out / "error_maps.npz") as npz:
        assert set(npz.files) >= {"appearance", "motion", "scale"}
        assert npz["appearance"].shape == result.maps["appearance"].shape and npz["motion"].dtype == np.uint8
        scale = float(npz["scale"])
        restored = npz["appearance"].astype(np.float32) / 255.0 * scale
        original = result.maps["appearance"].astype(np.float32)
        unclipped = original < scale
        assert np.allclose(restored[unclipped], original[unclipped], atol=scale / 255.0 + 1e-6)


def test_frame_folder_gives_the_same_scores_as_the_video(tmp_path, samples, tiny_model):
    import cv2

    from vad_core.io.video import stream_raw_gray

    clip = samples / "train" / "Train001.mp4"
    for i, frame in enumerate(stream_raw_gray(clip)):
        cv2.imwrite(str(tmp_path / f"{i:04d}.png"), frame)
    from_video = analyze(clip, tiny_model)
    from_folder = analyze(tmp_path, tiny_model)
    assert from_folder.frame_count == from_video.frame_count == 120
    assert np.allclose(from_folder.score, from_video.score, rtol=1e-4, atol=1e-6)


def test_missed_motion_map_is_the_motion_the_reconstruction_did_not_reproduce(samples, analysis_model):
    """The engine's "missed" form (in torch, in the workers and across block seams) follows motion_error_map."""
    model = replace(analysis_model, scoring=replace(analysis_model.scoring, motion="missed"))
    result = analyze(samples / "test" / "Test004.mp4", model)
    norm, step = model.normalizer, 1.0 / 255.0 / model.normalizer.std  # one grey level in normalized units
    x = norm.apply(result.inputs.astype(np.float32) / 255.0)
    r = norm.apply(result.recons.astype(np.float32) / 255.0)
    got = result.maps["motion"].astype(np.float32)
    assert (got >= 0).all() and (got == 0).mean() > 0.1  # shimmer over still pixels is not counted
    for t in range(1, result.frame_count):
        expected = motion_error_map(x[t], r[t], x[t - 1], r[t - 1], "missed")
        ok = (
            (result.recons[t] > 0)
            & (result.recons[t] < 255)
            & (result.recons[t - 1] > 0)
            & (result.recons[t - 1] < 255)
        )
        dx, dr = np.abs(x[t] - x[t - 1]), np.abs(r[t] - r[t - 1])
        bound = 2 * (dx + dr) * step + 2 * step**2 + 1e-3 * expected  # 8-bit frames, float16 maps
        assert np.all(np.abs(got[t][ok] - expected[ok]) <= bound[ok]), t
