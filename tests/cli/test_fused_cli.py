"""The fused detector through the command line: adapt --kind fused writes one for a Ped1 clip, analyze and evaluate
take one as any checkpoint, and the commands that rewrite an autoencoder's card refuse one in a line."""

from __future__ import annotations

import csv
import json
import os

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.paths import PED1
from vad_core.model.checkpoint import load_checkpoint
from vad_core.model.fused import FusedModel
from vad_core.pipeline.analysis import analyze

PED1_CLIP = PED1 / "test" / "Test003.mp4"  # 200 frames of 238 x 158; a cyclist comes in after frame 100 or so


@pytest.fixture(scope="module")
def ped1_clip():
    if not PED1_CLIP.is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{PED1_CLIP} not found (required when CI=true)")
        pytest.skip(f"{PED1_CLIP} not found")
    return PED1_CLIP


def _done(stdout: str) -> dict:
    return next(json.loads(line)["done"] for line in stdout.splitlines() if line.startswith('{"done"'))


@pytest.mark.slow
def test_adapt_kind_fused_on_a_ped1_clip_writes_a_fused_model(ped1_clip, tmp_path):
    out = tmp_path / "cam"
    done = run_cli("adapt", str(ped1_clip), "--normal", "0:80", "--kind", "fused", "--minutes", "0.05",
                   "--out", str(out), "--progress-json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = _done(done.stdout)
    assert summary["checkpoint"] == str(out) + ".safetensors" and "fusion rule:" in summary["verdict"]
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["kind"] == "fused" and card["adaptation"] == {
        "clip": "Test003.mp4",
        "ranges": [[0, 80]],
        "minutes": 0.05,
    }
    assert card["parent"]["model"] == "ped2-fused" and card["calibration"]["frames"] == 20  # the range's last quarter
    autoencoder, motion = card["parts"]["autoencoder"], card["parts"]["motion"]
    assert autoencoder["adaptation"]["ranges"] == [[0, 80]] and autoencoder["name"] == "cam"  # fine-tuned on them
    assert motion["model"]["frame_size"] == [238, 158] and motion["training"]["clips"] == ["Test003.mp4[0:80]"]
    assert "normal frames 0:80 of Test003.mp4" in card["scene_reference"]["scene"]
    model = load_checkpoint(out)
    assert isinstance(model, FusedModel)
    result = analyze(ped1_clip, model)
    assert result.frame_count == 200 and result.maps.keys() == {"appearance", "motion", "fused"}
    assert result.score[:60].max() < result.score.max()  # the marked normal frames are not its peak


@pytest.mark.slow
def test_adapting_a_fused_model_makes_a_fused_model_by_default(fused_stem, samples, tmp_path):
    out = tmp_path / "again"
    done = run_cli("adapt", str(samples / "train" / "Train001.mp4"), "--normal", "0:60", "--checkpoint",
                   str(fused_stem), "--minutes", "0.05", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}.safetensors" in done.stdout and "fusion rule:" in done.stdout
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["kind"] == "fused" and card["parent"]["model"] == "fused"  # its autoencoder part, fine-tuned


@pytest.mark.slow
def test_train_kind_fused_on_another_scene_prints_its_rule_and_warns_of_the_foreign_autoencoder(ped1_clip, tmp_path):
    data = tmp_path / "ped1"
    data.mkdir()
    (data / "Train001.mp4").symlink_to(PED1 / "train" / "Train001.mp4")  # one normal clip of Ped1, 200 frames
    done = run_cli("train", "--kind", "fused", "--data", str(data), "--out", str(tmp_path / "f"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"wrote {tmp_path / 'f'}.safetensors" and lines[1].startswith("fusion rule: ")
    assert "scores" in lines[2] and "autoencoder part" in lines[2] and "motion part" in lines[2]
    assert "the autoencoder ped2 does not know this scene" in lines[3]  # the bundled one: Ped2's
    card = json.loads((tmp_path / "f.json").read_text())
    assert card["kind"] == "fused" and card["model"]["rule"] == lines[1].split()[2]
    assert card["parts"]["motion"]["model"]["frame_size"] == [238, 158] and card["calibration"]["frames"] == 50


def test_analyze_with_a_fused_model_writes_the_contract_outputs(fused_stem, samples, tmp_path):
    out = tmp_path / "out"
    clip = samples / "test" / "Test004.mp4"
    done = run_cli("analyze", str(clip), "--checkpoint", str(fused_stem), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["frames"] == 180 and summary["segments"] and summary["scene"]["familiar"]
    with open(out / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["frame", "time_s", "error", "regularity", "score", "anomalous"] and len(rows) == 180


def test_evaluate_with_a_fused_model_reports_its_aucs_and_baselines(fused_stem, samples):
    done = run_cli("evaluate", "--data", str(samples), "--checkpoint", str(fused_stem), "--json")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert metrics["frames"] == 360 and 0.0 <= metrics["auc_micro"] <= 1.0 and 0.0 <= metrics["pixel_auc"] <= 1.0
    assert set(metrics["baselines"]) == {"frame_difference", "optical_flow"}


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["calibrate", "--data", "DATA", "--checkpoint", "FUSED"], "is a fused detector"),
        (["select-scoring", "--data", "DATA", "--checkpoint", "FUSED"], "is a fused detector"),
        (["train", "--kind", "fused", "--data", "DATA", "--out", "OUT", "--init", "FUSED"], "not --init"),
    ],
)
def test_a_command_that_cannot_take_a_fused_model_says_so_in_one_line(fused_stem, samples, tmp_path, command, message):
    swap = {"DATA": str(samples), "FUSED": str(fused_stem), "OUT": str(tmp_path / "x")}
    done = run_cli(*(swap.get(a, a) for a in command))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr
