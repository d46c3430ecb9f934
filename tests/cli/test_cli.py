"""The command line as users run it: `python -m vad_core ...` in a subprocess, checking exit codes and output.

Bad input exits 2 with one line on stderr and no traceback (DESIGN.md contracts). The subprocesses of this
module are started together, a few at a time, because each pays the interpreter and torch start-up.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers.cli import TINY_SIZE
from tests.helpers.paths import REPO

pytestmark = pytest.mark.slow

SUBPROCESS_S = 30  # "within a few seconds": interpreter and torch start-up included, on a busy 2-core machine
SUMMARY_KEYS = {"frames", "video_fps", "seconds", "frames_per_second", "segments"}
EVALUATE_KEYS = {"auc_micro", "auc_macro", "auc_micro_video_norm", "eer", "pixel_auc", "frames", "frames_per_second"}


class _Trap:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _make_bad_inputs(root: Path, ckpt: str) -> None:
    """Checkpoint cases; the bad videos come from the shared corpus (tests/helpers/corpus.py)."""
    (root / "evil.pt").write_bytes(pickle.dumps({"w": _Trap(root / "unpickled_marker")}))
    shutil.copy(Path(ckpt).with_suffix(".json"), root / "evil.json")
    card = json.loads(Path(ckpt).with_suffix(".json").read_text())
    card["model"]["temporal"] = "gru"
    (root / "gru.json").write_text(json.dumps(card))
    shutil.copy(Path(ckpt).with_suffix(".safetensors"), root / "gru.safetensors")


SAMPLE = "assets/samples/test/Test004.mp4"
# name -> (argv with {root} and {ckpt} placeholders, a regex the one stderr line must match)
# Every bad video of the corpus (tests/helpers/corpus.py) is added to these, as "corpus: NAME".
BAD = {
    "unknown option": (f"analyze {SAMPLE} --frobnicate", "unrecognized arguments: --frobnicate"),
    "pickle checkpoint": (f"analyze {SAMPLE} --checkpoint {{root}}/evil.pt", "evil.pt is a pickle file"),
}
# The same contract, checked in-process through cli.main (no interpreter start-up), for further cases.
BAD_IN_PROCESS = {
    "short clip, json": ("analyze {corpus}/short.mp4 --json", "at least 10"),
    "no command": ("", "required"),
    "invalid card": (f"analyze {SAMPLE} --checkpoint {{root}}/gru", "unknown temporal block 'gru'"),
    "evaluate without dataset": ("evaluate --data {root}/nowhere", "dataset folder not found"),
    "evaluate without labels": ("evaluate --data {corpus}/folder", "labels.json not found"),
    "train without budget": ("train --kind autoencoder --data assets/samples --out {root}/m", "budget"),
    "bad device": (f"analyze {SAMPLE} --device warp-drive", "unknown device"),
}


def _argv(template: str, root: Path, ckpt: str, corpus: Path | None = None) -> list[str]:
    argv = template.format(root=root, corpus=corpus).split()
    if argv and argv[0] in ("analyze", "evaluate") and "--checkpoint" not in argv:
        argv += ["--checkpoint", ckpt]
    if argv and argv[0] == "analyze":
        argv += ["--out", str(root / "out")]
    return argv


@pytest.fixture(scope="module")
def bad_root(tmp_path_factory, analysis_stem) -> Path:
    root = tmp_path_factory.mktemp("cli")
    _make_bad_inputs(root, str(analysis_stem))
    return root


@pytest.fixture(scope="module")
def bad_cases(corpus) -> dict[str, tuple[list[str], str]]:
    """name -> (argv without checkpoint and out, the pattern of its one stderr line): BAD plus the corpus."""
    cases = {name: (template, pattern) for name, (template, pattern) in BAD.items()}
    for name, case in corpus.items():
        if case.expect == "bad":
            cases[f"corpus: {name}"] = (f"analyze {case.path}", case.message)
    return cases


@pytest.fixture(scope="module")
def runs(bad_root, bad_cases, analysis_stem, cli):
    """Every subprocess of this module, run two at a time; name -> (CompletedProcess, wall seconds)."""
    ckpt = str(analysis_stem)
    jobs = {name: _argv(template, bad_root, ckpt) for name, (template, _) in bad_cases.items()}
    jobs["analyze ok"] = ["analyze", SAMPLE, "--checkpoint", ckpt, "--json", "--out", str(bad_root / "ok")]
    jobs["evaluate ok"] = ["evaluate", "--data", "assets/samples", "--checkpoint", ckpt, "--json"]

    def timed(argv: list[str]) -> tuple[subprocess.CompletedProcess, float]:
        started = time.monotonic()
        return cli(*argv), time.monotonic() - started

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(timed, argv) for name, argv in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


def assert_one_clear_line(returncode: int, stdout: str, stderr: str, pattern: str) -> None:
    assert returncode == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()  # splitlines also breaks on \r, as progress bars write
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    assert re.search(pattern, lines[0]), lines[0]
    assert stdout == ""


def test_bad_input_exits_2_with_one_clear_line(runs, bad_root, bad_cases):
    assert len(bad_cases) == len(BAD) + 8  # the corpus' rejected cases are all here
    for case, (_, pattern) in bad_cases.items():
        proc, seconds = runs[case]
        assert_one_clear_line(proc.returncode, proc.stdout, proc.stderr, pattern)
        assert seconds < SUBPROCESS_S, f"{case}: {seconds:.1f} s"
    assert not (bad_root / "unpickled_marker").exists()


@pytest.mark.parametrize("case", BAD_IN_PROCESS)
def test_bad_input_in_process(bad_root, corpus, analysis_stem, capfd, case):
    from vad_core.cli import main

    template, pattern = BAD_IN_PROCESS[case]
    folder = next(iter(corpus.values())).path.parent
    try:
        code = main(_argv(template, bad_root, str(analysis_stem), folder))
    except SystemExit as exit_:  # argparse errors exit from inside parse_args
        code = exit_.code
    out, err = capfd.readouterr()
    assert_one_clear_line(code, out, err, pattern)


def test_analyze_json_summary_and_files(runs, bad_root, sample_labels):
    proc, _ = runs["analyze ok"]
    root = bad_root
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert set(summary) >= SUMMARY_KEYS
    assert summary["frames"] == sample_labels["test"]["Test004"]["num_frames"] == 180
    assert summary["video_fps"] == 10.0 and summary["seconds"] > 0 and summary["frames_per_second"] > 0
    assert summary["frames_per_second"] == pytest.approx(summary["frames"] / summary["seconds"], rel=1e-6)
    table = pd.read_csv(root / "ok" / "scores.csv")
    assert list(table.columns) == ["frame", "time_s", "error", "regularity", "score", "anomalous"]
    assert len(table) == 180
    doc = json.loads((root / "ok" / "segments.json").read_text())
    assert doc["segments"] == summary["segments"]
    assert table["anomalous"].sum() == sum(s["frames"] for s in summary["segments"])
    for seg in summary["segments"]:
        assert seg["frames"] >= 3 and (table["score"][seg["start"] : seg["end"] + 1] > 1.0).any()
    assert (root / "ok" / "error_maps.npz").is_file()
    timing = summary["timing"]  # where the whole command's time went, from the start of its process
    assert 0 < timing["first_frame_s"] <= timing["model_ready_s"] + timing["analysis_s"] <= timing["total_s"]
    assert timing["analysis_s"] == summary["seconds"] and timing["writing_s"] > 0
    assert set(timing["cpu_s"]) == {"decode", "model", "scoring", "stitching"}
    assert all(seconds > 0 for seconds in timing["cpu_s"].values())


def test_evaluate_json(runs, sample_labels):
    proc, _ = runs["evaluate ok"]
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    assert set(metrics) >= EVALUATE_KEYS
    assert metrics["frames"] == sum(v["num_frames"] for v in sample_labels["test"].values()) == 360
    for key in ("auc_micro", "auc_macro", "auc_micro_video_norm", "pixel_auc", "eer"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["frames_per_second"] > 0
    assert set(metrics["baselines"]) == {"frame_difference", "optical_flow"}
    for figures in metrics["baselines"].values():  # the same fields, on the same frames
        assert set(figures) == {"auc_micro", "auc_macro", "auc_micro_video_norm", "eer", "pixel_auc"}
        assert all(0.0 <= value <= 1.0 for value in figures.values())
    # the flow baseline finds the sample clips' carts and bicycles: above chance, pooled and pixel-wise
    assert metrics["baselines"]["optical_flow"]["auc_micro"] > 0.7
    assert metrics["baselines"]["optical_flow"]["pixel_auc"] > 0.9


def test_train_reports_steps_as_json_and_stops_gracefully_on_sigterm(samples, tmp_path):
    """What the app's training page relies on: one JSON object per step, and SIGTERM = stop, calibrate, save."""
    stem = tmp_path / "stopped"
    command = [sys.executable, "-m", "vad_core", "train", "--kind", "autoencoder", "--data", str(samples)]
    command += ["--out", str(stem)]
    command += ["--input-size", str(TINY_SIZE), "--minutes", "30", "--progress-json"]
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    errors = tmp_path / "stderr.txt"
    with (
        errors.open("w") as sink,
        subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=sink, text=True) as child,
    ):
        first = json.loads(child.stdout.readline())
        assert set(first) == {"step", "epoch", "loss", "frames_seen", "elapsed_s", "fraction"} and first["step"] == 1
        child.send_signal(signal.SIGTERM)
        rest = [json.loads(line) for line in child.stdout]
    stderr = errors.read_text()
    assert child.returncode == 0, stderr
    assert "stopping after this step" in stderr
    done = rest[-1]["done"]
    assert done["cancelled"] is True and done["steps"] == len(rest)  # the first step plus any in flight
    card = json.loads(stem.with_suffix(".json").read_text())
    assert card["training"]["cancelled"] is True and card["calibration"]["frames"] > 0
