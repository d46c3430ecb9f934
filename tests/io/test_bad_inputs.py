"""The bad-input corpus (tests/helpers/corpus.py) through the CLI in-process, and the analysis limits.

Every rejected case exits 2 with its one clear line within a few seconds; every unusual but valid clip is
analyzed, one row per frame; a truncated file is analyzed as far as it decodes, with a warning.
capfd captures file descriptors, so anything FFmpeg or OpenCV write to stderr from C is counted too.
"""

from __future__ import annotations

import itertools
import json
import re
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from vad_core.cli import main
from vad_core.errors import BadInput
from vad_core.io.limits import AnalysisLimits, FrameSelection, limited, select, suggest_step
from vad_core.pipeline.analysis import analyze

SAMPLE_FRAMES = 180  # Test004


def _run(args: list[str], capfd) -> tuple[int, str, str, float]:
    started = time.monotonic()
    code = main(args)
    out, err = capfd.readouterr()
    return code, out, err, time.monotonic() - started


@pytest.mark.parametrize(
    "name",
    [
        "empty file",
        "random bytes",
        "text file",
        "PNG image",
        "fewer frames than T",
        "audio only",
        "missing path",
        "directory",
    ],
)
def test_rejected_inputs_exit_2_with_one_clear_line(corpus, analysis_stem, tmp_path, capfd, name):
    case = corpus[name]
    assert case.expect == "bad"
    code, out, err, seconds = _run(
        ["analyze", str(case.path), "--checkpoint", str(analysis_stem), "--out", str(tmp_path)], capfd
    )
    lines = err.strip().splitlines()
    assert code == 2 and out == ""
    assert "Traceback" not in err and len(lines) == 1, lines
    assert re.search(case.message, lines[0]), lines[0]
    assert seconds < 5, f"{name} took {seconds:.1f} s"
    assert not (tmp_path / "scores.csv").exists()


@pytest.mark.parametrize(
    "name", ["3840x2160", "portrait", "60 fps", "colour", "no frame count in metadata", "truncated at half"]
)
def test_unusual_clips_are_analyzed(corpus, analysis_stem, tmp_path, capfd, name):
    case = corpus[name]
    code, out, err, _ = _run(
        ["analyze", str(case.path), "--checkpoint", str(analysis_stem), "--out", str(tmp_path), "--json"], capfd
    )
    assert code == 0, err
    summary = json.loads(out)
    table = pd.read_csv(tmp_path / "scores.csv")
    assert len(table) == summary["frames"]
    assert table["frame"].tolist() == list(range(len(table)))
    scene_warning = [line for line in err.splitlines() if "not meaningful here" in line]
    assert len(scene_warning) == (not summary["scene"]["familiar"])  # these synthetic clips are not Ped2's scene
    err = "".join(f"{line}\n" for line in err.splitlines() if line not in scene_warning)
    if case.expect == "good":
        assert err == "" and summary["frames"] == case.frames
        if case.fps:
            assert summary["video_fps"] == case.fps
    else:  # partial: the frames that decode are scored, and one warning says the rest was unreadable
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("warning: ") and re.search(case.message, lines[0])
        assert 10 <= summary["frames"] < SAMPLE_FRAMES
        assert json.loads((tmp_path / "segments.json").read_text())["warnings"]


def test_frame_selection_counts_and_streams():
    sel = FrameSelection(start=5, end=20, step=4)
    assert sel.count(100) == 4 and sel.count(12) == 2 and sel.count(3) == 0
    assert list(select(range(100), sel)) == [5, 9, 13, 17]
    assert FrameSelection().is_all and list(select(range(3), None)) == [0, 1, 2]
    assert suggest_step(20_000, 3000) == 7 and suggest_step(10, 3000) == 1
    for bad in ({"start": -1}, {"step": 0}, {"start": 5, "end": 5}):
        with pytest.raises(BadInput, match="frame selection"):
            FrameSelection(**bad)


