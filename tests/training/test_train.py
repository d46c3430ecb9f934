"""A real (short) training run on the sample clips: the loss falls, the checkpoint reloads and resumes."""

from __future__ import annotations

import json
import math
import shutil

import cv2
import numpy as np
import pytest
import torch

from vad_core.errors import BadInput
from vad_core.io.video import list_clips, stream_raw_gray, write_h264
from vad_core.model.checkpoint import load_checkpoint, save_checkpoint
from vad_core.model.config import ModelConfig
from vad_core.pipeline.analysis import analyze
from vad_core.scoring.scores import MOTION_FORMS, ScoringConfig
from vad_core.training.calibration import calibrate, recalibrate, split_clips
from vad_core.training.train import TrainConfig, _resume_path, preset_size, train

pytestmark = pytest.mark.slow


def test_loss_falls(trained_tiny):
    losses = np.array(trained_tiny.result.losses)
    assert np.isfinite(losses).all()
    first, last = losses[:5].mean(), losses[-5:].mean()
    assert last < 0.9 * first, f"loss did not fall: first {first:.3f}, last {last:.3f}"


def test_steps_follow_the_windows_of_the_training_part(trained_tiny, sample_labels):
    result = trained_tiny.result
    total = sum(v["num_frames"] for v in sample_labels["train"].values())  # 120 + 150
    held_out = result.calibration.frames
    assert 0.13 * total <= held_out <= 0.17 * total  # val_fraction 0.15 of each clip's tail
    # one epoch of stride-3 windows of T=10: each clip of L frames gives L - 27 windows; batch 4
    windows = (total - held_out) - 2 * 27
    assert result.steps == math.ceil(windows / 4) == len(result.losses)
    assert result.frames_seen == result.steps * 4 * 10
    assert not result.cancelled


def test_calibration_fields(trained_tiny):
    cal = trained_tiny.result.calibration
    assert cal.quantile == 0.99
    assert cal.tau > 0 and cal.pixel_tau > 0
    qs = [cal.quantiles[k] for k in ("0.5", "0.9", "0.95", "0.99", "0.999", "1.0")]
    assert qs == sorted(qs) and cal.quantiles["0.99"] == pytest.approx(cal.tau)
    card = json.loads(trained_tiny.stem.with_suffix(".json").read_text())
    assert card["calibration"]["tau"] == pytest.approx(cal.tau)
    for key in ("tau", "pixel_tau", "quantile", "frames", "quantiles"):
        assert key in card["calibration"]
    assert card["model"]["input_size"] == 35 and card["preprocess"]["input_size"] == 35
    assert card["preprocess"]["mean_frame_subtracted"] is True and card["preprocess"]["std"] > 0
    # per-place scales and the motion form are chosen by anomalies injected into the normal clips
    choice = {key: card["scoring"][key] for key in ("per_place", "place_quantile", "motion")}
    assert card["scoring"] == ScoringConfig(**choice).to_dict()
    candidates = card["scoring_selection"]["candidates"]
    tried = {(c["per_place"], c["place_quantile"], c["motion"]) for c in candidates}
    assert tried == {(on, q, form) for on, q in ((False, 0.99), (True, 0.99), (True, 1.0)) for form in MOTION_FORMS}
    assert {key: candidates[0][key] for key in choice} == choice
    aucs = [(c["auc_micro"], c["auc_video_norm"]) for c in candidates]
    assert aucs == sorted(aucs, reverse=True)
    # the model-free baselines on the same injected anomalies, and train's one-line verdict on them
    baselines = card["scoring_selection"]["baselines"]
    assert set(baselines) == {"frame_difference", "optical_flow"}
    assert all(0.0 <= auc <= 1.0 for figures in baselines.values() for auc in figures.values())
    assert trained_tiny.result.verdict == card["scoring_selection"]["verdict"]
    assert trained_tiny.result.verdict.startswith("on anomalies injected into its normal clips the model scores")
    assert card["training"]["steps"] == trained_tiny.result.steps
    assert card["training"]["clips"] == ["Train001.mp4", "Train002.mp4"]


