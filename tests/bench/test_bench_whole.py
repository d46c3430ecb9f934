"""The whole-process figure of `bench`: the analyze command as a user runs it, timed from spawn to exit for each
detector (the bundled default and --whole-checkpoint's), beside the autoencoder's same analysis in process and its
plain eager forward, with the command's own split of its wall time."""

from __future__ import annotations

import re

import pytest

import vad_core.bench.whole as whole_module
import vad_core.model.checkpoint as checkpoint_module
from tests.helpers.paths import BUNDLED, bundled_available
from vad_core.bench.report import format_whole
from vad_core.bench.whole import WholeConfig, detectors_to_time, summarize, whole_process_check
from vad_core.cli import main

needs_bundled = pytest.mark.skipif(not bundled_available(), reason="the bundled Ped2 model is missing")


@pytest.mark.slow
@needs_bundled
def test_whole_process_report_on_the_samples(samples, motion_stem):
    clips, motion = str(samples / "test"), str(motion_stem)
    report = whole_process_check(
        WholeConfig(loops=1, rounds=1, reference_frames=20, clips=clips, checkpoints=(motion,))
    )
    (row,) = report["rounds"]
    whole, inner = row["whole_process"], row["in_process"]
    assert whole["frames"] == 360  # the two sample clips, played once
    assert row["reference_fps"] > 0 and row["model_alone_fps"] > 0 and whole["fps"] > 0 and inner["fps"] > 0
    assert whole["wall_s"] >= whole["total_s"] >= whole["analysis_s"] + whole["writing_s"]
    assert report["ratios"]["whole_process_vs_reference"] == whole["fps"] / row["reference_fps"]
    split = report["wall_split"]["seconds"]
    assert set(split) == {"start_up", "decode", "model", "scoring", "stitching", "writing"}
    assert sum(split.values()) == pytest.approx(whole["wall_s"])
    # each detector's whole command: the bundled default (fused), the motion checkpoint, and the bundled autoencoder
    # (the run above), timed after them as the reference figures' autoencoder
    detectors = report["detectors"]
    assert report["default_detector"] == "ped2-fused" and list(detectors) == ["ped2-fused", "motion", "ped2"]
    kinds = {name: d["kind"] for name, d in detectors.items()}
    assert kinds == {"ped2-fused": "fused", "motion": "motion", "ped2": "autoencoder"}
    assert report["model"] == "ped2" and detectors["ped2"]["per_round"] == [whole["fps"]]
    assert detectors["motion"]["checkpoint"] == str(motion_stem)
    assert all(d["whole_process_fps"] > 0 and len(d["per_round"]) == 1 for d in detectors.values())
    assert set(report["acceptance"]) == {
        "whole_process_at_least_2_5x_reference",
        "writing_under_5_percent",
        "first_frame_within_1_5_s",
        "default_whole_process_at_least_100_fps",
    }
    assert report["acceptance"]["default_whole_process_at_least_100_fps"] == (
        detectors["ped2-fused"]["whole_process_fps"] >= 100
    )
    text = "\n".join(format_whole(report))
    assert "whole process vs plain eager forward" in text
    assert "ped2-fused (fused, the bundled default): " in text and "motion (motion): " in text
    assert "ped2 (autoencoder): " in text


@pytest.fixture
def motion_default(monkeypatch, motion_stem):
    """The motion checkpoint as the bundled default, for this process's loading (not a command's)."""
    monkeypatch.setattr(checkpoint_module, "DEFAULT_CHECKPOINT", motion_stem)
    monkeypatch.setattr(whole_module, "DEFAULT_CHECKPOINT", motion_stem)


@needs_bundled
def test_a_motion_default_is_timed_beside_the_reference_autoencoder(motion_default):
    timed, ae, skipped = detectors_to_time((str(BUNDLED),))
    assert [(t.name, t.model.card.detector, t.stem) for t in timed] == [
        ("motion", "motion", None),
        ("ped2", "autoencoder", BUNDLED),
    ]
    assert ae is timed[1] and skipped is None


def test_without_an_autoencoder_the_reference_figures_are_skipped(motion_default, monkeypatch, tmp_path, samples):
    monkeypatch.setattr(whole_module, "REFERENCE_AUTOENCODER", tmp_path / "none")
    timed, ae, skipped = detectors_to_time(())
    assert [t.name for t in timed] == ["motion"] and ae is None and "no " in skipped
    run = {"frames": 120, "wall_s": 1.0, "fps": 120.0, "analysis_s": 0.8, "writing_s": 0.1, "cpu_s": {"model": 1.0}}
    clips = sorted((samples / "test").glob("*.mp4"))
    report = summarize([], {"motion": [run]}, timed, ae, skipped, WholeConfig(loops=1), clips)
    assert "ratios" not in report and report["autoencoder_skipped"] == skipped
    assert report["detectors"]["motion"]["whole_process_fps"] == 120.0
    assert report["acceptance"] == {"default_whole_process_at_least_100_fps": True}
    text = "\n".join(format_whole(report))
    assert "motion (motion, the bundled default): 120.0 frames/s" in text and "no reference figures" in text


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--whole-checkpoint", "m"], "--whole-checkpoint .* add --whole or --whole-only"),
        (
            ["--whole-only", "--whole-checkpoint", "/nonexistent/m"],
            "--whole-checkpoint checkpoint weights .* not found",
        ),
    ],
)
def test_bench_refuses_a_bad_whole_checkpoint_before_measuring(argv, says, capfd):
    assert main(["bench", *argv]) == 2
    out, err = capfd.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert re.search(says, err), err
