"""The latent view: projection maths, the projection in the model card, latents per frame, and (slow) on real data."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from vad_core.errors import BadInput
from vad_core.io.video import read_clip
from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.checkpoint import LoadedModel, load_checkpoint
from vad_core.model.config import ModelConfig
from vad_core.model.inference import window_positions
from vad_core.model.preprocess import Normalizer
from vad_core.pipeline.analysis import analyze
from vad_core.pipeline.engine import analyze_frames
from vad_core.scoring.latent import LATENT_GRID, LatentProjection, trajectory
from vad_core.scoring.scores import ScoringConfig
from vad_core.training.calibration import recalibrate


def test_fit_and_project_shapes_and_axes():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(60, 1)) * 5.0 * np.eye(1, 24, 3) + rng.normal(size=(60, 24)) * 0.1  # variance on axis 3
    proj = LatentProjection.fit(base.astype(np.float16))
    assert proj.mean.shape == (1, 24) and proj.components.shape == (2, 24) and proj.explained.shape == (2,)
    assert proj.frames == 60 and proj.dims == 24 and proj.places == 1
    assert abs(proj.components[0, 3]) > 0.99  # the first axis is the high-variance direction
    assert 1.0 >= proj.explained[0] >= proj.explained[1] >= 0.0
    xy = proj.project(base)
    assert xy.shape == (60, 2) and xy.dtype == np.float32
    assert np.allclose(xy.mean(axis=0), 0.0, atol=1e-3)  # centred on the fitted frames' mean


def test_each_window_place_is_centred_on_its_own_mean():
    """A ConvLSTM output offset by the frame's place in its window (a fresh state every T frames) is taken out."""
    rng = np.random.default_rng(4)
    places = window_positions(95, 10)
    offset = rng.normal(size=(10, 16)) * 3.0  # far larger than the scene's own variation
    walk = np.cumsum(rng.normal(size=(95, 16)) * 0.1, axis=0)  # a smooth path through latent space
    z = walk + offset[places]
    proj = LatentProjection.fit(z, places, 10)
    assert proj.mean.shape == (10, 16) and proj.places == 10
    xy = proj.project(z, places)
    steps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    assert steps.max() < 1.0  # no jump at the window boundaries
    plain = LatentProjection.fit(z).project(z)
    assert np.linalg.norm(np.diff(plain, axis=0), axis=1).max() > 3.0  # uncentred, it jumps every window
    with pytest.raises(BadInput, match="window places"):
        proj.project(z, np.full(95, 10))


def test_window_positions_follow_the_tiling():
    assert window_positions(23, 10).tolist() == [*range(10), *range(10), 7, 8, 9]
    assert window_positions(20, 10).tolist() == [*range(10), *range(10)]
    assert window_positions(10, 10).tolist() == list(range(10))


def test_card_round_trip_is_exact_and_json():
    rng = np.random.default_rng(1)
    proj = LatentProjection.fit(rng.normal(size=(20, 32)), window_positions(20, 10), 10)
    doc = json.loads(json.dumps(proj.to_dict()))
    again = LatentProjection.from_dict(doc)
    assert np.array_equal(again.mean, proj.mean) and np.array_equal(again.components, proj.components)
    assert again.frames == 20 and np.allclose(again.explained, proj.explained, atol=1e-6)


def test_bad_inputs_are_refused():
    with pytest.raises(BadInput, match="at least 3 frames"):
        LatentProjection.fit(np.zeros((2, 8)))
    proj = LatentProjection.fit(np.random.default_rng(2).normal(size=(10, 8)))
    with pytest.raises(BadInput, match="8 dimensions"):
        proj.project(np.zeros((4, 9)))
    doc = proj.to_dict()
    with pytest.raises(ValueError, match="components"):
        LatentProjection.from_dict(doc | {"components": {"shape": [3, 8], "float32_base64": "AAAA"}})
    with pytest.raises(ValueError, match="mean"):
        LatentProjection.from_dict(doc | {"mean": [1, 2]})


def test_trajectory_uses_the_model_projection_else_the_clips_normal_frames():
    rng = np.random.default_rng(3)
    latent = rng.normal(size=(30, 16)).astype(np.float16)
    score = np.where(np.arange(30) < 20, 0.5, 3.0)
    normal = LatentProjection.fit(rng.normal(size=(50, 16)), window_positions(50, 10), 10)
    places = window_positions(30, 10)
    own = trajectory(latent, places, score, normal)
    assert own.points.shape == (30, 2) and "50 held-out normal frames" in own.source
    assert np.allclose(own.points, normal.project(latent, places))
    fallback = trajectory(latent, places, score, None)
    assert "20 frames with c < 1" in fallback.source
    assert np.allclose(fallback.points, LatentProjection.fit(latent[:20], places[:20], 10).project(latent, places))
    misfit = LatentProjection.fit(rng.normal(size=(5, 9)))
    assert "this clip" in trajectory(latent, places, score, misfit).source
    assert "all of this clip" in trajectory(latent, places, np.full(30, 2.0), None).source


