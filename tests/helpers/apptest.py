"""The app without a browser (streamlit.testing AppTest): start it, open a page, read a metric and the player's
arguments; and wait for a background training job of app/training.py.

app = start_app(stem, monkeypatch); open_page(app, "inject"); metric(app, "Frames"); player_args(app)["score"]
trace_values(player_args(app)["figure"]["data"][0]["y"])   # a plot curve's values, whichever form plotly sent
intro_kind(app)                                            # "fused": the detector the analysis page's intro describes
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app.views.detector_kind import ANALYSIS_INTROS, CALIBRATED
from tests.helpers.paths import APP

TIMEOUT = 300  # the first run analyzes the default sample


def start_app(stem: Path | str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("VAD_CHECKPOINT", str(stem))
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    app.run()
    return app


def metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def intro_kind(app: AppTest) -> str:
    """The kind of detector whose words (app.views.detector_kind.ANALYSIS_INTROS) open the analysis page."""
    captions = {c.value for c in app.caption}
    (kind,) = [kind for kind, words in ANALYSIS_INTROS.items() if words + CALIBRATED in captions]
    return kind


def player_args(app: AppTest) -> dict:
    (component,) = app.get("component_instance")
    return json.loads(component.proto.json_args)


def trace_values(y: list | dict) -> np.ndarray:
    """A plotly trace's values: a list, or plotly's typed-array form {dtype, bdata}."""
    if isinstance(y, dict):
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])
    return np.asarray(y, dtype=float)


def open_page(app: AppTest, url_path: str) -> AppTest:
    app._page_hash = next(h for h, page in app._registered_pages.items() if page.get("url_pathname") == url_path)
    return app.run()


def wait_finished(job, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = job.snapshot()
        if snap.finished:
            return snap
        time.sleep(0.2)
    raise AssertionError(f"training did not finish within {timeout} s: {job.snapshot()}")
