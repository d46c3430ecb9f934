"""Anomaly injection: labels, determinism, which frames each kind changes, bad configs, the CLI, the model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vad_core.errors import BadInput
from vad_core.training.injection import KINDS, InjectionConfig, inject, inject_file, labels_path, speedup_indices


def _clip(n: int = 40, height: int = 48, width: int = 64, seed: int = 1) -> np.ndarray:
    """Frames that all differ: noise plus a per-frame gray ramp, in 30..200 so that shifts never clip."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(30, 170, (n, height, width)).astype(np.int16) + np.arange(n)[:, None, None]
    return frames.astype(np.uint8)


@pytest.mark.parametrize("kind", KINDS)
def test_shape_dtype_labels_and_input_untouched(kind):
    frames = _clip()
    before = frames.copy()
    out, labels = inject(frames, InjectionConfig(kind, 10, 25, seed=3))
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert labels.dtype == np.int8 and labels.shape == (len(frames),)
    assert labels.tolist() == [1 if 10 <= t < 25 else 0 for t in range(len(frames))]  # end exclusive
    assert np.array_equal(frames, before)
    assert np.array_equal(out[:10], frames[:10])  # nothing before the range changes


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_frames(kind):
    frames = _clip()
    a, _ = inject(frames, InjectionConfig(kind, 5, 30, seed=7))
    b, _ = inject(frames, InjectionConfig(kind, 5, 30, seed=7))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("kind", ["moving_object", "static_intruder"])
def test_spatial_kinds_change_only_the_range_and_the_seed_matters(kind):
    frames = _clip()
    out, _ = inject(frames, InjectionConfig(kind, 10, 25, seed=0))
    changed = [t for t in range(len(frames)) if not np.array_equal(out[t], frames[t])]
    assert changed == list(range(10, 25))
    other, _ = inject(frames, InjectionConfig(kind, 10, 25, seed=1))
    assert not np.array_equal(out, other)


def test_moving_object_moves_and_static_intruder_stays():
    frames = np.full((30, 60, 90), 128, np.uint8)
    moving, _ = inject(frames, InjectionConfig("moving_object", 5, 20, seed=2, polarity="bright"))
    static, _ = inject(frames, InjectionConfig("static_intruder", 5, 20, seed=2, polarity="bright"))

    def center_x(frame: np.ndarray) -> float:
        mask = np.abs(frame.astype(int) - 128) > 20
        return float(np.nonzero(mask)[1].mean())

    assert abs(center_x(moving[5]) - center_x(moving[6])) > 1.0  # default speed: width / 40 px a frame
    assert center_x(static[5]) == center_x(static[19])
    assert np.array_equal(static[5], static[19])


def test_freeze_holds_the_first_frame_of_the_range():
    frames = _clip()
    out, _ = inject(frames, InjectionConfig("freeze", 10, 20))
    assert all(np.array_equal(out[t], frames[10]) for t in range(10, 20))
    assert np.array_equal(out[20:], frames[20:])  # the clip resumes at its own frame 20


def test_reverse_plays_the_range_backward():
    frames = _clip()
    out, _ = inject(frames, InjectionConfig("reverse", 10, 20))
    assert np.array_equal(out[10:20], frames[19:9:-1])
    assert np.array_equal(out[20:], frames[20:])


def test_brightness_shifts_the_range_only():
    frames = _clip()
    out, _ = inject(frames, InjectionConfig("brightness", 10, 20, delta=40))
    assert np.array_equal(out[10:20].astype(int), frames[10:20].astype(int) + 40)
    assert np.array_equal(out[20:], frames[20:])
    dark, _ = inject(np.full((5, 4, 4), 10, np.uint8), InjectionConfig("brightness", 0, 5, delta=-60))
    assert dark.max() == 0  # clipped, not wrapped


def test_speedup_drops_frames_in_the_range_and_continues_the_clip():
    frames = _clip(n=60)
    out, _ = inject(frames, InjectionConfig("speedup", 10, 20, factor=3))
    assert np.array_equal(out[:10], frames[:10])
    assert np.array_equal(out[10:20], frames[10:40:3])  # every third frame
    assert np.array_equal(out[20:40], frames[40:60])  # then on at normal speed from where it got to


