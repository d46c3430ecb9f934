"""Live scoring through the one engine: a recorded clip played in real time gives analyze's c(t), segments
open while it plays and close as find_segments would, and a source faster than the machine loses whole
windows, counted, never an unbounded lag."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.helpers.live import PacedClip
from vad_core import analyze
from vad_core.pipeline.live import LiveRun, SegmentTracker
from vad_core.pipeline.result import SegmentRule
from vad_core.scoring.scores import find_segments


@pytest.mark.parametrize("rule", [SegmentRule(), SegmentRule(0.8, 1, 0), SegmentRule(1.2, 10, 20)])
def test_the_tracker_closes_exactly_the_segments_find_segments_finds(rule):
    rng = np.random.default_rng(0)
    score = np.convolve(rng.random(600) * 2.2, np.ones(5) / 5, mode="same")
    tracker, closed, opened = SegmentTracker(rule), [], []
    for frame, value in enumerate(score):
        for kind, segment in tracker.push(frame, float(value)):
            (opened if kind == "open" else closed).append(segment)
    closed += [segment for _, segment in tracker.finish()]
    expected = find_segments(score, rule.threshold, rule.min_duration, rule.merge_gap)
    assert [(s.start, s.end, s.peak_frame) for s in closed] == [(s.start, s.end, s.peak_frame) for s in expected]
    assert [s.start for s in opened] == [s.start for s in expected]


def test_a_clip_played_live_scores_as_analyze_and_alerts_while_it_plays(samples, analysis_model):
    clip = samples / "test" / "Test004.mp4"
    offline = analyze(clip, analysis_model)
    events, started = [], time.monotonic()
    record = lambda e: events.append((time.monotonic(), e))  # noqa: E731
    run = LiveRun(PacedClip(clip, fps=30), analysis_model, on_event=record, queue_windows=18)  # room: no drops
    analysis = run.start().wait(timeout=120)
    finished = time.monotonic()
    assert np.abs(analysis.score - offline.score).max() < 1e-3
    assert np.abs(run.scores() - offline.score).max() < 1e-3
    closes = [e for _, e in events if e.event == "close"]
    assert [(e.start, e.end) for e in closes] == [(s.start, s.end) for s in offline.segments()]
    first_open = next(at for at, e in events if e.event == "open")
    assert started < first_open < finished - 1.0, "the alert came only when the clip had ended"
    status = run.status()
    assert (status.state, status.received, status.scored, status.dropped) == ("ended", 180, 180, 0)


def test_a_source_faster_than_the_machine_loses_whole_windows_not_time(samples, analysis_model):
    clip = samples / "test" / "Test004.mp4"
    run = LiveRun(PacedClip(clip, fps=0), analysis_model, queue_windows=1).start()
    analysis = run.wait(timeout=120)
    status = run.status()
    assert status.dropped > 0 and status.dropped % 10 == 0  # whole windows of T = 10
    assert status.scored == analysis.frame_count == 180 - status.dropped
    kept = run.source_frames()
    assert len(kept) == analysis.frame_count and np.all(np.diff(kept) > 0)
    assert analysis.scores_frame()["frame"].tolist() == kept.tolist()


def test_a_motion_detector_played_live_scores_as_analyze(samples, motion_stem):
    from vad_core.model.checkpoint import load_checkpoint

    clip, model = samples / "test" / "Test004.mp4", load_checkpoint(motion_stem)
    offline = analyze(clip, model)
    run = LiveRun(PacedClip(clip, fps=90), model, queue_windows=18)  # room: no drops
    analysis = run.start().wait(timeout=120)
    assert run.status().dropped == 0 and analysis.recons is analysis.inputs and analysis.latent is None
    assert np.abs(analysis.score - offline.score).max() < 1e-3
    assert [(s.start, s.end) for s in analysis.segments()] == [(s.start, s.end) for s in offline.segments()]
