"""The command line as a user runs it: `python -m vad_core ARGS` in a child process, from the repository root.

from tests.helpers.cli import TINY_SIZE, run_cli
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers.paths import REPO

TINY_SIZE = 35  # smallest sizes of the form 8n+19 keep a real training run to seconds


def run_cli(*args: str, timeout: float = 600, threads: int | None = 1) -> subprocess.CompletedProcess:
    """`python -m vad_core ARGS` from the repository root, as a user would run it (threads=None: torch's default)."""
    env = os.environ | {"PYTHONPATH": str(REPO)}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    env.pop("VAD_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "vad_core", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
