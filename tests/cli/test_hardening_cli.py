"""Every input-caused CLI error exits 2 with one line on stderr and no traceback, for every subcommand's options.

Numeric options are checked for their range as they are parsed; paths a command writes are checked before any
work; a taken model name is refused before training starts. Most cases run in-process through cli.main; a few
run as `python -m vad_core` subprocesses, as users run it.
"""

from __future__ import annotations

import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vad_core.cli import main

SAMPLE = "assets/samples/test/Test004.mp4"
INJECT = f"inject {SAMPLE} --kind moving_object --start 0 --end 10"

# name -> (argv with {tmp} {ckpt} {file} {victim} placeholders, a regex the one stderr line must match)
CASES = {
    # analyze
    "analyze --out is a file": (f"analyze {SAMPLE} --checkpoint {{ckpt}} --out {{file}}", "a file of that name exists"),
    "analyze --out under a file": (f"analyze {SAMPLE} --out {{file}}/sub", "is a file, so no folder can be made"),
    "analyze --every 0": (f"analyze {SAMPLE} --every 0", "argument --every: 0 is out of range: it must be at least 1"),
    "analyze --start -3": (f"analyze {SAMPLE} --start -3", "argument --start: -3 is out of range"),
    "analyze --end 0": (f"analyze {SAMPLE} --end 0", "argument --end: 0 is out of range"),
    "analyze --threshold nan": (f"analyze {SAMPLE} --threshold nan", "'nan' is not a finite number"),
    "analyze --threshold 0": (f"analyze {SAMPLE} --threshold 0", "it must be above 0"),
    "analyze --max-frames x": (f"analyze {SAMPLE} --max-frames x", "'x' is not an integer"),
    "analyze --max-seconds -1": (f"analyze {SAMPLE} --max-seconds -1", "argument --max-seconds: -1 is out of range"),
    "analyze --min-duration -1": (f"analyze {SAMPLE} --min-duration -1", "argument --min-duration"),
    "analyze --merge-gap 1e9": (f"analyze {SAMPLE} --merge-gap 1e9", "'1e9' is not an integer"),
    # train
    "train --input-size 100": ("train --data assets/samples --out {tmp}/m --epochs 1 --input-size 100",
                               "the model cannot take 100 px: use a size of the form 8n\\+19"),
    "train --input-size 19": ("train --data assets/samples --out {tmp}/m --epochs 1 --input-size 19", "cannot take 19"),
    "train --input-size 5000": ("train --data assets/samples --out {tmp}/m --epochs 1 --input-size 5000",
                                "at most 1024"),
    "train --batch-size 0": ("train --data assets/samples --out {tmp}/m --epochs 1 --batch-size 0", "at least 1"),
    "train --batch-size -4": ("train --data assets/samples --out {tmp}/m --epochs 1 --batch-size -4", "-4 is out"),
    "train --batch-size 10**6": ("train --data assets/samples --out {tmp}/m --epochs 1 --batch-size 1000000",
                                 "at most 1024"),
    "train --minutes 0": ("train --data assets/samples --out {tmp}/m --minutes 0", "argument --minutes: 0 is out"),
    "train --minutes -1": ("train --data assets/samples --out {tmp}/m --minutes -1", "argument --minutes"),
    "train --minutes inf": ("train --data assets/samples --out {tmp}/m --minutes inf", "not a finite number"),
    "train --epochs 0": ("train --data assets/samples --out {tmp}/m --epochs 0", "argument --epochs"),
    "train --lr 0": ("train --data assets/samples --out {tmp}/m --epochs 1 --lr 0", "argument --lr"),
    "train --seed -1": ("train --data assets/samples --out {tmp}/m --epochs 1 --seed -1", "argument --seed"),
    "train --max-clips 0": ("train --data assets/samples --out {tmp}/m --epochs 1 --max-clips 0", "--max-clips"),
    "train over a model": ("train --data assets/samples --out {victim} --epochs 1",
                           r"victim\.safetensors exists already .* never overwritten"),
    "train as another card": ("train --data assets/samples --out {victim}.json --epochs 1",
                              r"model name 'victim\.json' ends in '\.json'"),
    "train under a file": ("train --data assets/samples --out {file}/m --epochs 1", "is a file, not a folder"),
    # adapt
    "adapt --minutes 0": (f"adapt {SAMPLE} --out {{tmp}}/a --minutes 0", "argument --minutes"),
    "adapt --val-fraction 1": (f"adapt {SAMPLE} --out {{tmp}}/a --val-fraction 1", "above 0 and below 1"),
    "adapt --normal 5:5": (f"adapt {SAMPLE} --out {{tmp}}/a --normal 5:5", "is empty"),
    "adapt over a model": (f"adapt {SAMPLE} --out {{victim}}", "exists already"),
    # calibrate
    "calibrate --patch 0": ("calibrate --data assets/samples --checkpoint {ckpt} --patch 0", "argument --patch"),
    "calibrate --patch 1000": ("calibrate --data assets/samples --checkpoint {ckpt} --patch 1000", "is larger than"),
    "calibrate --quantile 1.5": ("calibrate --data assets/samples --checkpoint {ckpt} --quantile 1.5", "at most 1"),
    "calibrate --val-fraction 0": ("calibrate --data assets/samples --checkpoint {ckpt} --val-fraction 0", "above 0"),
    "calibrate --top-fraction 2": ("calibrate --data assets/samples --checkpoint {ckpt} --top-fraction 2", "at most"),
    "calibrate --smooth -1": ("calibrate --data assets/samples --checkpoint {ckpt} --smooth -1", "--smooth"),
    # select-scoring, bench
    "select-scoring --clips 0": ("select-scoring --data assets/samples --clips 0", "argument --clips"),
    "select-scoring --top -1": ("select-scoring --data assets/samples --top -1", "argument --top"),
    "bench --input-size 100": ("bench --input-size 100", "cannot take 100 px"),
    "bench --memory-size 36": ("bench --memory-size 36", "cannot take 36 px"),
    "bench --frames 0": ("bench --frames 0", "argument --frames"),
    "bench --rounds 0": ("bench --rounds 0", "argument --rounds"),
    "bench --workers 0": ("bench --workers 0", "argument --workers"),
    "bench --memory-minutes 0": ("bench --memory-minutes 1,0", "--memory-minutes takes .* positive"),
    "bench --memory-minutes x": ("bench --memory-minutes x", "'x' is not a number"),
    # inject
    "inject --out a folder": (f"{INJECT} --out {{tmp}}", "that is a folder"),
    "inject --out not mp4": (f"{INJECT} --out {{tmp}}/x.avi", r"written as \.mp4"),
    "inject --out nowhere": (f"{INJECT} --out {{tmp}}/no/x.mp4", "output folder .* not found"),
    "inject --factor 1": (f"{INJECT} --out {{tmp}}/x.mp4 --factor 1", "argument --factor: 1 is out of range"),
    "inject --delta 999": (f"{INJECT} --out {{tmp}}/x.mp4 --delta 999", "at most 255"),
    "inject --speed 0": (f"{INJECT} --out {{tmp}}/x.mp4 --speed 0", "argument --speed"),
    "inject --seed -1": (f"{INJECT} --out {{tmp}}/x.mp4 --seed -1", "argument --seed"),
}  # fmt: skip


