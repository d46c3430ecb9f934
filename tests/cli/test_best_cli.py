"""train's default kind, best: the three kinds fitted on the bundled sample clips, the best on injected anomalies
kept under --out (a byte copy of its candidate, named anew, its card holding the ranking), every candidate beside
it; a budget too small for the three is refused before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers.cli import run_cli
from tests.helpers.paths import SAMPLES
from vad_core.model.card import read_card
from vad_core.model.checkpoint import load_checkpoint
from vad_core.pipeline.analysis import analyze

TINY = ("--data", str(SAMPLES), "--input-size", "35", "--epochs", "1")


@pytest.mark.slow
def test_train_by_default_keeps_the_best_of_three_kinds(tmp_path):
    out = tmp_path / "cam"
    done = run_cli("train", *TINY, "--out", str(out))
    assert done.returncode == 0, done.stderr
    card = read_card(out.with_suffix(".json"))
    ranking = card.detector_selection
    names = [c.name for c in ranking.candidates]
    assert len(names) == 3 and names[0].startswith(card.detector) and "chosen: " + card.detector in done.stdout
    assert {n.split()[0] for n in names} == {"autoencoder", "motion", "fused"}
    figures = [(c.auc_micro, c.auc_video_norm) for c in ranking.candidates]
    assert figures == sorted(figures, reverse=True)
    assert set(ranking.baselines) == {"frame_difference", "optical_flow"} and "beat" in ranking.verdict
    # the figures are the fused trial's: its best rule, and each part alone on the same injected anomalies
    fused = read_card(tmp_path.joinpath("cam-fused.json")).scoring_selection
    by_name = {c.name: (c.auc_micro, c.auc_video_norm) for c in ranking.candidates}
    assert by_name[f"fused ({fused.candidates[0].name})"] == (
        fused.candidates[0].auc_micro,
        fused.candidates[0].auc_video_norm,
    )
    for part, kind in (("motion part", "motion"), ("autoencoder part", "autoencoder")):
        assert by_name[kind] == (fused.baselines[part]["auc_micro"], fused.baselines[part]["auc_video_norm"])
    # the kept model is its candidate's weights under its own name, and scores a clip exactly as the candidate does
    chosen = tmp_path / f"cam-{card.detector}"
    assert out.with_suffix(".safetensors").read_bytes() == chosen.with_suffix(".safetensors").read_bytes()
    assert card.name == "cam" and json.loads(chosen.with_suffix(".json").read_text())["name"] == chosen.name
    # the candidates fuse again from the command line into the same choice of rule
    parts = ("--checkpoint", str(tmp_path / "cam-autoencoder"), "--motion", str(tmp_path / "cam-motion"))
    again = run_cli("train", "--kind", "fused", "--data", str(SAMPLES), "--out", str(tmp_path / "again"), *parts)
    assert again.returncode == 0, again.stderr
    assert read_card(tmp_path.joinpath("again.json")).scoring_selection.candidates == fused.candidates
    clip = SAMPLES / "test" / "Test004.mp4"
    kept, candidate = analyze(clip, load_checkpoint(out)), analyze(clip, load_checkpoint(chosen))
    np.testing.assert_array_equal(kept.score, candidate.score)


@pytest.mark.parametrize(("option", "value"), [("--minutes", "1"), ("--resume", None)])
def test_train_refuses_a_budget_too_small_or_a_resume_before_any_work(tmp_path, option, value):
    asked = (option,) if value is None else (option, value)
    done = run_cli("train", "--data", str(SAMPLES), "--out", str(tmp_path / "cam"), *asked)
    assert done.returncode == 2 and option in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())
