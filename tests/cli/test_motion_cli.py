"""The motion detector through the command line: train --kind motion, then analyze --checkpoint writes the contract's
outputs as for the autoencoder."""

from __future__ import annotations

import csv
import json

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.motion_clips import FRAMES, motion_dataset
from vad_core.events.store import EventStore


def test_train_kind_motion_then_analyze_writes_the_contract_outputs(tmp_path):
    data = motion_dataset(tmp_path)
    trained = run_cli("train", "--kind", "motion", "--data", str(data), "--out", str(tmp_path / "m"), "--cell", "8")
    assert trained.returncode == 0, trained.stderr
    out = tmp_path / "out"
    done = run_cli(
        "analyze", str(data / "test" / "fast"), "--checkpoint", str(tmp_path / "m"), "--out", str(out), "--json"
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["frames"] == FRAMES and summary["segments"] and summary["scene"]["familiar"]
    with open(out / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["frame", "time_s", "error", "regularity", "score", "anomalous"] and len(rows) == FRAMES
    assert json.loads((out / "segments.json").read_text())["segments"]


def test_watch_with_a_motion_model_writes_the_contract_outputs_and_its_events(samples, motion_stem, tmp_path):
    out, url = tmp_path / "live", f"sqlite:///{tmp_path / 'events.db'}"
    clip = str(samples / "test" / "Test004.mp4")
    done = run_cli("watch", clip, "--checkpoint", str(motion_stem), "--out", str(out), "--events-url", url)
    assert done.returncode == 0, done.stderr
    with open(out / "scores.csv") as f:
        assert len(list(csv.DictReader(f))) == 180  # one row a frame
    segments = json.loads((out / "segments.json").read_text())["segments"]
    events = [e for e in EventStore.open(url).events() if e.kind == "anomaly"]
    assert len(events) == len(segments) >= 1 and {(e.model_kind, e.origin) for e in events} == {("motion", "watch")}


def test_evaluate_with_a_motion_model_reports_its_aucs(samples, motion_stem):
    done = run_cli("evaluate", "--data", str(samples), "--checkpoint", str(motion_stem), "--json")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert metrics["frames"] == 360 and 0.0 <= metrics["auc_micro"] <= 1.0 and 0.0 <= metrics["pixel_auc"] <= 1.0


@pytest.mark.parametrize(
    "command",
    [
        ["calibrate", "--data", "DATA"],
        ["select-scoring", "--data", "DATA"],
        ["adapt", "assets/samples/test/Test004.mp4", "--normal", "0:30", "--out", "OUT"],
    ],
)
def test_an_autoencoder_only_command_refuses_a_motion_model_in_one_line(samples, motion_stem, tmp_path, command):
    args = [str(samples) if a == "DATA" else str(tmp_path / "adapted") if a == "OUT" else a for a in command]
    done = run_cli(*args, "--checkpoint", str(motion_stem))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "is a motion detector" in done.stderr and "train --kind motion" in done.stderr
