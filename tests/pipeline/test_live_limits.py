"""A live run enforces its own limits, whoever watches it: it stops itself at max_frames and at max_seconds (also
when its source falls silent), keeps what it scored, and says which limit stopped it."""

from __future__ import annotations

import time

import numpy as np
import pytest

from vad_core.errors import BadInput
from vad_core.io.limits import AnalysisLimits
from vad_core.io.sources import PushSource
from vad_core.pipeline.live import LiveRun


def pushed(frames: int) -> PushSource:
    source = PushSource("camera", fps=10.0, buffer=frames)
    for i in range(frames):
        source.push(np.full((24, 32), i % 255, np.uint8))
    return source


def test_a_run_stops_itself_at_its_frame_limit(analysis_model):
    run = LiveRun(pushed(60), analysis_model, limits=AnalysisLimits(max_frames=30)).start()
    analysis = run.wait(timeout=60)
    status = run.status()
    assert (status.state, status.limit, status.received) == ("stopped", "the limit of 30 frames", 30)
    assert analysis.frame_count == 30


def test_a_run_whose_source_falls_silent_stops_at_its_time_limit(analysis_model):
    started = time.monotonic()
    run = LiveRun(pushed(25), analysis_model, limits=AnalysisLimits(max_seconds=2)).start()  # never closed
    analysis = run.wait(timeout=30)
    assert time.monotonic() - started < 10 and not run.running
    assert (run.status().state, run.status().limit) == ("stopped", "the limit of 2 s")
    assert analysis.frame_count == 25


def test_a_discarded_run_keeps_nothing_and_says_why(analysis_model):
    run = LiveRun(pushed(20), analysis_model).start()
    run.stop(timeout=60)
    run.discard("the run was stopped: its page was left")
    assert run.frames is None and run.latest() is None
    with pytest.raises(BadInput, match=r"^the run was stopped: its page was left$"):
        run.wait()
