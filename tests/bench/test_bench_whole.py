"""The whole-process figure of `bench`: the analyze command as a user runs it, timed from spawn to exit, beside
the same analysis in process and the plain eager forward, with the command's own split of its wall time."""

from __future__ import annotations

import pytest

from vad_core.bench.report import format_whole
from vad_core.bench.whole import WholeConfig, whole_process_check


@pytest.mark.slow
def test_whole_process_report_on_the_samples(samples):
    report = whole_process_check(WholeConfig(loops=1, rounds=1, reference_frames=20, clips=str(samples / "test")))
    (row,) = report["rounds"]
    whole, inner = row["whole_process"], row["in_process"]
    assert whole["frames"] == 360  # the two sample clips, played once
    assert row["reference_fps"] > 0 and row["model_alone_fps"] > 0 and whole["fps"] > 0 and inner["fps"] > 0
    assert whole["wall_s"] >= whole["total_s"] >= whole["analysis_s"] + whole["writing_s"]
    assert report["ratios"]["whole_process_vs_reference"] == whole["fps"] / row["reference_fps"]
    split = report["wall_split"]["seconds"]
    assert set(split) == {"start_up", "decode", "model", "scoring", "stitching", "writing"}
    assert sum(split.values()) == pytest.approx(whole["wall_s"])
    assert set(report["acceptance"]) == {
        "whole_process_at_least_2_5x_reference",
        "writing_under_5_percent",
        "first_frame_within_1_5_s",
    }
    assert "whole process vs plain eager forward" in "\n".join(format_whole(report))
