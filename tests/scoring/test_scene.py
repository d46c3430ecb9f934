"""The scene check and per-place scoring: what calibration learns of a scene, and how a clip is judged by it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from vad_core.errors import BadInput
from vad_core.io.video import write_h264
from vad_core.model.checkpoint import load_checkpoint
from vad_core.pipeline.analysis import analyze
from vad_core.scoring.scene import FAMILIAR_LIMIT, SceneReference
from vad_core.scoring.scores import ScoringConfig, fit_place_scale, reduce_maps
from vad_core.training.injection import read_gray_clip


def test_place_scale_is_each_places_quantile_floored_at_the_median_place():
    rng = np.random.default_rng(0)
    local = rng.uniform(0, 1, (500, 4, 4)).astype(np.float32)
    local[:, 0, 0] *= 10  # a busy place (a tree in the wind)
    local[:, 3, 3] = 0  # a place where normal footage never moves (a wall)
    scale = fit_place_scale(local, 0.99)
    median = np.median(np.quantile(local, 0.99, axis=0))
    assert scale[0, 0] == pytest.approx(np.quantile(local[:, 0, 0], 0.99))
    assert scale[3, 3] == pytest.approx(median)  # floored: noise at a still place is not an anomaly
    assert (scale >= median - 1e-6).all()


def test_per_place_scoring_judges_each_place_by_its_own_normal():
    cfg = ScoringConfig(reduce="local_max", patch=3, per_place=True, smooth_sigma=0)
    scale = np.ones((12, 12), np.float32)
    scale[:6] = 10.0  # the top half moves ten times as much in normal footage
    top, bottom = np.zeros((1, 12, 12), np.float32), np.zeros((1, 12, 12), np.float32)
    top[0, 2, 5] = bottom[0, 9, 5] = 9.0  # the same error, once at a busy place, once at a quiet one
    assert reduce_maps(bottom, cfg, scale)[0] == pytest.approx(10 * reduce_maps(top, cfg, scale)[0])
    plain = ScoringConfig(reduce="local_max", patch=3, smooth_sigma=0)
    assert reduce_maps(top, plain)[0] == pytest.approx(reduce_maps(bottom, plain)[0])


def test_scene_reference_round_trips_and_refuses_malformed_entries():
    ref = SceneReference(
        {"motion": np.full((5, 5), 2.0, np.float32)}, {"appearance": 1.0, "latent": 2.0, "background": 3.0}, "x", 9
    )
    back = SceneReference.from_dict(json.loads(json.dumps(ref.to_dict())))
    assert back.reference == ref.reference and back.scene == "x" and back.frames == 9
    np.testing.assert_array_equal(back.place_scale["motion"], ref.place_scale["motion"])
    bad = ref.to_dict()
    bad["reference"]["latent"] = -1
    with pytest.raises(ValueError, match="positive"):
        SceneReference.from_dict(bad)
    bad = ref.to_dict() | {"place_scale": {"colour": bad["place_scale"]["motion"]}}
    with pytest.raises(ValueError, match="error kinds"):
        SceneReference.from_dict(bad)


def test_a_card_whose_place_scale_does_not_fit_the_model_is_refused(bundled, tmp_path):
    for suffix in (".safetensors", ".json"):
        shutil.copy(bundled.with_suffix(suffix), tmp_path / f"m{suffix}")
    card = json.loads((tmp_path / "m.json").read_text())
    scales = card["scene_reference"]["place_scale"]
    scales["motion"] = SceneReference({"motion": np.ones((7, 7))}, {}, "", 0).to_dict()["place_scale"]["motion"]
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(BadInput, match="place_scale does not match"):
        load_checkpoint(tmp_path / "m")


def test_bundled_card_has_a_scene_reference_fitted_on_held_out_normal_frames(bundled):
    model = load_checkpoint(bundled)
    assert model.scene is not None and model.scene.frames == model.calibration.frames
    assert set(model.scene.place_scale) == {"appearance", "motion"}
    assert all(s.shape == (131, 131) and (s > 0).all() for s in model.scene.place_scale.values())
    assert "ucsd_ped2" in model.scene.scene


@pytest.fixture(scope="module")
def negative_clip(samples, tmp_path_factory):
    """The Ped2 sample as a photographic negative: the same motion, a picture the model never saw."""
    frames = read_gray_clip(samples / "test" / "Test001.mp4")
    rgb = np.repeat((255 - frames)[..., None], 3, axis=-1)
    return write_h264(tmp_path_factory.mktemp("neg") / "negative.mp4", rgb, 10.0)


def test_scene_check_knows_its_own_scene_and_flags_another(bundled, samples, negative_clip):
    model = load_checkpoint(bundled)
    own = analyze(samples / "test" / "Test001.mp4", model).scene_check()
    assert own.familiar and own.score < FAMILIAR_LIMIT
    other = analyze(negative_clip, model).scene_check()
    assert not other.familiar and other.score > 2 * FAMILIAR_LIMIT
    assert "not meaningful" in other.reason and "ucsd_ped2" in other.reason


def test_cli_warns_once_and_reports_the_scene_in_json(bundled, negative_clip, tmp_path, cli):
    done = cli("analyze", str(negative_clip), "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "not meaningful" in warnings[0]
    scene = json.loads(done.stdout)["scene"]
    assert scene["familiar"] is False and scene["score"] > FAMILIAR_LIMIT and scene["reason"]
    assert json.loads((tmp_path / "out" / "segments.json").read_text())["scene"] == scene


def test_the_analysis_page_warns_above_everything_and_offers_to_adapt(bundled, negative_clip, monkeypatch):
    from tests.helpers.apptest import start_app

    app = start_app(bundled, monkeypatch)
    assert not app.exception and not any("does not know this scene" in w.value for w in app.warning)
    app.file_uploader(key="upload").set_value(("negative.mp4", negative_clip.read_bytes(), "video/mp4")).run()
    assert not app.exception
    (warning,) = [w for w in app.warning if "does not know this scene" in w.value]
    assert "not meaningful here" in warning.value and "ucsd_ped2" in warning.value
    app.button(key="adapt_open_button").click().run()
    ranges = next(t for t in app.text_input if t.label == "Normal frames")
    assert ranges.value == "0:90"  # the first half of the 180-frame clip, START:END as adapt --normal takes it


@pytest.mark.slow
def test_select_scoring_ranks_every_candidate_on_injected_anomalies(tiny_model, samples):
    from vad_core.io.video import list_clips
    from vad_core.training.selection import PROXY_KINDS, candidate_scorings, select_scoring

    report = select_scoring(tiny_model, list_clips(samples / "train"), count=1)
    assert report.calibration_clips == ["Train001.mp4"]
    assert report.injected_clips == [f"Train002.mp4+{kind}" for kind in PROXY_KINDS]
    assert len(report.candidates) == len(candidate_scorings()) == 36
    aucs = [c.auc_micro for c in report.candidates]
    assert aucs == sorted(aucs, reverse=True) and all(0 <= a <= 1 for a in aucs)
    assert report.best.auc_micro > 0.5  # an injected moving object is visible even to the tiny model
