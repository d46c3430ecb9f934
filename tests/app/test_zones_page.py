"""Zones in the app: the model's zones file in the app's models folder is in force on the analysis page, which
scores as `analyze --zones` does; the panel clears and loads zones and the clip is analyzed again."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from app.zones import selection_polygons
from tests.helpers.apptest import metric, player_args, start_app
from tests.helpers.paths import BUNDLED, ZONES
from vad_core.scoring.zones import MAX_POINTS, read_zones

CART_PATH = ZONES / "test004_cart_path.json"


@pytest.fixture
def zoned_app(bundled, tmp_path, monkeypatch):
    monkeypatch.setenv("VAD_MODELS_DIR", str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    shutil.copy(CART_PATH, tmp_path / "models" / "ped2.zones.json")  # the app's zones for the bundled model
    app = start_app(bundled, monkeypatch)
    assert not app.exception, app.exception
    return app


def test_the_app_scores_with_the_models_zones_as_analyze_zones_does(zoned_app, cli, samples, tmp_path):
    assert metric(zoned_app, "Anomalous segments") == "0"
    clip = str(samples / "test" / "Test004.mp4")
    done = cli("analyze", clip, "--checkpoint", str(BUNDLED), "--zones", str(CART_PATH), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    expected = pd.read_csv(tmp_path / "scores.csv")["score"].to_numpy()
    assert np.abs(np.asarray(player_args(zoned_app)["score"]) - expected).max() < 1e-3


def test_clearing_the_zones_saves_the_file_and_analyzes_again(zoned_app, tmp_path):
    assert "Zones (1 ignore, 0 only-count)" in [e.label for e in zoned_app.expander]
    zoned_app.button(key="zones_clear").click().run()
    assert not zoned_app.exception, zoned_app.exception
    assert not read_zones(tmp_path / "models" / "ped2.zones.json")
    assert metric(zoned_app, "Anomalous segments") == "1"  # the cart counts again


def test_a_box_or_lasso_selection_becomes_polygons():
    selection = {
        "box": [{"x": [30.0, 10.0], "y": [5.0, 20.0]}],
        "lasso": [{"x": [0, 10, 10], "y": [0, 0, 10]}, {"x": list(range(1000)), "y": [i % 17 for i in range(1000)]}],
    }
    box, lasso, long = selection_polygons(selection)
    assert box == [(10.0, 5.0), (30.0, 5.0), (30.0, 20.0), (10.0, 20.0)]
    assert lasso == [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]
    assert len(long) == MAX_POINTS
    assert selection_polygons({"lasso": [{"x": [1, 1, 1], "y": [2, 2, 2]}]}) == []  # a click, not an area
