"""One batch run of the 12 Ped2 test clips plus two broken files, killed part-way and resumed; shared by the
batch tests and the browser test (computed once per pytest session, under the session's base temp folder).

    run = ped2_batch(tmp_path_factory.getbasetemp(), PED2)
    run.out            # the batch output folder, complete after the resumed run
    run.first          # summary.json as it stood when the first run was killed
    run.second         # the resumed run's summary (it also wrote report.html)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.paths import REPO

BROKEN = {"empty.mp4": "the file is empty", "truncated.mp4": "decodable frames"}
KILL_AFTER = 2  # videos done before the first run is killed
TIMEOUT_S = 900


@dataclass
class BatchRun:
    inputs: Path
    out: Path
    first: dict
    second: dict
    rerun_started: float
    returncode: int
    stderr: str


def batch_env() -> dict[str, str]:
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("VAD_DEBUG", None)
    return env


def make_inputs(folder: Path, ped2: Path) -> Path:
    """Copies of the 12 test clips (the app reads videos under its data root only), a zero-byte .mp4 and the
    first 20 kB of Test003.mp4."""
    folder.mkdir(parents=True, exist_ok=True)
    for clip in sorted((ped2 / "test").glob("Test*.mp4")):
        shutil.copyfile(clip, folder / clip.name)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "truncated.mp4").write_bytes((ped2 / "test" / "Test003.mp4").read_bytes()[:20_000])
    return folder


def _summary(out: Path) -> dict:
    try:
        return json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return {}


def run_killed(inputs: Path, out: Path, after: int = KILL_AFTER) -> dict:
    """Start `batch`, wait until `after` videos are done, kill the run and every process it started (its own
    session: Ray's too) at once, with SIGKILL; return summary.json as it stood just before."""
    command = [sys.executable, "-m", "vad_core", "batch", str(inputs), "--out", str(out), "--workers", "2", "--json"]
    process = subprocess.Popen(
        command, cwd=REPO, env=batch_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(_summary(out).get("done", [])) < after:
            if process.poll() is not None:
                raise AssertionError(f"batch ended before it was killed: {process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError("batch did not finish two videos in time")
            time.sleep(0.2)
        first = _summary(out)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the batch's own process group: the driver and the Ray it started
        process.wait(timeout=60)
        process.stderr.close()
    return first


def ped2_batch(base: Path, ped2: Path) -> BatchRun:
    """The shared run: computed on first use in a session, then read back."""
    root = base / "ped2-batch"
    record = root / "run.json"
    if record.is_file():
        data = json.loads(record.read_text())
        return BatchRun(Path(data["inputs"]), Path(data["out"]), data["first"], _summary(Path(data["out"])),
                        data["rerun_started"], data["returncode"], data["stderr"])  # fmt: skip
    inputs = make_inputs(root / "in", ped2)
    out = root / "out"
    first = run_killed(inputs, out)
    rerun_started = time.time()
    command = [sys.executable, "-m", "vad_core", "batch", str(inputs), "--out", str(out), "--json", "--report"]
    rerun = subprocess.run(command, cwd=REPO, env=batch_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    data = {"inputs": str(inputs), "out": str(out), "first": first, "rerun_started": rerun_started,
            "returncode": rerun.returncode, "stderr": rerun.stderr}  # fmt: skip
    record.write_text(json.dumps(data))
    return BatchRun(inputs, out, first, _summary(out), rerun_started, rerun.returncode, rerun.stderr)
