"""The app's zones of each model: <models folder>/<model name>.zones.json, the file format of `--zones`
(vad_core.scoring.zones), in force wherever the app uses that model (the analysis and live pages). For a model in
the models folder that is its own STEM.zones.json; the bundled model's folder is never written.

    model = with_app_zones(load_model(stem))   # its zones replaced by the app's, where the app has saved some
    save_app_zones(model.name, zones)          # the page then analyzes again: the model's fingerprint has changed
    polygons = selection_polygons(event.selection)   # a plotly box or lasso selection as polygons
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from app.models import models_folder
from vad_core import Detector
from vad_core.model.checkpoint import save_zones, zones_path
from vad_core.scoring.zones import MAX_POINTS, Polygon, Zones, read_zones


def app_zones_path(model_name: str) -> Path:
    return zones_path(models_folder() / model_name)


def with_app_zones(model: Detector) -> Detector:
    """The model with the app's zones for it, if it has saved any (else the model's own, from beside its card)."""
    path = app_zones_path(model.name)
    return replace(model, zones=read_zones(path)) if path.is_file() else model


def save_app_zones(model_name: str, zones: Zones) -> Path:
    """Write the model's zones file in the models folder (no zones at all is a file too: it overrides the model's)."""
    models_folder().mkdir(parents=True, exist_ok=True)
    return save_zones(models_folder() / model_name, zones)


def selection_polygons(selection: dict) -> list[Polygon]:
    """The polygons of a plotly chart's selection state (st.plotly_chart on_select): each box as its 4 corners,
    each lasso as its path (at most MAX_POINTS points of it, evenly spread); shapes of fewer than 3 distinct
    points are left out."""
    polygons = []
    for box in selection.get("box", []):
        (x0, x1), (y0, y1) = sorted(box["x"]), sorted(box["y"])
        polygons.append([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    for lasso in selection.get("lasso", []):
        path = [(float(x), float(y)) for x, y in zip(lasso["x"], lasso["y"], strict=False)]
        keep = np.linspace(0, len(path) - 1, min(len(path), MAX_POINTS)).round().astype(int)  # a long drag
        polygons.append([path[i] for i in dict.fromkeys(keep.tolist())])
    return [p for p in polygons if len(set(p)) >= 3]