def test_limited_counts_frames_pixels_and_time_as_frames_arrive():
    frames = [np.zeros((4, 6), np.uint8)] * 5
    assert len(list(limited(frames, AnalysisLimits(max_frames=5), "x"))) == 5
    with pytest.raises(BadInput, match="more than 3 frames"):
        list(limited(frames, AnalysisLimits(max_frames=3), "x"))
    with pytest.raises(BadInput, match="more than 1e-07 gigapixels"):
        list(limited(frames, AnalysisLimits(max_total_pixels=100), "x"))
    with pytest.raises(BadInput, match="6x4 frames exceed the limit of 23 pixels"):
        list(limited(frames, AnalysisLimits(max_pixels=23), "x"))
    with pytest.raises(BadInput, match="frame 1 is 6x1; frames under 2 px"):
        list(limited([frames[0], np.zeros((1, 6), np.uint8)], None, "x"))

    def slow():
        for _ in range(100):
            time.sleep(0.01)
            yield frames[0]

    with pytest.raises(BadInput, match=r"stopped after 0.05 s \(the time limit\)"):
        list(limited(slow(), AnalysisLimits(max_seconds=0.05), "x"))


def test_a_clip_over_the_limit_is_refused_with_the_ways_out(samples, analysis_model):
    clip = samples / "test" / "Test004.mp4"
    with pytest.raises(BadInput, match=r"Test004\.mp4: 180 frames .* of 50 frames; .* with k = 4"):
        analyze(clip, analysis_model, limits=AnalysisLimits(max_frames=50))


def test_a_sub_range_every_kth_frame_fits_and_keeps_source_frame_numbers(samples, analysis_model):
    clip = samples / "test" / "Test004.mp4"
    result = analyze(clip, analysis_model, selection=FrameSelection(30, 90, 3), limits=AnalysisLimits(max_frames=50))
    assert result.frame_count == 20 and result.fps == pytest.approx(10 / 3)
    table = result.scores_frame()
    assert table["frame"].tolist() == list(range(30, 90, 3))
    assert table["time_s"].tolist() == pytest.approx([f / 10 for f in range(30, 90, 3)])


def test_wrong_metadata_cannot_smuggle_a_long_clip_past_the_limit(corpus, analysis_model):
    case = corpus["no frame count in metadata"]  # the container says 0 frames; 16 decode
    with pytest.raises(BadInput, match=r"raw_stream\.mp4: more than 12 frames"):
        analyze(case.path, analysis_model, limits=AnalysisLimits(max_frames=12))


def test_a_huge_frame_size_is_refused_before_decoding(corpus, analysis_model):
    with pytest.raises(BadInput, match=r"3840x2160 frames exceed"):
        analyze(corpus["3840x2160"].path, analysis_model, limits=AnalysisLimits(max_pixels=1920 * 1080))


@settings(max_examples=200, deadline=None, database=None)
@given(
    total=hst.integers(0, 60),
    start=hst.integers(0, 70),
    length=hst.one_of(hst.none(), hst.integers(1, 70)),
    step=hst.integers(1, 9),
)
def test_frame_selection_count_matches_what_select_yields(total, start, length, step):
    sel = FrameSelection(start, None if length is None else start + length, step)
    chosen = list(select(range(total), sel))
    assert len(chosen) == sel.count(total)
    assert chosen == sorted(set(chosen)) and all(0 <= f < total for f in chosen)
    assert all(b - a == step for a, b in itertools.pairwise(chosen))


# --- Labels a user brings (parse_labels: JSON or CSV; evaluate: DATASET/labels.json): every malformed file is
# one clear BadInput, never a numpy or pandas error, and never silently reshaped or cast.

DEEP = b"[" * 100_000 + b"]" * 100_000  # json.loads runs out of stack on this: RecursionError, caught