def test_speedup_bounces_at_the_clip_end_instead_of_holding_or_cutting():
    idx = speedup_indices(12, 4, 8, 3)
    assert idx.tolist() == [0, 1, 2, 3, 4, 7, 10, 9, 6, 5, 4, 3]
    assert np.all(np.abs(np.diff(idx)) <= 3)  # no jump larger than the speed-up itself


@settings(max_examples=50, deadline=None)
@given(n=st.integers(2, 200), data=st.data())
def test_speedup_indices_stay_in_the_clip(n, data):
    start = data.draw(st.integers(0, n - 1))
    end = data.draw(st.integers(start + 1, n))
    factor = data.draw(st.integers(2, 16))
    idx = speedup_indices(n, start, end, factor)
    assert idx.shape == (n,) and idx.min() >= 0 and idx.max() <= n - 1
    assert idx[:start].tolist() == list(range(start))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "explosion", "start": 0, "end": 5},
        {"kind": "freeze", "start": -1, "end": 5},
        {"kind": "freeze", "start": 5, "end": 5},
        {"kind": "freeze", "start": 5, "end": 6},
        {"kind": "reverse", "start": 5, "end": 6},
        {"kind": "speedup", "start": 0, "end": 5, "factor": 1},
        {"kind": "brightness", "start": 0, "end": 5, "delta": 0},
        {"kind": "brightness", "start": 0, "end": 5, "delta": 300},
        {"kind": "moving_object", "start": 0, "end": 5, "size": 2},
        {"kind": "moving_object", "start": 0, "end": 5, "speed": 0},
        {"kind": "moving_object", "start": 0, "end": 5, "polarity": "pink"},
    ],
)
def test_bad_configs_are_refused(kwargs):
    with pytest.raises(BadInput):
        InjectionConfig(**kwargs)


def test_bad_frames_or_range_are_refused():
    with pytest.raises(BadInput, match="past the clip"):
        inject(_clip(n=20), InjectionConfig("freeze", 10, 21))
    with pytest.raises(BadInput, match="uint8"):
        inject(_clip().astype(np.float32), InjectionConfig("freeze", 1, 5))
    with pytest.raises(BadInput, match="uint8"):
        inject(np.zeros((10, 8, 8, 3), np.uint8), InjectionConfig("freeze", 1, 5))


def test_inject_file_writes_a_playable_clip_and_labels(samples, tmp_path):
    out = tmp_path / "injected.mp4"
    labels = inject_file(samples / "train" / "Train001.mp4", out, InjectionConfig("reverse", 30, 50))
    from vad_core.io.labels import parse_labels
    from vad_core.training.injection import read_gray_clip

    frames = read_gray_clip(out)
    assert frames.shape == (120, 240, 360)
    doc = json.loads(labels_path(out).read_text())
    assert doc["anomalous_intervals"] == [[31, 50]] and doc["injection"]["kind"] == "reverse"
    parsed = parse_labels(labels_path(out).read_bytes(), "labels.json", "injected", 120)
    assert np.array_equal(parsed, labels) and labels.sum() == 20


def test_cli_bad_input_exits_2(cli, samples, tmp_path):
    clip = str(samples / "train" / "Train001.mp4")
    for args in (
        ["--kind", "freeze", "--start", "100", "--end", "200"],  # past the clip's 120 frames
        ["--kind", "freeze", "--start", "9", "--end", "9"],
        ["--kind", "teleport", "--start", "1", "--end", "9"],
    ):
        proc = cli("inject", clip, *args, "--out", str(tmp_path / "x.mp4"))
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_bundled_model_detects_a_moving_object_on_a_training_clip(cli, bundled, samples, tmp_path):
    """The acceptance check: a moving object injected into a normal Ped2 clip scores frame AUC >= 0.9."""
    out = tmp_path / "moving.mp4"
    clip = str(samples / "train" / "Train001.mp4")
    args = ["--kind", "moving_object", "--start", "60", "--end", "100", "--seed", "0", "--out", str(out)]
    proc = cli("inject", clip, *args, "--analyze", "--json", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["frames"] == 120 and summary["model"] == "ped2"
    assert summary["auc"] >= 0.9
    assert summary["score_in_range"] > summary["score_outside"]