def test_training_and_recalibration_store_the_projection(trained_tiny, tiny_model, tmp_path, samples):
    card = json.loads(trained_tiny.stem.with_suffix(".json").read_text())
    entry = card["latent_projection"]
    assert entry["frames"] == trained_tiny.result.calibration.frames  # fitted on the calibration's frames
    dims = tiny_model.cfg.lstm_channels[1] * LATENT_GRID**2  # the middle ConvLSTM's channels, pooled
    assert tiny_model.projection is not None and tiny_model.projection.dims == dims
    for suffix in (".safetensors", ".json"):
        shutil.copy(trained_tiny.stem.with_suffix(suffix), tmp_path / f"copy{suffix}")
    before = json.loads((tmp_path / "copy.json").read_text())
    recalibrate(tmp_path / "copy", samples, val_fraction=0.15)
    after = json.loads((tmp_path / "copy.json").read_text())
    assert after["latent_projection"]["frames"] == after["calibration"]["frames"]
    assert after["calibration"]["tau"] == pytest.approx(before["calibration"]["tau"], rel=1e-5)
    assert load_checkpoint(tmp_path / "copy").projection.dims == dims


def test_a_card_without_projection_still_loads_and_falls_back(trained_tiny, tmp_path, samples):
    shutil.copy(trained_tiny.stem.with_suffix(".safetensors"), tmp_path / "old.safetensors")
    card = json.loads(trained_tiny.stem.with_suffix(".json").read_text())
    del card["latent_projection"]
    (tmp_path / "old.json").write_text(json.dumps(card))
    old = load_checkpoint(tmp_path / "old", device="cpu")
    assert old.projection is None
    result = analyze(samples / "train" / "Train001.mp4", old)
    path = result.latent_trajectory()
    assert path.points.shape == (result.frame_count, 2) and "this clip" in path.source
    card["latent_projection"] = {"mean": "broken"}
    (tmp_path / "old.json").write_text(json.dumps(card))
    with pytest.raises(BadInput, match="latent_projection"):
        load_checkpoint(tmp_path / "old", device="cpu")


def test_latents_have_one_row_per_frame_and_match_the_model(tiny_model, samples):
    frames = read_clip(samples / "train" / "Train001.mp4", tiny_model.cfg.input_size)[:23]  # two windows + 3 frames
    result = analyze_frames(iter(frames), tiny_model)
    dims = tiny_model.projection.dims
    assert result.latent.shape == (23, dims) and result.latent.dtype == np.float16
    assert result.latent_position.tolist() == window_positions(23, 10).tolist()
    assert result.latent_projection is tiny_model.projection
    assert result.latent_trajectory().points.shape == (23, 2)
    # The last partial window is the final 10 frames; its last 3 rows are the latents of frames 20-22,
    # as the plain (reference, not fast-path) model computes them.
    x = torch.from_numpy(tiny_model.normalizer.apply(frames[13:]))[None, :, None]  # (1, 10, 1, S, S)
    with torch.inference_mode():
        _, mid = tiny_model.net.set_fast_path(False).forward_with_bottleneck(x)
    tiny_model.net.set_fast_path(True)
    pooled = torch.nn.functional.adaptive_avg_pool2d(mid[0], LATENT_GRID).flatten(1).numpy()  # (10, D)
    assert np.allclose(result.latent[20:].astype(np.float32), pooled[7:], atol=2e-3)
    assert not np.allclose(result.latent[19].astype(np.float32), pooled[6], atol=2e-3)  # frame 19 came earlier


def test_without_a_temporal_block_the_latent_is_the_encoder_output(samples):
    cfg = ModelConfig(input_size=35, temporal="none")
    torch.manual_seed(0)
    model = LoadedModel.uncalibrated(
        SpatioTemporalAE(cfg).eval(), Normalizer.identity(35), ScoringConfig(per_place=False), "no-lstm"
    )
    frames = read_clip(samples / "train" / "Train001.mp4", 35)[:20]
    result = analyze_frames(iter(frames), model)
    assert result.latent.shape == (20, cfg.encoder_channels[-1] * LATENT_GRID**2)
    assert result.latent_trajectory().points.shape == (20, 2)


def step_lengths(points: np.ndarray) -> np.ndarray:
    """Distance from each frame's point to the next one's."""
    return np.linalg.norm(np.diff(points, axis=0), axis=1)


@pytest.mark.slow
def test_the_trajectory_jumps_inside_the_anomaly_on_test004(bundled, samples, sample_labels):
    model = load_checkpoint(bundled, device="cpu")
    assert model.projection is not None, "the bundled card has no latent_projection: run the calibrate command"
    result = analyze(samples / "test" / "Test004.mp4", model)
    path = result.latent_trajectory()
    assert "normal frames" in path.source
    labels = np.asarray(sample_labels["test"]["Test004"]["labels"])
    steps = step_lengths(path.points)
    inside = labels[1:] & labels[:-1]  # steps between two labelled frames
    outside = (1 - labels[1:]) & (1 - labels[:-1])
    # Measured: 0.070 inside the cart's 150 frames, 0.050 in the 30 normal ones (ratio 1.39).
    assert steps[inside == 1].mean() > 1.2 * steps[outside == 1].mean()
    # Centring each window place removes the jump at every window start (measured 0.11 there, 0.063 elsewhere;
    # without it 0.86 and 0.12).
    boundary = result.latent_position[1:] == 0
    assert steps[boundary].mean() < 2.5 * steps[~boundary].mean()
