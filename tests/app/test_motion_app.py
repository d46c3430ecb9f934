"""A motion detector in the app (AppTest): chosen by VAD_CHECKPOINT or picked from the models folder, it analyzes
a sample and every view renders, the ones an autoencoder alone can draw with a short note; "Compare with" draws
the autoencoder's and the motion detector's c(t) on one plot; the Train page fits one."""

from __future__ import annotations

import re
import shutil
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app.views.detector_kind import LAB_NOTE
from tests.helpers.apptest import (
    TIMEOUT,
    intro_kind,
    metric,
    open_page,
    player_args,
    start_app,
    trace_values,
    wait_finished,
)
from tests.helpers.paths import APP, BUNDLED, BUNDLED_DEFAULT
from vad_core import load_checkpoint
from vad_core.model.motion.detector import MotionModel


def test_a_motion_checkpoint_analyzes_the_sample_and_every_page_renders(motion_stem, tmp_path, monkeypatch):
    monkeypatch.setenv("VAD_MODELS_DIR", str(tmp_path / "models"))
    app = start_app(motion_stem, monkeypatch)
    assert not app.exception and not app.error, (app.exception, app.error)
    assert metric(app, "Frames") == "180" and len(player_args(app)["score"]) == 180
    assert app.selectbox(key="model_picker").options == ["motion (motion detector)"]
    assert intro_kind(app) == "motion"  # the analysis page says what a motion detector learned
    assert not [b for b in app.button if b.label == "Adapt"]  # a motion model is fitted afresh, not fine-tuned
    assert app.radio(key="view_mode").options == ["Overlay"]  # nothing reconstructed to show beside the input
    assert app.selectbox(key="heat_kind").options == ["motion"]
    for page in ("lab", "inject", "live", "train", "batch", "events"):
        open_page(app, page)
        assert not app.exception and not app.error, (page, app.exception, app.error)
    open_page(app, "lab")
    assert any(i.value == LAB_NOTE for i in app.info) and metric(app, "c(t) calibrated score")
    assert any(s.value.startswith("How the motion map of frame") for s in app.subheader)
    (equation,) = [e.value for e in app.get("latex") if "e_{raw}" in e.value]
    explained, scored = (float(x) for x in re.findall(r"[0-9][0-9.e+-]*", equation)[-2:])
    assert explained == pytest.approx(scored, rel=1e-3)  # the flow computed again is the one the engine scored


def test_compare_with_draws_the_autoencoder_and_the_motion_detector(motion_stem, analysis_stem, tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(motion_stem.with_suffix(suffix), models / f"flow{suffix}")
    monkeypatch.setenv("VAD_MODELS_DIR", str(models))
    monkeypatch.setenv("VAD_CHECKPOINT", str(analysis_stem))
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert app.selectbox(key="model_picker").options[1:] == ["flow (motion detector, in the models folder)"]
    app.selectbox(key="compare_picker").set_value(str(models / "flow")).run()
    assert not app.exception, app.exception
    curves = [t for t in player_args(app)["figure"]["data"] if " · " in t.get("name", "")]
    assert [t["name"] for t in curves] == [f"c(t) · {analysis_stem.name}", "c(t) · flow"]
    autoencoder, motion = (trace_values(t["y"]) for t in curves)
    assert len(autoencoder) == len(motion) == 180 and not np.allclose(autoencoder, motion)
    app.radio(key="view_mode").set_value("side")
    app.selectbox(key="heat_kind").set_value("appearance")
    app.selectbox(key="model_picker").set_value(str(models / "flow")).run()  # the motion model analyzes alone too
    assert app.radio(key="view_mode").value == "overlay" and app.selectbox(key="heat_kind").value == "motion"
    assert not app.exception and metric(app, "Frames") == "180", app.exception


def test_the_train_page_fits_a_motion_model_through_the_training_child(tmp_path, monkeypatch):
    from app.models import SESSION_KEY, available_models
    from app.training import training_runner

    models = tmp_path / "models"
    monkeypatch.setenv("VAD_MODELS_DIR", str(models))
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    app.session_state[SESSION_KEY] = "tok-motion"
    open_page(app.run(), "train")
    app.radio(key="train_kind").set_value("motion").run()
    assert "train_init" not in [s.key for s in app.selectbox]  # a motion model starts from no other model
    assert "train_minutes" not in [n.key for n in app.number_input]  # nor has a budget: one pass, seconds
    app.text_input(key="train_name").set_value("flow")
    app.button(key="start_training").click().run()
    assert not app.exception and not app.error, (app.exception, app.error)
    job = training_runner().job
    assert job is not None and job.request.kind == "motion"
    snap = wait_finished(job)
    assert snap.state == "done" and snap.checkpoint == models / "flow.safetensors", snap.message
    assert isinstance(load_checkpoint(models / "flow"), MotionModel)
    listed = [(e.stem, e.kind) for e in available_models()]  # the bundled default, the bundled autoencoder, then it
    assert listed == [(BUNDLED_DEFAULT, "fused"), (BUNDLED, "autoencoder"), (models / "flow", "motion")]
    app.run()
    assert any("Saved as" in s.value for s in app.success) and not app.exception


def test_the_live_page_scores_a_clip_with_a_motion_model_and_opens_the_recording(motion_stem, monkeypatch):
    monkeypatch.setenv("VAD_CHECKPOINT", str(motion_stem))
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    app.session_state["live_source"] = "clip"
    open_page(app.run(), "live")
    app.selectbox(key="live_sample").set_value("Test004.mp4").run()
    next(b for b in app.button if b.label == "Start").click().run()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(s.value.startswith("Recorded") for s in app.subheader):
        time.sleep(1.0)
        app.run()
        assert not app.exception and not app.error, (app.exception, app.error)
    recorded = player_args(app)["score"]
    assert len(recorded) >= 60 and (180 - len(recorded)) % 10 == 0  # whole windows of the motion model's 10 skipped
