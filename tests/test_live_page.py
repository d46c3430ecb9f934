"""The live page without a browser (AppTest): a recorded clip played in real time is scored as it plays (throughput,
the rolling plot, an alert), and once it ends it opens in the analysis view with the run's own scores, equal to
analyze's; the run held a heavy slot only while it ran."""

from __future__ import annotations

import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app.work_queue import work_queue
from tests.test_app import APP, TIMEOUT, metric, player_args
from tests.test_inject_page import open_page
from vad_core import analyze

pytestmark = pytest.mark.slow


def button(app: AppTest, label: str):
    return next(b for b in app.button if b.label == label)


def test_a_clip_played_live_alerts_then_opens_in_the_analysis_view(analysis_stem, analysis_model, samples, monkeypatch):
    monkeypatch.setenv("VAD_CHECKPOINT", str(analysis_stem))
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    app.session_state["live_source"] = "clip"  # the camera (streamlit-webrtc) needs a real server: the browser test
    app = open_page(app.run(), "live")
    assert not app.exception, app.exception
    assert app.title[0].value == "Watch a live source"
    assert not app.error, [e.value for e in app.error]
    app.selectbox(key="live_sample").set_value("Test004.mp4").run()
    button(app, "Start").click().run()
    assert not app.exception, app.exception
    assert button(app, "Start").disabled and not button(app, "Stop").disabled
    assert len(work_queue().running()) == 1  # the run holds a heavy slot

    scored, alerts, deadline = [], False, time.monotonic() + 120
    while time.monotonic() < deadline and not any(s.value.startswith("Recorded") for s in app.subheader):
        time.sleep(1.0)
        app.run()
        assert not app.exception, app.exception
        if any(m.label == "Scored" for m in app.metric):
            scored.append(int(metric(app, "Scored")))
            alerts = alerts or any("Anomaly" in m.value for m in app.markdown)
    assert len(set(scored)) >= 3 and scored == sorted(scored), scored  # it grew while the clip played
    assert alerts, "no alert while the clip played"
    assert not work_queue().running()  # the slot is back once the run is over

    recorded = player_args(app)  # the analysis view, on the live run's own scores
    offline = analyze(samples / "test" / "Test004.mp4", analysis_model)
    assert len(recorded["score"]) == offline.frame_count == 180
    assert np.abs(np.asarray(recorded["score"], dtype=float) - offline.score).max() < 1e-3
    assert int(metric(app, "Anomalous segments")) >= 1
