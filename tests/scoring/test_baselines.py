"""The model-free baselines: frame differencing and optical flow maps, scored per place as the model scores."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.paths import SAMPLES
from vad_core.io.video import write_h264
from vad_core.scoring.baselines import BaselineScorer, baseline_maps
from vad_core.scoring.metrics import auc
from vad_core.scoring.scores import ScoringConfig


@pytest.fixture(scope="module")
def moving_square(tmp_path_factory):
    """A bright textured 48-px square crossing a still textured 320 x 192 background at 4 px a frame, as a real
    H.264 clip (flat areas give flow nothing to hold on to; 8-px blocks survive the encoding)."""
    background = np.kron(np.random.default_rng(0).integers(20, 120, (24, 40)), np.ones((8, 8))).astype(np.uint8)
    square = np.kron(np.random.default_rng(1).integers(150, 255, (6, 6)), np.ones((8, 8))).astype(np.uint8)
    frames = []
    for t in range(12):
        frame = background.copy()
        frame[72:120, 40 + 4 * t : 88 + 4 * t] = square
        frames.append(np.repeat(frame[..., None], 3, axis=2))  # BGR, as OpenCV gives frames
    return write_h264(tmp_path_factory.mktemp("square") / "square.mp4", frames, fps=10)


def test_frame_difference_is_where_the_square_moved(moving_square):
    maps = baseline_maps("frame_difference", moving_square, 160)  # the model's size: half the width
    assert maps.shape == (12, 160, 160) and not maps[0].any()
    on_square = maps[6][40:56, 30:58].mean()  # rows 72-120 and columns 60-116 of the clip at frame 6, at 160 px
    assert on_square > 20 * maps[6][:30].mean() + 1e-6


def test_flow_speed_is_the_squares_speed_in_the_clips_pixels(moving_square):
    maps = baseline_maps("optical_flow", moving_square, 320)
    on_square = maps[6][130:190, 68:108].mean()  # inside the square at frame 6 (rows 72-120 are 120-200 here)
    assert 3.0 < on_square < 5.0  # 4 px a frame
    assert np.median(maps[6]) < 0.1  # the background stays still


def test_flow_on_normal_clips_finds_the_cart_in_test004(sample_labels):
    scoring = ScoringConfig(per_place=False)
    normal = [baseline_maps("optical_flow", clip, 131) for clip in sorted((SAMPLES / "train").glob("*.mp4"))]
    scorer = BaselineScorer.fit(normal, scoring)
    assert scorer.scoring.per_place and scorer.place_scale.shape == (131, 131)
    errors = scorer.frame_errors(baseline_maps("optical_flow", SAMPLES / "test" / "Test004.mp4", 131))
    truth = np.asarray(sample_labels["test"]["Test004"]["labels"])
    assert errors.shape == truth.shape
    assert auc(errors, truth) > 0.8
