"""A fused detector in the app (AppTest): chosen by VAD_CHECKPOINT, the picker names its kind, the analysis page says
what it learned, it analyzes a sample and every page renders (the lab's steps: tests/app/test_lab.py); "Adapt the
model to this camera" can make one from an autoencoder (adapt --kind fused), and adapts a fused model as a fused
model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.training import TrainingRequest, _train_command
from app.views.detector_kind import ADAPT_KINDS
from tests.helpers.apptest import intro_kind, metric, open_page, player_args, start_app


def test_a_fused_checkpoint_analyzes_the_sample_and_every_page_renders(fused_stem, tmp_path, monkeypatch):
    monkeypatch.setenv("VAD_MODELS_DIR", str(tmp_path / "models"))
    app = start_app(fused_stem, monkeypatch)
    assert not app.exception and not app.error, (app.exception, app.error)
    assert metric(app, "Frames") == "180" and len(player_args(app)["score"]) == 180
    assert app.selectbox(key="model_picker").options == ["fused (fused: autoencoder + motion)"]
    assert intro_kind(app) == "fused"  # not "An autoencoder learned…"
    assert app.selectbox(key="heat_kind").options == ["appearance", "motion", "fused"]
    assert app.selectbox(key="heat_kind").value == "fused" and len(app.radio(key="view_mode").options) == 2  # redrawn
    assert "adapt_kind" not in [r.key for r in app.radio]  # a fused model is adapted as a fused model
    for page in ("lab", "inject", "live", "train", "batch", "events"):
        open_page(app, page)
        assert not app.exception and not app.error, (page, app.exception, app.error)


def test_adapting_an_autoencoder_offers_a_fused_model(analysis_stem, tmp_path, monkeypatch):
    monkeypatch.setenv("VAD_MODELS_DIR", str(tmp_path / "models"))
    app = start_app(analysis_stem, monkeypatch)
    kinds = app.radio(key="adapt_kind")
    assert kinds.options == list(ADAPT_KINDS.values()) and kinds.value == "autoencoder"  # the CLI's default first


@pytest.mark.parametrize(("kind", "flag"), [("fused", ["--kind", "fused"]), ("autoencoder", [])])
def test_an_adapt_request_runs_adapt_with_its_kind(tmp_path, kind, flag):
    data = tmp_path / "staged"
    (data / "train").mkdir(parents=True)
    (data / "train" / "cam.mp4").write_bytes(b"")
    request = TrainingRequest(name="cam", kind=kind, init=Path("models/base"), normal_ranges=((0, 60),), minutes=1)
    command = _train_command(request, data, tmp_path / "cam")
    assert command[:4] == [sys.executable, "-m", "vad_core", "adapt"] and "--normal=0:60" in command
    assert [a for a in command if a in ("--kind", "fused", "autoencoder")] == flag  # else: the adapted model's kind