def test_checkpoint_reloads_reproduces_outputs_and_its_calibration(trained_tiny, tmp_path, samples):
    loaded = load_checkpoint(trained_tiny.stem, device="cpu")
    # The loaded weights are the calibrated ones: recalibrating on the same held-out tails gives the same tau.
    seen, held_out = split_clips(list_clips(samples / "train"), 35, 0.15)
    again = calibrate(loaded, held_out, 0.99)
    assert again.tau == pytest.approx(trained_tiny.result.calibration.tau, rel=1e-5)
    assert again.frames == trained_tiny.result.calibration.frames
    # A save/load round trip of the trained model gives bit-identical outputs.
    save_checkpoint(tmp_path / "copy", loaded.net, loaded.normalizer, loaded.card)
    copy = load_checkpoint(tmp_path / "copy", device="cpu")
    x = torch.from_numpy(loaded.normalizer.apply(held_out[0][:10]))[None, :, None]
    with torch.inference_mode():
        assert torch.equal(copy.net(x), loaded.net(x))
    assert np.array_equal(copy.normalizer.mean_frame, loaded.normalizer.mean_frame)
    assert copy.calibration == loaded.calibration and copy.scoring == loaded.scoring
    # The saved weights are the trained ones: they reconstruct frames seen in training better than a fresh model.
    fresh = type(loaded.net)(loaded.cfg).eval()
    windows = [clip[s : s + 10] for clip in seen for s in range(0, len(clip) - 9, 10)]
    x = torch.from_numpy(loaded.normalizer.apply(np.stack(windows)))[:, :, None]
    with torch.inference_mode():
        assert torch.mean((loaded.net(x) - x) ** 2) < 0.95 * torch.mean((fresh(x) - x) ** 2)


def test_resume_continues_exactly_where_it_stopped(tmp_path, samples):
    # Train001 only, half held out: 60 frames give 33 stride-3 windows, 9 steps an epoch; two epochs.
    def cfg(out, **kw):
        return TrainConfig(
            data=str(samples),
            out=str(out),
            input_size=35,
            epochs=2,
            strides=(3,),
            max_clips=1,
            val_fraction=0.5,
            bf16=False,
            **kw,
        )

    straight = train(cfg(tmp_path / "straight"), show_progress=False)
    assert straight.steps == 18

    class Crash(Exception):
        pass

    def crash_at_13(progress):
        if progress.step == 13:
            raise Crash  # like a killed process, in the second epoch: the last resume state is from step 12

    with pytest.raises(Crash):
        train(cfg(tmp_path / "resumed", save_every_s=0.0), on_step=crash_at_13, show_progress=False)
    resume_file = _resume_path(str(tmp_path / "resumed"))
    assert resume_file.is_file()
    resumed = train(cfg(tmp_path / "resumed", resume=True), show_progress=False)

    assert resumed.steps == straight.steps == len(resumed.losses)
    # Same windows in the same order with the same weights and optimizer state: the same losses.
    assert np.allclose(resumed.losses, straight.losses, rtol=1e-4, atol=1e-6)
    assert resumed.calibration.tau == pytest.approx(straight.calibration.tau, rel=1e-3)
    assert not resume_file.exists()  # a finished run cleans up its resume state


def test_stop_request_saves_a_usable_checkpoint(tmp_path, samples):
    steps = []
    cfg = TrainConfig(data=str(samples), out=str(tmp_path / "m"), input_size=35, minutes=5, bf16=False, max_clips=1)
    result = train(cfg, on_step=lambda p: steps.append(p), should_stop=lambda: len(steps) >= 3, show_progress=False)
    assert result.cancelled and result.steps == 3
    assert [p.step for p in steps] == [1, 2, 3] and all(0 < p.fraction <= 1 for p in steps)
    assert load_checkpoint(result.checkpoint).card.training.cancelled is True


