"""The fused detector: the bundled autoencoder and a motion part fitted on the two Ped2 sample clips, its rule chosen on
anomalies injected into their held-out tails; saved, loaded back and run through the one engine on Test004 (a cart
from frame 30 or so). Its card round-trips and is refused when tampered with."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.helpers.paths import BUNDLED
from vad_core.errors import BadInput
from vad_core.model.card import read_card
from vad_core.model.checkpoint import LoadedModel, load_autoencoder, load_checkpoint
from vad_core.model.fused import FusedModel
from vad_core.model.motion.detector import MotionModel
from vad_core.pipeline.analysis import analyze
from vad_core.scoring.fusion import FUSION_RULES, FusionConfig, fuse
from vad_core.training import detector_choice
from vad_core.training.detector_choice import analyze_clip, inject_clips, rank_detectors, rescored
from vad_core.training.injection import DETECTOR_PROXY_KINDS, read_gray_clip


@pytest.fixture(scope="module")
def fused(fused_stem) -> FusedModel:
    return load_checkpoint(fused_stem)


@pytest.fixture(scope="module")
def test004(fused, samples):
    return analyze(samples / "test" / "Test004.mp4", fused)


def test_the_rules_combine_calibrated_scores_as_written():
    a, m = np.array([0.0, 1.0, 4.0]), np.array([1.0, 1.0, 1.0])
    assert fuse(a, m, FusionConfig("max")).tolist() == [1.0, 1.0, 4.0]
    assert fuse(a, m, FusionConfig("mean")).tolist() == [0.5, 1.0, 2.5]
    assert fuse(a, m, FusionConfig("product")).tolist() == [0.0, 1.0, 2.0]  # the geometric mean
    assert fuse(a, m, FusionConfig("weighted", 0.25)).tolist() == [0.75, 1.0, 1.75]


def test_a_fused_model_loads_back_with_both_parts(fused, fused_stem):
    assert isinstance(fused, FusedModel) and fused.card.detector == "fused" and fused.name == "fused"
    assert isinstance(fused.autoencoder, LoadedModel) and isinstance(fused.motion, MotionModel)
    assert fused.fusion.rule in FUSION_RULES and fused.fusion == fused.card.model
    assert fused.motion.cfg.frame_size == (360, 240) and fused.cfg.input_size == 131 and fused.window == 10
    bundled = load_checkpoint(BUNDLED)  # the bundled autoencoder, the test fused model's part
    assert all(np.array_equal(v, fused.weights()[f"autoencoder.{k}"]) for k, v in bundled.weights().items())
    assert fused.calibration.frames == 30 + 38  # the last quarter of each sample clip, held out of the motion fit


def test_a_fused_analysis_has_both_parts_maps_scores_segments_and_checks(fused, test004, samples):
    result = test004
    assert result.maps.keys() == {"appearance", "motion", "fused"} and result.inputs.shape == (180, 131, 131)
    assert result.recons is not result.inputs and result.latent is not None  # the autoencoder's, kept
    assert result.error.shape == result.score.shape == (180,) and np.all(np.isfinite(result.score))
    before, cart = result.score[:25], result.score[40:]
    assert cart.mean() > 1.0 > before.max()
    segments = result.segments()
    assert segments and 25 <= segments[0].start <= 40 and segments[0].end >= 150
    assert result.scene_check().familiar and result.health_segments() == []
    # each part scored the same frames as it scores them alone: the engine ran both, not a copy of either
    clip = samples / "test" / "Test004.mp4"
    alone = analyze(clip, fused.autoencoder)
    assert np.allclose(result.frame_errors["autoencoder_error"], alone.raw_error())
    assert np.array_equal(result.maps["appearance"], alone.maps["appearance"])
    flow = analyze(clip, fused.motion)
    assert np.allclose(result.frame_errors["motion_error"], flow.raw_error())
    assert np.array_equal(result.maps["motion"], flow.maps["motion"])


def test_the_fused_card_round_trips_and_records_every_rule(fused, fused_stem):
    path = fused_stem.with_suffix(".json")
    card = read_card(path)
    assert card.to_json() == path.read_bytes()
    doc = json.loads(path.read_text())
    assert (
        doc["kind"] == "fused"
        and doc["scoring"]["kind"] == "fused"
        and set(doc["model"])
        == {
            "rule",
            "weight",
            "input_size",
        }
    )
    assert [doc["parts"][p]["kind"] for p in ("autoencoder", "motion")] == ["autoencoder", "motion"]
    assert card.parts.autoencoder.calibration == fused.autoencoder.calibration
    selection = card.scoring_selection
    names = [c.name for c in selection.candidates]
    assert sorted(names) == ["max", "mean", "product"] and names[0] == fused.fusion.name
    figures = [(c.auc_micro, c.auc_video_norm) for c in selection.candidates]
    assert figures == sorted(figures, reverse=True) and all(0 <= f <= 1 for pair in figures for f in pair)
    assert set(selection.baselines) == {"autoencoder part", "motion part", "frame_difference", "optical_flow"}
    assert selection.proxies == list(DETECTOR_PROXY_KINDS) and "pooled" in selection.verdict
    assert card.parent.model == "ped2" and len(card.parent.weights_sha256) == 64


def _tamper_card(stem, change) -> None:
    path = stem.with_suffix(".json")
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["model"].update(rule="median"), "model.rule is 'median'"),
        (lambda d: d["model"].update(weight=2), "model.weight is 2"),
        (lambda d: d.pop("parts"), "a fused card needs its parts"),
        (lambda d: d["parts"].pop("motion"), "a fused card's parts are autoencoder, motion"),
        (lambda d: d["parts"]["motion"].update(kind="autoencoder"), r"parts\.motion: unknown model config keys"),
        (lambda d: d["parts"]["autoencoder"]["calibration"].update(tau=-1), r"parts\.autoencoder: calibration\.tau"),
        (lambda d: d["scoring"].update(kind="motion"), "a fused card, and only one, scores kind 'fused'"),
        (lambda d: d["model"].update(input_size=83), "the autoencoder part's is 131"),
    ],
)
def test_a_tampered_fused_card_is_refused_naming_the_field(fused_stem, tmp_path, change, match):
    stem = tmp_path / "f"
    for suffix in (".json", ".safetensors"):
        stem.with_suffix(suffix).write_bytes(fused_stem.with_suffix(suffix).read_bytes())
    _tamper_card(stem, change)
    with pytest.raises(BadInput, match=match):
        load_checkpoint(stem)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda t: t.update({"motion.motion.scale": torch.ones(2, 3, 4)}), r"\(its motion part\) holds"),
        (lambda t: t.update({"autoencoder.decoder.layers.1.deconv.bias": torch.zeros(2)}), "size mismatch for decoder"),
        (lambda t: t.update({"stray": torch.zeros(1)}), "unexpected stray"),
        (lambda t: t.pop("motion.preprocess.mean_frame"), r"\(its motion part\) holds"),
        (lambda t: t.pop("autoencoder.encoder.layers.0.conv.weight"), "missing encoder.layers.0.conv.weight"),
    ],
)
def test_fused_weights_that_do_not_fit_their_part_cards_are_refused_before_any_tensor_is_read(
    fused_stem, tmp_path, monkeypatch, change, match
):
    stem = tmp_path / "f"
    stem.with_suffix(".json").write_bytes(fused_stem.with_suffix(".json").read_bytes())
    tensors = load_file(str(fused_stem.with_suffix(".safetensors")))
    change(tensors)
    save_file(tensors, str(stem.with_suffix(".safetensors")))

    def never(*args, **kwargs):
        raise AssertionError("a tensor was read before the header was checked")

    monkeypatch.setattr("vad_core.model.checkpoint.load_file", never)
    with pytest.raises(BadInput, match=match):
        load_checkpoint(stem)


def test_load_autoencoder_gives_fine_tuning_the_part_and_refuses_the_rest_in_one_line(fused_stem):
    assert isinstance(load_autoencoder(fused_stem, purpose="fine-tuning", part=True), LoadedModel)
    with pytest.raises(BadInput) as err:
        load_autoencoder(fused_stem, purpose="calibrate")
    message = str(err.value)
    assert "is a fused detector" in message and "--kind fused" in message and "\n" not in message


def test_rank_detectors_ranks_every_rule_from_one_engine_pass_per_clip(fused, samples, monkeypatch):
    clip = read_gray_clip(samples / "train" / "Train002.mp4")[-40:]  # a few dozen normal frames
    normal, injected = [clip], inject_clips([clip])
    assert [labels.sum() > 0 for _, labels in injected] == [True] * len(DETECTOR_PROXY_KINDS)  # one of each kind
    passes = []
    monkeypatch.setattr(detector_choice, "analyze_clip", lambda m, c, n: passes.append(n) or analyze_clip(m, c, n))
    candidates = {rule: fused.with_rule(FusionConfig(rule)) for rule in ("max", "mean", "product")}
    ranked = rank_detectors(candidates, normal, injected)
    assert sorted(c.name for c in ranked) == ["max", "mean", "product"] and len(passes) == 1 + len(injected)
    assert [(c.auc_micro, c.auc_video_norm) for c in ranked] == sorted(
        ((c.auc_micro, c.auc_video_norm) for c in ranked), reverse=True
    )
    # a rule applied again to a pass's part errors is the engine's own score under that rule
    frames = injected[0][0]
    shared = rescored(candidates["product"], analyze_clip(candidates["max"], frames))
    assert np.allclose(shared.score, analyze_clip(candidates["product"], frames).score)


def test_a_fused_analysis_is_stored_and_read_back_as_batch_keeps_it(fused, test004, tmp_path):
    from vad_core.batch.stored import read_analysis, write_analysis

    write_analysis(test004, tmp_path / "stored")
    again = read_analysis(tmp_path / "stored", fused)
    assert again.maps.keys() == test004.maps.keys() and np.array_equal(again.score, test004.score)
    assert again.segments() == test004.segments() and again.scene_check() == test004.scene_check()