@pytest.fixture(scope="module")
def places(tmp_path_factory, analysis_stem) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("hardening")
    (tmp / "plain.txt").write_text("a file, not a folder")
    ckpt = tmp / "copy"  # commands that could write a card get a copy, never the bundled model
    for suffix in (".safetensors", ".json"):
        shutil.copy(analysis_stem.with_suffix(suffix), ckpt.with_suffix(suffix))
    victim = tmp / "victim"
    for suffix in (".safetensors", ".json"):
        shutil.copy(analysis_stem.with_suffix(suffix), victim.with_suffix(suffix))
    return {"tmp": str(tmp), "ckpt": str(ckpt), "file": str(tmp / "plain.txt"), "victim": str(victim)}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_one_clear_line(code: int, out: str, err: str, pattern: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert "Traceback" not in err and len(lines) == 1, lines
    assert re.search(pattern, lines[0]), lines[0]
    assert out == ""


@pytest.mark.parametrize("case", CASES)
def test_bad_option_exits_2_with_one_line_and_writes_nothing(places, case, capfd):
    template, pattern = CASES[case]
    tmp = Path(places["tmp"])
    before = _snapshot(tmp)
    try:
        code = main(template.format(**places).split())
    except SystemExit as exit_:  # argparse errors exit from inside parse_args
        code = exit_.code
    out, err = capfd.readouterr()
    assert_one_clear_line(code, out, err, pattern)
    assert _snapshot(tmp) == before  # nothing written, nothing overwritten


def test_a_bad_input_message_is_always_one_line(places, capfd):
    """Whatever a BadInput says (a library's multi-line error folded into it), stderr gets one line."""
    card = Path(places["tmp"]) / "multiline.json"
    shutil.copy(Path(places["ckpt"]).with_suffix(".safetensors"), card.with_suffix(".safetensors"))
    card.write_text('{"model": {"temporal": "gru\\nsecond line"}, "calibration": {}}')
    code = main(["analyze", SAMPLE, "--checkpoint", str(card.with_suffix("")), "--out", places["tmp"] + "/o"])
    out, err = capfd.readouterr()
    assert_one_clear_line(code, out, err, "model card multiline.json is invalid")


@pytest.mark.slow
def test_representative_cases_as_users_run_them(places, cli):
    """The same contract through `python -m vad_core` (interpreter start-up, real exit status)."""
    names = ["analyze --out is a file", "train --input-size 100", "train --batch-size 0", "train over a model"]
    names += ["adapt --minutes 0"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {n: pool.submit(cli, *CASES[n][0].format(**places).split()) for n in names}
        for name, future in runs.items():
            proc = future.result()
            assert_one_clear_line(proc.returncode, proc.stdout, proc.stderr, CASES[name][1])


@pytest.mark.slow
def test_a_trained_model_is_never_overwritten_by_the_next_run(cli, tmp_path):
    """Train once (tiny), then again to the same --out and to its card's name: both refused up front, exit 2,
    and the first model's files are byte for byte what the first run wrote."""
    stem = tmp_path / "cam"
    tiny = [
        "--kind",
        "autoencoder",
        "--data",
        "assets/samples",
        "--input-size",
        "35",
        "--epochs",
        "1",
        "--max-clips",
        "1",
    ]
    first = cli("train", *tiny, "--out", str(stem))
    assert first.returncode == 0, first.stderr
    before = _snapshot(tmp_path)
    assert set(before) == {"cam.safetensors", "cam.json"}
    for out in (stem, stem.with_suffix(".json"), stem.with_suffix(".safetensors")):
        again = cli("train", *tiny, "--out", str(out))
        assert_one_clear_line(again.returncode, again.stdout, again.stderr, "exists already|ends in")
    assert _snapshot(tmp_path) == before
