"""vad_core.pipeline.explain: a frame's intermediate values, recomputed from its error map, equal the curves; a fused
detector's autoencoder part, run alone on the frames it scored, scores what it scored inside."""

from __future__ import annotations

import numpy as np
import pytest

from vad_core import analyze, load_checkpoint
from vad_core.io.limits import FrameSelection
from vad_core.pipeline.explain import autoencoder_part, explain_frame, gaussian_weights, heat_rgb
from vad_core.pipeline.render import HEAT_RANGE, PreviewFrames
from vad_core.scoring.scores import smooth


@pytest.fixture(scope="module")
def analysis(analysis_model, samples):
    return analyze(samples / "test" / "Test004.mp4", analysis_model)


@pytest.mark.parametrize("where", [0, 1, 0.5, -1])
def test_explained_values_equal_the_analysis(analysis, where):
    t = int(where * (analysis.frame_count - 1)) if isinstance(where, float) else where % analysis.frame_count
    steps = explain_frame(analysis, t)
    assert steps.raw == pytest.approx(analysis.raw_error()[t], rel=1e-6)
    assert steps.error == pytest.approx(analysis.error[t], rel=1e-12)
    assert steps.smoothed_by_hand == pytest.approx(analysis.error[t], rel=1e-9)
    assert steps.regularity == pytest.approx(analysis.regularity[t], rel=1e-12)
    assert steps.score == pytest.approx(analysis.score[t], rel=1e-12)
    assert steps.score == pytest.approx(steps.error / analysis.tau)
    assert steps.regularity == pytest.approx(1 - (steps.error - steps.error_min) / steps.error_max)
    assert steps.error_min == pytest.approx(analysis.error.min()) and steps.error_max == pytest.approx(
        analysis.error.max()
    )
    for reduce, value in steps.reductions.items():
        assert value == pytest.approx(analysis.frame_errors[f"{steps.kind}_{reduce}"][t], rel=1e-6)
    assert steps.variants == {k: pytest.approx(float(v[t])) for k, v in analysis.frame_errors.items()}


def test_the_reductions_by_hand(analysis):
    steps = explain_frame(analysis, analysis.frame_count // 2)
    assert steps.reductions["sum"] == pytest.approx(steps.error_map.astype(np.float64).sum(), rel=1e-6)
    assert steps.reductions["local_max"] == pytest.approx(steps.local_map.max())
    assert steps.top_count == round(steps.top_fraction * steps.pixels)
    top = np.sort(steps.local_map.ravel())[-steps.top_count :]
    assert steps.reductions["local_top"] == pytest.approx(top.mean(), rel=1e-5)
    assert steps.top_cut == pytest.approx(top[0]) and steps.top_mask.sum() >= steps.top_count
    assert steps.local_map.shape == steps.error_map.shape == analysis.inputs.shape[1:]


def test_segment_membership_at_threshold_one(analysis):
    segments = analysis.segments()
    for t in (0, analysis.frame_count - 1, *(s.start for s in segments)):
        steps = explain_frame(analysis, t)
        inside = [s for s in segments if s.start <= t <= s.end]
        assert steps.threshold == 1.0 and steps.segment == (inside[0] if inside else None)


def test_gaussian_weights_are_scipys_kernel():
    impulse = np.zeros(41)
    impulse[20] = 1.0
    w = gaussian_weights(3.0)
    assert len(w) == 2 * 12 + 1 and w.sum() == pytest.approx(1.0)
    assert np.allclose(smooth(impulse, 3.0)[20 - 12 : 20 + 13], w[::-1])
    assert gaussian_weights(0.0).tolist() == [1.0]


def test_heat_rgb_scale_and_errors(analysis):
    image = heat_rgb(np.array([[0.0, HEAT_RANGE * 2.0, 1e9]]), unit=2.0)
    assert image.shape == (1, 3, 3) and image.dtype == np.uint8
    assert (image[0, 1] == image[0, 2]).all()  # the top of the scale is saturated
    with pytest.raises(ValueError, match="unknown colormap"):
        heat_rgb(np.zeros((2, 2)), 1.0, "rainbow")
    with pytest.raises(IndexError, match="outside the clip"):
        explain_frame(analysis, analysis.frame_count)


def test_a_fused_models_autoencoder_part_alone_scores_what_it_scored_inside(fused_stem, samples):
    model = load_checkpoint(fused_stem, device="cpu")
    preview = PreviewFrames()  # the frames the app keeps with a clip: here Ped2's own 360 x 240
    selection = FrameSelection(10, 110, 2)
    fused = analyze(samples / "test" / "Test004.mp4", model, selection=selection, on_frame=preview)
    part = autoencoder_part(preview.finish(), model, fused)
    assert np.array_equal(part.raw_error(), fused.frame_errors["autoencoder_error"])  # bit for bit
    assert part.scoring == model.autoencoder.scoring and part.tau == model.autoencoder.calibration.tau
    assert part.selection == fused.selection and part.source_frame(1) == 12
    assert explain_frame(part, 20).raw == pytest.approx(part.raw_error()[20], rel=1e-6)
