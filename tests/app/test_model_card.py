"""The sidebar's model card: the recorded evaluation beside its baselines, and a warning where a baseline scored as
well as the model or better (issue 29: the page must say when a model does not beat its own baselines)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers.apptest import start_app
from tests.helpers.paths import BUNDLED
from vad_core.training.evaluation import baseline_shortfalls

pytestmark = pytest.mark.slow

MODEL = {"auc_micro": 0.815, "auc_micro_video_norm": 0.916}


def test_shortfalls_are_the_figures_where_a_baseline_is_as_good_or_better():
    evaluation = {
        "ucsd_ped2": MODEL
        | {
            "baselines": {
                "frame_difference": {"auc_micro": 0.864, "auc_micro_video_norm": 0.870},
                "optical_flow": {"auc_micro": 0.755, "auc_micro_video_norm": 0.916},
            }
        },
        "older": MODEL,  # recorded before baselines existed: nothing to compare
    }
    found = [(s.baseline, s.figure) for s in baseline_shortfalls(evaluation)]
    assert found == [("frame_difference", "pooled"), ("optical_flow", "per-video")]  # a tie is not a win
    assert baseline_shortfalls({"x": MODEL | {"baselines": {"optical_flow": {"auc_micro": 0.5}}}}) == []


def test_the_sidebar_says_when_the_model_does_not_beat_its_baselines(tmp_path, monkeypatch):
    stem = tmp_path / "ped2"
    shutil.copy(BUNDLED.with_suffix(".safetensors"), stem.with_suffix(".safetensors"))
    card = json.loads(BUNDLED.with_suffix(".json").read_text())
    card["evaluation"] = {
        "ucsd_ped2": MODEL | {"baselines": {"frame_difference": {"auc_micro": 0.864, "auc_micro_video_norm": 0.870}}}
    }
    stem.with_suffix(".json").write_text(json.dumps(card))
    app = start_app(stem, monkeypatch)
    assert not app.exception, app.exception
    (warning,) = [w.value for w in app.sidebar.warning if "Not better than a baseline" in w.value]
    assert "On ucsd_ped2, frame difference scores 0.864 pooled frame AUC, this model 0.815." in warning
    (table,) = [m.value for m in app.sidebar.markdown if "| detector | pooled | per-video |" in m.value]
    assert "| this model | 0.815 | 0.916 |" in table and "| frame difference | 0.864 | 0.870 |" in table

    card["evaluation"]["ucsd_ped2"]["baselines"]["frame_difference"]["auc_micro"] = 0.8  # beaten on both figures
    beaten = tmp_path / "ped2_beats"  # another stem: the app keeps a loaded model per stem
    shutil.copy(BUNDLED.with_suffix(".safetensors"), beaten.with_suffix(".safetensors"))
    beaten.with_suffix(".json").write_text(json.dumps(card))
    app = start_app(beaten, monkeypatch)
    assert not app.exception, app.exception
    assert not [w for w in app.sidebar.warning if "Not better than a baseline" in w.value]
