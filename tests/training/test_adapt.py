"""Fine-tuning: `train --init` starts from a checkpoint's weights; `adapt` fine-tunes on a clip's own normal frames."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from safetensors.numpy import load_file

from app.views.adapt import learned_runs
from vad_core.errors import BadInput
from vad_core.io.frame_ranges import format_ranges, parse_ranges
from vad_core.model.checkpoint import load_checkpoint
from vad_core.pipeline.analysis import analyze
from vad_core.pipeline.explain import explain_frame
from vad_core.training.train import default_normal_range

pytestmark = pytest.mark.slow


def first_loss(stdout: str) -> float:
    return next(json.loads(line)["loss"] for line in stdout.splitlines() if '"step"' in line)


def test_adapt_fine_tunes_the_parent_on_the_marked_frames(trained_tiny, samples, tmp_path, cli):
    clip = samples / "train" / "Train002.mp4"
    out = tmp_path / "adapted"
    done = cli("adapt", str(clip), "--normal", "0:60", "--normal", "100:140", "--checkpoint", str(trained_tiny.stem),
               "--minutes", "0.1", "--out", str(out), "--progress-json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["parent"]["model"] == "tiny" and len(card["parent"]["weights_sha256"]) == 64
    assert card["adaptation"] == {"clip": "Train002.mp4", "ranges": [[0, 60], [100, 140]], "minutes": 0.1}
    assert card["calibration"]["frames"] == 15 + 10  # the last quarter of each range is held out
    assert "normal frames 0:60, 100:140 of Train002.mp4" in card["scene_reference"]["scene"]
    parent, child = load_file(str(trained_tiny.stem) + ".safetensors"), load_file(str(out) + ".safetensors")
    assert parent.keys() == child.keys()
    assert any(not np.array_equal(parent[k], child[k]) for k in parent)  # it trained
    # starting from a trained model, the first step's loss is below a new model's on the same frames
    fresh = cli("train", "--kind", "autoencoder", "--data", str(samples), "--out", str(tmp_path / "fresh"),
                "--input-size", "35", "--epochs", "1", "--max-clips", "1", "--progress-json")  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr
    assert first_loss(done.stdout) < first_loss(fresh.stdout)
    model = load_checkpoint(out)
    chosen = card["scoring_selection"]["candidates"][0]["per_place"]
    assert model.scene is not None and chosen == model.scoring.per_place
    result = analyze(clip, model)
    assert learned_runs(result, model) == [(0, 59), (100, 139)]
    # the lab's step-by-step recomputation scores as the analysis does, per place or not
    assert explain_frame(result, 70).raw == pytest.approx(result.raw_error()[70], rel=1e-5)
    scale = model.scene.place_scale["motion"]
    forced = replace(result, scoring=replace(model.scoring, per_place=True))
    assert explain_frame(forced, 70).raw == pytest.approx(forced.raw_error()[70], rel=1e-5)
    assert forced.place_scale is scale


def test_train_init_keeps_the_parents_architecture(trained_tiny, samples, tmp_path, cli):
    out = tmp_path / "tuned"
    done = cli("train", "--kind", "autoencoder", "--data", str(samples), "--out", str(out),
               "--init", str(trained_tiny.stem), "--epochs", "1", "--max-clips", "1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["model"]["input_size"] == 35 and card["parent"]["checkpoint"] == str(trained_tiny.stem)
    clash = cli("train", "--kind", "autoencoder", "--data", str(samples), "--out", str(tmp_path / "x"),
                "--init", str(trained_tiny.stem), "--input-size", "131", "--epochs", "1")  # fmt: skip
    assert clash.returncode == 2 and "differs" in clash.stderr and "Traceback" not in clash.stderr


@pytest.mark.parametrize(
    ("normal", "message"),
    [("50:20", "is empty"), ("0:5000", "ends after the clip's last frame"), ("a:b", "not START:END")],
)
def test_adapt_refuses_bad_ranges_in_one_line(trained_tiny, samples, tmp_path, cli, normal, message):
    done = cli("adapt", str(samples / "train" / "Train001.mp4"), f"--normal={normal}", "--checkpoint",
               str(trained_tiny.stem), "--minutes", "0.1", "--out", str(tmp_path / "m"))  # fmt: skip
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_default_normal_range_is_thirty_seconds_or_half_the_clip():
    assert default_normal_range(200, 10.0) == (0, 100)
    assert default_normal_range(9000, 30.0) == (0, 900)
    assert default_normal_range(0, 25.0) == (0, 750)  # frame count unknown


def test_parse_ranges_reads_start_end_ranges_as_adapt_normal_does():
    assert parse_ranges("0:100, 150:200", 200) == ((0, 100), (150, 200))
    assert parse_ranges("7:8", 200) == ((7, 8),)
    for bad in ("", "10:5", "0:201", "x"):
        with pytest.raises(BadInput):
            parse_ranges(bad, 200)
    assert parse_ranges(format_ranges([(0, 100), (150, 200)]), 200) == ((0, 100), (150, 200))
