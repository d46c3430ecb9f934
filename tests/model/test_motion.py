"""The motion detector: fitted on two short normal clips, it flags a fast object; its card round-trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers.motion_clips import FAST_FROM, FAST_TO, motion_dataset
from vad_core.model.card import read_card
from vad_core.model.checkpoint import load_checkpoint
from vad_core.model.motion.detector import MotionModel
from vad_core.pipeline.analysis import analyze
from vad_core.training.motion_fit import MotionTrainConfig, train_motion


@pytest.fixture(scope="module")
def motion_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("motion")
    data = motion_dataset(root)
    # persistence 5: the tiny clips' fast object lasts 12 of their 40 frames
    train_motion(MotionTrainConfig(str(data), str(root / "m"), cell=8, persistence=5, val_fraction=0.25))
    return root / "m", data


def test_a_fast_object_scores_above_the_normal_walkers(motion_model):
    stem, data = motion_model
    model = load_checkpoint(stem)
    assert isinstance(model, MotionModel) and model.cfg.frame_size == (96, 64)
    result = analyze(data / "test" / "fast", model)
    score = result.score
    inside, outside = score[FAST_FROM + 3 : FAST_TO - 3], np.r_[score[: FAST_FROM - 5], score[FAST_TO + 5 :]]
    assert inside.min() > 1.0 > outside.max()
    assert [s.start <= FAST_FROM + 2 and s.end >= FAST_TO - 2 for s in result.segments()] == [True]
    assert result.maps.keys() == {"motion"} and result.inputs.shape == (40, 131, 131)
    assert result.scene_check().familiar and result.health_segments() == []


def test_a_motion_card_round_trips_and_says_its_kind(motion_model):
    stem, _ = motion_model
    path = stem.with_suffix(".json")
    card = read_card(path)
    assert card.to_json() == path.read_bytes()
    assert card.kind == "motion" and card.detector == "motion" and json.loads(path.read_text())["kind"] == "motion"
    assert set(card.scene_reference.reference) == {"motion", "background"}


def test_a_frame_explained_gives_the_ratio_the_engine_scored(motion_model):
    from vad_core.io.video import stream_raw_gray
    from vad_core.model.motion.explain import explain_motion, flow_rgb

    stem, data = motion_model
    model, clip = load_checkpoint(stem), data / "test" / "fast"
    frames, raw = list(stream_raw_gray(clip)), analyze(clip, model).frame_errors["motion_local_max"]
    for t in (5, FAST_FROM + 6):
        steps = explain_motion(model, frames, t)
        assert steps.peak_score == pytest.approx(raw[t], rel=1e-5) and steps.flow.shape == (64, 96, 2)
    assert steps.peak_ratio > 1.0 and flow_rgb(steps.flow, 3.0).shape == (64, 96, 3)


def test_the_settings_are_chosen_on_the_e_t_the_engine_scores(motion_model):
    from vad_core.io.video import stream_raw_gray
    from vad_core.model.motion.features import clip_features
    from vad_core.training.motion_fit import frame_error

    stem, data = motion_model
    model, clip = load_checkpoint(stem), data / "test" / "fast"
    features = clip_features([model.prepare(gray) for gray in stream_raw_gray(clip)], model.cfg)
    np.testing.assert_allclose(frame_error(model.normal, features, model.cfg), analyze(clip, model).error, rtol=1e-6)


def test_a_frame_scores_the_same_in_any_block_and_a_glitch_of_one_frame_is_held_down(motion_model):
    """Each block reads the frames around it that persistence needs, so the block size changes nothing; and a place
    that jumps in one frame only is averaged over cfg.persistence frames instead of making an anomaly."""
    from dataclasses import replace

    from vad_core.io.video import stream_raw_gray
    from vad_core.model.motion.normal import persist

    stem, data = motion_model
    model = load_checkpoint(stem)
    frames = [model.prepare(f) for f in stream_raw_gray(data / "test" / "fast")]
    whole = np.concatenate([b.maps["motion"] for b in model.score_blocks(iter(frames), block_frames=len(frames))])
    for size in (1, 7, 10):
        blocks = list(model.score_blocks(iter(frames), block_frames=size))
        assert [len(b.inputs) for b in blocks][:-1] == [size] * (len(blocks) - 1)
        np.testing.assert_array_equal(np.concatenate([b.maps["motion"] for b in blocks]), whole)
    glitch = np.zeros((9, 2, 2), np.float32)
    glitch[4, 0, 0] = 5.0
    assert persist(glitch, 5)[:, 0, 0].max() == pytest.approx(1.0) and persist(glitch, 1)[4, 0, 0] == 5.0
    held, single = model, replace(model, cfg=replace(model.cfg, persistence=1))
    assert held.log_ratios(frames, 0, len(frames)).max() < single.log_ratios(frames, 0, len(frames)).max()


def test_train_chooses_how_far_places_borrow_their_normal_on_injected_anomalies(motion_model):
    """Without --scale-sigma, each candidate is fitted on half the normal clips and judged on walkers injected into
    the other half; the card keeps every candidate, best first, the baselines on the same anomalies and the verdict,
    and the model is fitted with the best. The fixture fixes the cell (8 px), so only scale_sigma is chosen."""
    from vad_core.training.motion_fit import SCALE_SIGMAS, setting_name

    stem, _ = motion_model
    card = read_card(stem.with_suffix(".json"))
    selection = card.scoring_selection
    assert sorted(c.name for c in selection.candidates) == sorted(setting_name(8, s) for s in SCALE_SIGMAS)
    ranks = [(c.auc_micro, c.auc_video_norm) for c in selection.candidates]
    assert ranks == sorted(ranks, reverse=True) and 0.5 < ranks[0][0] <= 1.0
    chosen = setting_name(card.model.cell, card.model.scale_sigma)
    assert selection.candidates[0].name == chosen and selection.proxies == ["walker"]
    assert set(selection.baselines) == {"frame_difference", "optical_flow"} and "pooled" in selection.verdict
    assert card.training.config["scale_sigma"] is None


def test_without_cell_or_scale_sigma_both_are_chosen_and_with_both_nothing_is(tmp_path):
    """The cell joins the choice when --cell is not given; a config that fixes both skips the choice altogether."""
    from vad_core.training.motion_fit import CELLS, SCALE_SIGMAS, candidate_settings

    both = MotionTrainConfig(data="d", out="o")
    assert candidate_settings(both) == [(c, s) for c in CELLS for s in SCALE_SIGMAS]
    assert candidate_settings(MotionTrainConfig(data="d", out="o", cell=8, scale_sigma=2.0)) == [(8, 2.0)]
    data = motion_dataset(tmp_path)
    train_motion(MotionTrainConfig(data=str(data), out=str(tmp_path / "m"), val_fraction=0.25))
    card = read_card(tmp_path / "m.json")
    assert len(card.scoring_selection.candidates) == len(CELLS) * len(SCALE_SIGMAS)
    assert card.model.cell in CELLS and card.model.scale_sigma in SCALE_SIGMAS
    train_motion(MotionTrainConfig(data=str(data), out=str(tmp_path / "f"), cell=8, scale_sigma=1.0))
    fixed = read_card(tmp_path / "f.json")
    assert fixed.scoring_selection is None and (fixed.model.cell, fixed.model.scale_sigma) == (8, 1.0)


def test_the_flow_is_never_taken_on_frames_thin_enough_to_crash_opencv():
    """DIS flow kills the process (SIGSEGV) on a 40 x 12 frame: a thin clip's flow size is scaled up to 32 px a
    side, and one too elongated for that within max_side is refused in one sentence."""
    from vad_core.errors import BadInput
    from vad_core.scoring.flow import MIN_FLOW_SIDE, flow_size

    assert flow_size(360, 240, 640) == (360, 240) and flow_size(1280, 720, 640) == (640, 360)
    assert flow_size(40, 12, 640) == (107, MIN_FLOW_SIDE) and flow_size(8, 8, 640) == (32, 32)
    with pytest.raises(BadInput, match="too thin for optical flow"):
        flow_size(4000, 12, 640)
