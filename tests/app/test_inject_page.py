"""The anomaly injection page (AppTest): the injected range becomes the ground truth, and the AUC is the clip's."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers.apptest import TIMEOUT, metric, open_page, player_args
from tests.helpers.paths import APP
from vad_core import analyze
from vad_core.scoring.metrics import auc
from vad_core.training.injection import InjectionConfig, inject_file

pytestmark = pytest.mark.slow


def test_inject_page_scores_the_injected_clip(analysis_stem, analysis_model, samples, monkeypatch, tmp_path):
    monkeypatch.setenv("VAD_CHECKPOINT", str(analysis_stem))
    app = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run(), "inject")
    assert not app.exception, app.exception
    assert any("Inject and analyze" in i.value for i in app.info)
    app.selectbox(key="inject_kind").set_value("speedup")
    app.slider(key="inject_range").set_value((60, 100))
    app.run()
    app.button[-1].click().run()
    assert not app.exception, app.exception

    args = player_args(app)
    assert args["truth"] == [0] * 60 + [1] * 40 + [0] * 20  # Train001: 120 frames
    expected_clip = tmp_path / "expected.mp4"
    labels = inject_file(samples / "train" / "Train001.mp4", expected_clip, InjectionConfig("speedup", 60, 100))
    expected = auc(analyze(expected_clip, analysis_model).score, labels)
    assert metric(app, "Frame AUC") == f"{expected:.3f}"  # the same clip, scored the same way


def test_inject_page_refuses_an_upload_it_cannot_hold(analysis_stem, monkeypatch):
    from app.views import inject

    monkeypatch.setenv("VAD_CHECKPOINT", str(analysis_stem))
    monkeypatch.setattr(inject, "MAX_FRAMES", 50)
    app = open_page(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run(), "inject")
    assert any("up to 50 frames" in e.value for e in app.error), [e.value for e in app.error]