@pytest.mark.parametrize(
    ("data", "name", "frames", "message"),
    [
        (b"[[0, 1], [1, 0]]", "l.json", 4, r"frame 0: a list \(labels are one flat list"),  # 2-D
        (b"[[0], [1, 0]]", "l.json", 3, r"frame 0: a list"),  # ragged
        (b'{"labels": [0, [1, [0]]]}', "l.json", 2, r"frame 1: a list"),
        (DEEP, "l.json", 1, "labels file is nested too deeply"),
        (b'{"labels": ' + DEEP + b"}", "l.json", 1, "nested too deeply"),
        (b'["1", "0", "1"]', "l.json", 3, r"frame 0: the string '1' is not a label; use 0 \(normal\) or 1"),
        (b'{"labels": {"0": 1}}', "l.json", 1, r"labels JSON labels must be a list .*, not an object"),
        (b'{"test": {"clip": {"labels": "0101"}}}', "l.json", 4, r"test\.clip\.labels must be a list .* string"),
        (b'{"test": {"clip": [[0, 1]]}}', "l.json", 2, r"test\.clip\.labels, frame 0: a list"),
        (b"[true, false, true]", "l.json", 3, "frame 0: the boolean true is not a label"),
        (b"[0, null, 1]", "l.json", 3, "frame 1: null is not a label"),
        (b"[0, NaN, 1]", "l.json", 3, r"frame 1: NaN \(an empty or missing value\) is not a label"),
        (b"[0, Infinity, 1]", "l.json", 3, "frame 1: inf is not a label"),
        (b"[0, 0.5, 1]", "l.json", 3, "frame 1: 0.5 is not a label"),
        (b'"0, 1, 1"', "l.json", 3, "must be a list of 0/1 frame labels, not the string"),
        (b"17", "l.json", 3, "must be a list of 0/1 frame labels, not 17"),
        (b"[" + b"1" * 5000 + b"]", "l.json", 1, "not valid JSON"),  # past Python's integer-string limit
        (b"\xff\xfe[0]", "l.json", 1, "not valid JSON"),
        (b"label\nx\n0\n1\n", "gt.csv", 3, r"column 'label', frame 0: the string 'x' is not a label"),
        (b"frame,label\n0,0\n1,\n2,1\n", "gt.csv", 3, r"frame 1: NaN \(an empty or missing value\)"),
        (b"label\nTrue\nFalse\nTrue\n", "gt.csv", 3, "frame 0: the boolean true"),
        (b"label\n0\n0.5\n1\n", "gt.csv", 3, "frame 1: 0.5 is not a label"),
        (b"label\n0\n-1\n1\n", "gt.csv", 3, "frame 1: -1 is not a label"),
        (b"", "gt.csv", 0, "labels CSV cannot be read"),
        (b'label\n"0\n1\n', "gt.csv", 2, "labels CSV cannot be read"),  # an unterminated quote
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "gt.csv", 1, "labels CSV"),
    ],
)
def test_malformed_labels_are_one_clear_bad_input(data, name, frames, message):
    from vad_core.io.labels import parse_labels

    with pytest.raises(BadInput, match=message) as err:
        parse_labels(data, name, "clip", frames)
    assert "\n" not in str(err.value)


def test_good_labels_still_parse_in_every_accepted_form():
    from vad_core.io.labels import parse_labels

    assert parse_labels(b"[0, 1.0, 0.0]", "l.json", "c", 3).tolist() == [0, 1, 0]
    assert parse_labels(b'{"labels": [1, 1]}', "l.json", "c", 2).dtype == "int8"
    assert parse_labels(b"gt\n1\n0\n", "gt.csv", "c", 2).tolist() == [1, 0]
    assert parse_labels(b"label\n1.0\n0.0\n", "gt.csv", "c", 2).tolist() == [1, 0]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"[]", "a 'test' object"),
        (b'{"test": [0, 1]}', "a 'test' object"),
        (b'{"test": {"Test004": [0, 1]}}', r"test\.Test004 needs a 'labels' list"),
        (b'{"test": {"Test004": {"labels": ["0", "1"]}}}', r"test\.Test004\.labels, frame 0: the string '0'"),
        (b'{"test": {"Test004": {"labels": [[0, 1], [1, 0]]}}}', r"test\.Test004\.labels, frame 0: a list"),
        (b'{"test": {"Test004": {"labels": [0, NaN]}}}', r"frame 1: NaN"),
        (b'{"test": {"Test004": {"labels": [0, 300]}}}', "frame 1: 300 is not a label"),  # not wrapped to int8
        (b'{"test": ' + DEEP + b"}", "nested too deeply"),
    ],
)
def test_a_datasets_malformed_labels_json_is_bad_input(tmp_path, document, message):
    from vad_core.training.evaluation import load_labels

    (tmp_path / "labels.json").write_bytes(document)
    with pytest.raises(BadInput, match=message) as err:
        load_labels(tmp_path)
    assert "\n" not in str(err.value)


def test_evaluate_with_string_labels_exits_2_with_one_line(tmp_path, samples, analysis_stem, capfd):
    (tmp_path / "test").symlink_to(samples / "test")
    (tmp_path / "labels.json").write_text(json.dumps({"test": {"Test004": {"labels": ["1"] * SAMPLE_FRAMES}}}))
    code, out, err, _ = _run(["evaluate", "--data", str(tmp_path), "--checkpoint", str(analysis_stem)], capfd)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and "Traceback" not in err
    assert re.search(r"test\.Test004\.labels, frame 0: the string '1' is not a label", lines[0]), lines[0]
