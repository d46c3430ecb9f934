"""A motion detector through batch: its stored analysis (no reconstructions, no latent) reads back as it was
written, and a batch run with a motion checkpoint writes its outputs and stores its findings as the motion
kind's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np

from tests.helpers.batch import batch_env
from tests.helpers.paths import REPO, SAMPLES
from vad_core.batch.stored import read_analysis, write_analysis
from vad_core.events.store import EventStore
from vad_core.model.checkpoint import load_checkpoint
from vad_core.pipeline.analysis import analyze


def test_a_stored_motion_analysis_reads_back_as_it_was_written(motion_stem, tmp_path):
    model = load_checkpoint(motion_stem)
    result = analyze(SAMPLES / "test" / "Test004.mp4", model)
    read = read_analysis(write_analysis(result, tmp_path / "stored"), model)
    assert read.latent is None and read.maps.keys() == {"motion"}
    np.testing.assert_allclose(read.score, result.score, atol=1e-6)
    np.testing.assert_array_equal(read.recons, result.inputs)  # a motion detector redraws nothing


def test_batch_with_a_motion_checkpoint_writes_its_outputs_and_events(motion_stem, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(SAMPLES / "test" / "Test004.mp4", inputs / "short.mp4")
    url = f"sqlite:///{tmp_path / 'events.db'}"
    command = [sys.executable, "-m", "vad_core", "batch", str(inputs), "--out", str(tmp_path / "out"), "--json",
               "--workers", "1", "--checkpoint", str(motion_stem), "--events-url", url]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, env=batch_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert [r["video"] for r in summary["done"]] == ["short.mp4"]
    assert list((tmp_path / "out").rglob("scores.csv")) and list((tmp_path / "out").rglob("segments.json"))
    events = EventStore.open(url).events()
    assert events and {e.model_kind for e in events} == {"motion"} and {e.origin for e in events} == {"batch"}