def test_the_fast_preset_reduces_small_footage_as_far_as_ped2s():
    assert [preset_size("fast", rows) for rows in (240, 480, 1080)] == [131, 131, 131]
    assert preset_size("fast", 158) == 83  # Ped1's 238 x 158: 158 * 131 / 240 = 86, nearest 8n+19
    assert preset_size("fast", 20) == 27  # the smallest size the encoder takes
    assert [preset_size("paper", rows) for rows in (100, 240, 1080)] == [227, 227, 227]
    sizes = [preset_size("fast", rows) for rows in range(1, 400)]
    assert sizes == sorted(sizes)
    for size in set(sizes):
        ModelConfig(input_size=size)  # every size the preset gives inverts exactly


def test_a_new_model_takes_the_preset_size_of_its_footage(tmp_path, samples):
    """Ped2's frames shrunk to 158 rows: the fast preset trains at 83 px, and the card says so."""
    clip = list_clips(samples / "train")[0]
    small = [cv2.resize(gray, (238, 158), interpolation=cv2.INTER_AREA) for gray in stream_raw_gray(clip)]
    (tmp_path / "clips").mkdir()
    write_h264(tmp_path / "clips" / "small.mp4", [np.dstack([gray] * 3) for gray in small], fps=10)
    cfg = TrainConfig(data=str(tmp_path / "clips"), out=str(tmp_path / "m"), minutes=0.02, select_scoring=False)
    result = train(cfg, show_progress=False)
    model = load_checkpoint(result.checkpoint)
    assert model.cfg.input_size == 83 and model.card.preprocess.input_size == 83
    assert model.normalizer.mean_frame.shape == (83, 83)


def test_train_bad_inputs(tmp_path, samples):
    with pytest.raises(BadInput, match="budget"):
        train(TrainConfig(data=str(samples), out=str(tmp_path / "m")), show_progress=False)
    with pytest.raises(BadInput, match="preset"):
        train(TrainConfig(data=str(samples), out=str(tmp_path / "m"), preset="huge", epochs=1), show_progress=False)
    with pytest.raises(BadInput):
        train(TrainConfig(data=str(tmp_path / "none"), out=str(tmp_path / "m"), epochs=1), show_progress=False)


def test_recalibrate_rewrites_the_card_for_a_new_scoring(trained_tiny, tmp_path, samples):
    for suffix in (".safetensors", ".json"):
        shutil.copy(trained_tiny.stem.with_suffix(suffix), tmp_path / f"copy{suffix}")
    stem = tmp_path / "copy"
    scoring = ScoringConfig(kind="appearance", reduce="sum", smooth_sigma=0.0)
    cal = recalibrate(stem, samples, scoring, val_fraction=1.0, quantile=0.9)
    assert cal.frames == 120 + 150 and cal.quantile == 0.9
    reloaded = load_checkpoint(stem)
    assert reloaded.scoring == scoring and reloaded.calibration == cal
    # tau is the 0.9 quantile of the unsmoothed frame-wide appearance sums over both whole clips.
    sums = []
    for clip in list_clips(samples / "train"):
        sums.append(analyze(clip, reloaded).frame_errors["appearance_sum"])
    assert cal.tau == pytest.approx(float(np.quantile(np.concatenate(sums), 0.9)), rel=1e-5)


def test_the_verdict_says_which_baselines_the_model_beats():
    from vad_core.training.selection import Candidate, ScoringChoice

    model = Candidate(ScoringConfig(), auc_micro=0.9, auc_video_norm=0.85, auc_macro=0.9)
    choice = ScoringChoice(model.scoring, [model], {"frame_difference": (0.8, 0.8), "optical_flow": (0.95, 0.7)})
    assert choice.verdict().endswith(
        "(frame difference 0.800 / 0.800, optical flow 0.950 / 0.700): it beats frame difference only"
    )
    every = ScoringChoice(model.scoring, [model], {"frame_difference": (0.8, 0.8)})
    assert every.verdict().endswith("it beats every baseline")
    none = ScoringChoice(model.scoring, [model], {"optical_flow": (0.9, 0.9)})  # a tie on pooled is not a win
    assert none.verdict().endswith("it does not beat its baselines")
