"""The redesign of issue 28 changed no output: analyze, evaluate and batch on Ped2 Test004 write the same bytes
as the code before it (commit BASELINE), run side by side in this test from a `git archive` of that commit.

Both runs happen here, on this CPU, so a machine whose kernels round differently still compares like with like.
Only what measures time or names the run's own folder or Ray node is left out of the comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.paths import BUNDLED, REPO, SAMPLES

BASELINE = "8fd75bb93c36ad73b201623e9150f71d54a2ac44"  # main before the structure redesign
RUN_SPECIFIC = {"seconds", "frames_per_second", "wall_seconds", "scoring_seconds", "timing", "node", "out"}
ADDED_SINCE = {"baselines"}  # evaluate's model-free baselines (issue 29): new keys, none of the old ones changed
CLIP = SAMPLES / "test" / "Test004.mp4"

pytestmark = pytest.mark.slow


def _baseline_commit() -> str:
    found = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", "-q", f"{BASELINE[:12]}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        message = f"commit {BASELINE} is not in this clone (shallow?); the before/after comparison needs it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found.stdout.strip()


@pytest.fixture(scope="module")
def baseline_code(tmp_path_factory) -> Path:
    """The library as it was at BASELINE (vad_core only; the model and clips are read from this checkout)."""
    commit = _baseline_commit()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "vad_core"], capture_output=True, check=True)
    root = tmp_path_factory.mktemp("baseline")
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(root, filter="data")
    return root


def _run(code: Path, *args: str) -> dict:
    env = os.environ | {"PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    env.pop("VAD_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "vad_core", *args], cwd=code, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _outputs(code: Path, out: Path) -> dict[str, dict]:
    ckpt = str(BUNDLED)
    return {
        "analyze": _run(code, "analyze", str(CLIP), "--checkpoint", ckpt, "--out", str(out / "analyze"), "--json"),
        "evaluate": _run(code, "evaluate", "--data", str(SAMPLES), "--checkpoint", ckpt, "--json"),
        "batch": _run(
            code, "batch", str(CLIP), "--checkpoint", ckpt, "--out", str(out / "batch"), "--workers", "1", "--json"
        ),
    }


def _without_run_specific(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_run_specific(v) for k, v in value.items() if k not in RUN_SPECIFIC}
    if isinstance(value, list):
        return [_without_run_specific(v) for v in value]
    return value


def _npz_members(path: Path) -> dict[str, object]:
    """Each array's stored bytes; the metadata string (which carries the run's seconds) as parsed JSON."""
    with zipfile.ZipFile(path) as z:
        members: dict[str, object] = {name: z.read(name) for name in z.namelist()}
    if "meta.npy" in members:
        meta = np.load(BytesIO(members["meta.npy"]), allow_pickle=False)
        members["meta.npy"] = _without_run_specific(json.loads(str(meta)))
    return members


def _comparable(path: Path) -> object:
    if path.suffix == ".json":
        return _without_run_specific(json.loads(path.read_text()))
    if path.suffix == ".npz":
        return _npz_members(path)
    return path.read_bytes()


def test_analyze_evaluate_and_batch_write_what_they_wrote_before(baseline_code, tmp_path):
    before = _outputs(baseline_code, tmp_path / "before")
    after = _outputs(REPO, tmp_path / "after")
    assert set(after["evaluate"]) >= ADDED_SINCE
    for command in before:
        old_keys = {k: v for k, v in after[command].items() if k not in ADDED_SINCE}
        assert _without_run_specific(old_keys) == _without_run_specific(before[command]), command

    files_before = sorted(p.relative_to(tmp_path / "before") for p in (tmp_path / "before").rglob("*") if p.is_file())
    files_after = sorted(p.relative_to(tmp_path / "after") for p in (tmp_path / "after").rglob("*") if p.is_file())
    assert files_after == files_before
    assert {"analyze/scores.csv", "analyze/segments.json", "batch/frames.parquet"} <= {str(p) for p in files_before}
    for relative in files_before:
        assert _comparable(tmp_path / "after" / relative) == _comparable(tmp_path / "before" / relative), relative
