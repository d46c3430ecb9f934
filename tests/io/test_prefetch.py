"""Decoding ahead of the model (vad_core.io.prefetch), the stage clock, and the fast output writing: the frames,
errors and files are exactly those of the plain path."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

from vad_core.errors import BadInput
from vad_core.io.prefetch import Prefetch
from vad_core.io.video import IN_PROCESS, stream_raw_gray
from vad_core.pipeline.analysis import analyze
from vad_core.pipeline.writers import quantization_table
from vad_core.stages import StageClock, process_start


@pytest.fixture(scope="module")
def clip(samples):
    return samples / "test" / "Test004.mp4"


def test_prefetch_hands_over_the_clips_frames_exactly(clip):
    expected = list(stream_raw_gray(clip))
    clock = StageClock()
    with Prefetch(IN_PROCESS, clip, threads=1, clock=clock, depth=4) as video:
        with video.open(clip) as opened:
            assert opened.info.frame_count == len(expected) == 180
            frames = list(opened.frames)
        assert video.first_frame_at is not None and video.first_frame_at <= time.time()
    assert len(frames) == len(expected) and all(np.array_equal(a, b) for a, b in zip(frames, expected, strict=True))
    assert clock.seconds["decode"] > 0


def test_a_refused_file_is_raised_where_the_consumer_opens_it(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with Prefetch(IN_PROCESS, empty) as video, pytest.raises(BadInput, match="empty"), video.open(empty):
        pass


def test_leaving_early_stops_the_decoder(clip):
    before = {t.ident for t in threading.enumerate()}
    with Prefetch(IN_PROCESS, clip, depth=2) as video, video.open(clip) as opened:
        next(opened.frames)  # the decoder now waits on a full queue
    assert not [t for t in threading.enumerate() if t.name == "vad-prefetch" and t.ident not in before]


def test_analyze_through_a_prefetch_equals_analyze(clip, tiny_model):
    plain = analyze(clip, tiny_model)
    clock = StageClock()
    with Prefetch(IN_PROCESS, clip, clock=clock) as video:
        fetched = analyze(clip, tiny_model, decoder=video, clock=clock)
    np.testing.assert_array_equal(fetched.score, plain.score)
    assert set(fetched.stage_seconds) == {"decode", "model", "scoring", "stitching"}
    assert fetched.stage_seconds is clock.seconds


def test_the_decoding_side_never_loads_torch():
    """What analyze runs before torch has loaded (the CLI and the prefetch) and the decoder children need no torch:
    the overlap of decoding with the 1.5-4 s torch import rests on it, and so does a light sandbox child."""
    modules = ["cli", "io.prefetch", "io.sandbox", "io.sources", "cpu", "stages"]
    code = f"import sys, {', '.join('vad_core.' + m for m in modules)}; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_stage_clock_counts_cpu_not_waiting():
    clock = StageClock()
    with clock.measure("waiting"):
        time.sleep(0.2)
    with clock.measure("working"):
        start = time.thread_time()
        while time.thread_time() - start < 0.1:  # 0.1 s of this thread's CPU
            pass
    assert clock.seconds["waiting"] < 0.05 and clock.seconds["working"] >= 0.1
    assert list(clock.timed("counted", [1, 2, 3])) == [1, 2, 3] and "counted" in clock.seconds


def test_process_start_is_before_now():
    assert 0 < time.time() - process_start() < 24 * 3600


def test_the_quantization_table_is_the_arithmetic_on_every_float16():
    scale = 0.37
    values = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    finite = np.isfinite(values)
    direct = np.clip(values[finite].astype(np.float32) / scale * 255.0, 0, 255).astype(np.uint8)
    table = quantization_table(scale)
    np.testing.assert_array_equal(table[finite], direct)
    assert table[np.isnan(values)].max() == 0 and table[values == np.inf][0] == 255


def test_saved_scores_read_back_as_the_table(clip, tiny_model, tmp_path):
    result = analyze(clip, tiny_model)
    result.save(tmp_path)
    written = pd.read_csv(tmp_path / "scores.csv")
    pd.testing.assert_frame_equal(written, result.scores_frame(), check_dtype=False, rtol=0, atol=0)
    with np.load(tmp_path / "error_maps.npz") as maps:
        scale = float(maps["scale"])
        expected = np.clip(result.maps["motion"].astype(np.float32) / scale * 255.0, 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(maps["motion"], expected)
