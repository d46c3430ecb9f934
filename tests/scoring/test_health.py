"""Camera health: frozen, covered and moved cameras found as their own kind of finding, against the scene's normal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vad_core.io.video import resize_scale
from vad_core.model.checkpoint import load_checkpoint
from vad_core.pipeline.analysis import analyze
from vad_core.scoring.health import HealthReference, health_figures, health_scores, health_segments
from vad_core.training.injection import InjectionConfig, inject, read_gray_clip


@pytest.fixture(scope="module")
def model(bundled):
    return load_checkpoint(bundled)


@pytest.fixture(scope="module")
def normal_frames(samples, model):
    """Train002 at the model's size as uint8, the way analysis keeps its inputs."""
    frames = read_gray_clip(samples / "train" / "Train002.mp4")
    size = model.cfg.input_size
    return np.stack([np.round(resize_scale(f, size) * 255).astype(np.uint8) for f in frames]), frames


def test_bundled_card_has_a_health_reference(model):
    health = model.scene.health
    assert health is not None and health.change > 0 and health.structure > 0 and 0 < health.shift < 2


@pytest.mark.parametrize(("kind", "fault"), [("freeze", "frozen"), ("cover", "covered"), ("shift", "moved")])
def test_each_injected_fault_is_found_as_its_own_kind_only(kind, fault, normal_frames, model):
    _, source = normal_frames
    size = model.cfg.input_size
    injected, labels = inject(source, InjectionConfig(kind, start=40, end=90, seed=1))
    frames = np.stack([np.round(resize_scale(f, size) * 255).astype(np.uint8) for f in injected])
    scores = health_scores(health_figures(frames, model.normalizer.mean_frame), model.scene.health)
    segments = health_segments(scores)
    assert {s.kind for s in segments} == {fault}
    (segment,) = segments
    assert 40 <= segment.start <= 42 and segment.end == 89  # a freeze holds frame 40, so it changes from 41
    flagged = scores[fault] > 1
    assert flagged[labels == 0].sum() == 0


def test_normal_footage_has_no_health_fault(normal_frames, model):
    frames, _ = normal_frames
    assert health_segments(health_scores(health_figures(frames, model.normalizer.mean_frame), model.scene.health)) == []


def test_health_reference_round_trips_and_refuses_bad_values():
    ref = HealthReference(0.01, 0.2, 0.9)
    assert HealthReference.from_dict(json.loads(json.dumps(ref.to_dict()))) == ref
    with pytest.raises(ValueError, match="numbers >= 0"):
        HealthReference.from_dict({"change": -1, "structure": 0.2, "shift": 1})


def test_cli_reports_health_segments_apart_from_anomalies(samples, tmp_path, cli):
    out = tmp_path / "frozen.mp4"
    done = cli("inject", str(samples / "train" / "Train001.mp4"), "--kind", "freeze", "--start", "30", "--end", "80",
               "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = cli("analyze", str(out), "--out", str(tmp_path / "res"), "--json")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("camera:")]
    assert lines == ["camera: frozen at frames 31-79 (3.1-8.0 s)"]
    summary = json.loads(done.stdout)
    assert [(h["kind"], h["start"], h["end"]) for h in summary["health"]] == [("frozen", 31, 79)]
    doc = json.loads((tmp_path / "res" / "segments.json").read_text())
    assert doc["health"][0]["kind"] == "frozen"
    assert all(s["kind"] == "anomaly" for s in doc["segments"])


def test_analysis_of_a_covered_clip_marks_its_anomalies_as_meaningless(samples, tmp_path, model, cli):
    out = tmp_path / "covered.mp4"
    done = cli("inject", str(samples / "train" / "Train002.mp4"), "--kind", "cover", "--start", "50", "--end", "100",
               "--seed", "2", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = analyze(out, model)
    assert [(h.kind, h.start, h.end) for h in result.health_segments()] == [("covered", 50, 99)]
    doc = result.segments_document()
    for segment in doc["segments"]:
        overlaps = segment["start"] <= 99 and segment["end"] >= 50
        assert ("camera_fault" in segment) == overlaps


def test_figures_computed_block_by_block_equal_the_whole_clips(samples, tiny_model):
    """The analysis workers compute the figures per block; the seams (and a last partial window) change nothing."""
    from vad_core.io.limits import FrameSelection

    result = analyze(samples / "test" / "Test004.mp4", tiny_model, selection=FrameSelection(0, 175))
    whole = health_figures(result.inputs, tiny_model.normalizer.mean_frame)
    assert len(result.health["change"]) == 175
    for key, values in whole.items():
        np.testing.assert_array_equal(result.health[key], values)
