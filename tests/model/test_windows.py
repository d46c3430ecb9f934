"""Sliding windows, input normalization and streamed inference, against hand-computed expectations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vad_core.cpu import decode_threads
from vad_core.errors import BadInput
from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.config import ModelConfig
from vad_core.model.inference import map_blocks, pick_device
from vad_core.model.preprocess import Normalizer
from vad_core.model.windows import gather_window, inference_starts, training_windows


@pytest.mark.parametrize(
    ("n_frames", "time_steps", "expected"),
    [
        (25, 10, [0, 10, 15]),  # last window aligned to the end
        (20, 10, [0, 10]),
        (10, 10, [0]),
        (11, 10, [0, 1]),
        (9, 10, []),
        (0, 10, []),
        (180, 10, list(range(0, 180, 10))),
        (7, 3, [0, 3, 4]),
    ],
)
def test_inference_starts_by_hand(n_frames, time_steps, expected):
    assert inference_starts(n_frames, time_steps) == expected


@pytest.mark.parametrize("n_frames", range(10, 64))
def test_inference_starts_cover_every_frame_once_but_the_tail(n_frames):
    starts = inference_starts(n_frames, 10)
    covered = np.zeros(n_frames, int)
    for s in starts:
        assert s >= 0 and s + 10 <= n_frames
        covered[s : s + 10] += 1
    assert (covered >= 1).all() and covered.max() <= 2
    assert (covered[: n_frames - 10] == 1).all()  # only the end-aligned last window overlaps


def test_training_windows_by_hand():
    # clip 0 has 20 frames, clip 1 has 10; T = 4.
    # stride 1: starts 0..16 (17) and 0..6 (7); stride 3 spans 10 frames: starts 0..10 (11) and 0 (1).
    idx = training_windows([20, 10], time_steps=4, strides=(1, 3))
    assert idx.shape == (17 + 11 + 7 + 1, 3)
    assert idx.dtype == np.int64
    rows = {tuple(r) for r in idx.tolist()}
    assert (0, 16, 1) in rows and (0, 17, 1) not in rows
    assert (0, 10, 3) in rows and (0, 11, 3) not in rows
    assert (1, 6, 1) in rows and (1, 0, 3) in rows and (1, 1, 3) not in rows
    lengths = np.array([20, 10])
    last = idx[:, 1] + 3 * idx[:, 2]
    assert (last <= lengths[idx[:, 0]] - 1).all()


def test_training_windows_skip_too_short_clips_and_empty():
    assert training_windows([5], time_steps=10).shape == (0, 3)
    assert training_windows([], time_steps=10).shape == (0, 3)
    idx = training_windows([12, 30], time_steps=10)  # default strides 1, 2, 3
    # clip 0: stride 1 -> 3 windows; stride 2 needs 19 frames -> none. clip 1: 21 + 12 + 3.
    assert len(idx) == 3 + 21 + 12 + 3
    assert set(idx[idx[:, 0] == 0, 2].tolist()) == {1}


def test_gather_window():
    frames = np.arange(20 * 2 * 2).reshape(20, 2, 2)
    w = gather_window(frames, start=2, stride=3, time_steps=4)
    assert w.shape == (4, 2, 2)
    assert w[:, 0, 0].tolist() == [8, 20, 32, 44]  # frames 2, 5, 8, 11
    assert np.array_equal(gather_window(frames, 0, 1, 10), frames[:10])
    assert np.array_equal(gather_window(frames, 19 - 9 * 2, 2, 10)[-1], frames[19])


# --- normalization --------------------------------------------------------------------------------


def test_normalizer_fit_apply_invert():
    frames = np.stack([np.full((3, 3), v, np.float32) for v in (0.2, 0.4, 0.6)])
    frames[:, 0, 0] = [0.0, 0.0, 0.3]
    norm = Normalizer.fit(frames)
    mean = frames.mean(0)
    assert np.allclose(norm.mean_frame, mean)
    assert norm.std == pytest.approx(float(np.sqrt(((frames - mean) ** 2).mean())), rel=1e-6)
    x = norm.apply(frames)
    assert x.dtype == np.float32
    assert np.allclose(x.mean(0), 0, atol=1e-6)
    assert float(np.sqrt((x**2).mean())) == pytest.approx(1.0, rel=1e-5)
    assert np.allclose(norm.invert(x), frames, atol=1e-6)


def test_normalizer_constant_frames_and_identity():
    norm = Normalizer.fit(np.full((4, 2, 2), 0.5, np.float32))
    assert norm.std > 0  # no division by zero on a static scene
    assert np.isfinite(norm.apply(np.zeros((2, 2), np.float32))).all()
    ident = Normalizer.identity(5)
    frame = np.random.default_rng(0).random((5, 5), dtype=np.float32)
    assert np.array_equal(ident.apply(frame), frame)


# --- streamed inference ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_net():
    torch.manual_seed(0)
    cfg = ModelConfig(input_size=35, encoder_channels=(8, 4), lstm_channels=(4, 2, 4), time_steps=4)
    return SpatioTemporalAE(cfg).eval()


@pytest.mark.parametrize("n_frames", [4, 7, 16, 21, 37])
def test_map_blocks_tiles_windows_like_inference_starts(tiny_net, n_frames):
    rng = np.random.default_rng(n_frames)
    frames = rng.random((n_frames, 35, 35), dtype=np.float32)
    norm = Normalizer(np.full((35, 35), 0.5, np.float32), 0.25)
    blocks = list(map_blocks(tiny_net, norm, iter(frames), lambda x, r: (x, r), batch_windows=2))
    inputs = np.concatenate([x for x, _ in blocks])
    recons = np.concatenate([r for _, r in blocks])
    assert len(inputs) == len(recons) == n_frames
    assert np.allclose(inputs, (frames - 0.5) / 0.25)
    # Expected: each frame reconstructed within the first window of inference_starts that covers it.
    expected = np.full_like(recons, np.nan)
    with torch.inference_mode():
        for s in inference_starts(n_frames, 4):
            window = torch.from_numpy(inputs[s : s + 4])[None, :, None]
            fresh = np.isnan(expected[s : s + 4, 0, 0])
            expected[s : s + 4][fresh] = tiny_net(window)[0, :, 0].numpy()[fresh]
    assert np.allclose(recons, expected, atol=1e-5)


def test_map_blocks_needs_one_window(tiny_net):
    frames = np.zeros((3, 35, 35), np.float32)
    with pytest.raises(BadInput, match="at least 4"):
        list(map_blocks(tiny_net, Normalizer.identity(35), iter(frames), lambda x, r: r))


def test_pick_device():
    assert pick_device("cpu").type == "cpu"
    assert pick_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(BadInput):
        pick_device("warp-drive")
    if not torch.cuda.is_available():
        with pytest.raises(BadInput, match="CUDA"):
            pick_device("cuda")


def test_decode_threads_one_where_the_workers_fill_the_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert decode_threads("cpu") == 1  # the CPU workers share out every core
    assert decode_threads("cuda") is None  # 2 workers, 14 cores left: FFmpeg's own threads
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert decode_threads("cuda") == 1
