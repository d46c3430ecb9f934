"""The bundled Ped2 model on the full UCSD Ped2 dataset (../shared/data/ucsd_ped2): the acceptance floors.

Skipped when the dataset is absent, except under CI=true where that is a failure (see conftest.ped2).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.dataset, pytest.mark.slow]


def test_evaluate_reaches_the_acceptance_floors(ped2, bundled, cli):
    proc = cli("evaluate", "--data", str(ped2), "--json", threads=None)  # the bundled default: ped2-fused
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    labels = json.loads((ped2 / "labels.json").read_text())
    assert metrics["frames"] == sum(v["num_frames"] for v in labels["test"].values()) == 2010
    # measured 0.972 pooled / 0.951 per-video / 0.986 pixel (the bundled autoencoder: 0.815 / 0.916 / 0.957); the
    # per-video floor sits under issue 29's 0.95 by the spread another CPU's float rounding may give
    assert metrics["auc_micro_video_norm"] >= 0.945, metrics
    assert metrics["auc_micro"] >= 0.95, metrics
    assert metrics["pixel_auc"] is not None and 0.97 <= metrics["pixel_auc"] <= 1.0, metrics
    assert 0.0 <= metrics["eer"] < 0.5, metrics


def test_analyze_test004_finds_the_labelled_anomaly(ped2, bundled, cli, tmp_path):
    labels = np.asarray(json.loads((ped2 / "labels.json").read_text())["test"]["Test004"]["labels"])
    anomalous = np.flatnonzero(labels)  # frames 30..179, 0-based
    proc = cli("analyze", str(ped2 / "test" / "Test004.mp4"), "--out", str(tmp_path), "--json", threads=None)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    table = pd.read_csv(tmp_path / "scores.csv")
    assert summary["frames"] == len(table) == len(labels) == 180
    assert any(seg["start"] <= anomalous[-1] and seg["end"] >= anomalous[0] for seg in summary["segments"]), summary[
        "segments"
    ]
    assert table["anomalous"].to_numpy()[anomalous].any()
