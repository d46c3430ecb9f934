"""A batch of uploads scored in the background: `python -m vad_core batch` as a child of the server (app.jobs),
in one of its heavy-work slots, stopped when its page is left and killed with the server.

    job = batch_runs().start(inputs, out, videos=3, checkpoint=stem, owner=session_id())
    job.viewer.seen()              # the page, on each redraw: it is still looked at (app.viewers)
    job.progress()                 # "2 of 3 videos finished", read from DIR/summary.json as the child writes it

The page polls nothing itself: it draws the job's state on each redraw. A job that its page stops looking at
for app.viewers.LEAVE_S (another page, a closed browser) is stopped with SIGTERM, which the batch turns into a
clean stop (Ray shut down, outputs whole), and killed STOP_GRACE_S later if it is still running.
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from app.jobs import ChildJob, run_child
from app.viewers import Viewer
from app.work_queue import LeftQueue, WorkQueue, work_queue
from vad_core.batch.outputs import SUMMARY
from vad_core.io.limits import AnalysisLimits

LOG = logging.getLogger(__name__)
STOP_GRACE_S = 15.0  # after SIGTERM, before SIGKILL
STARTUP_S = 120.0  # Ray and the replicas starting, and the tables written: beside the time each video may take
WATCH_S = 0.5


@dataclass
class BatchJob(ChildJob):
    """One batch run of uploads: its output folder, and how it ended (running, done, failed or cancelled)."""

    out: Path = field(kw_only=True)
    videos: int = field(kw_only=True)
    deadline_s: float | None = field(default=None, kw_only=True)  # seconds it may run once started (its slot held)
    state: str = "running"
    message: str = ""
    viewer: Viewer = field(init=False)

    def __post_init__(self) -> None:
        self.viewer = Viewer(self.owner)

    @property
    def finished(self) -> bool:
        return self.state != "running"

    def progress(self) -> str:
        """How far it is, from the summary.json the child rewrites as videos finish."""
        if self.queued:
            return self.queued
        try:
            summary = json.loads((self.out / SUMMARY).read_text())
            return f"{len(summary['done']) + len(summary['failed'])} of {self.videos} videos finished"
        except (OSError, ValueError, KeyError):
            return "Starting the workers…"


def _run(job: BatchJob, queue: WorkQueue) -> None:
    try:
        returncode, stderr = run_child(job, queue, on_line=lambda _line: None)  # stdout: the --json summary
        if (job.out / SUMMARY).is_file() and returncode in (0, 2):  # 2: some videos failed, the rest are scored
            job.state = "done"
        else:
            job.message = job.message or (stderr.strip().splitlines()[-1] if stderr.strip() else "the batch failed")
            job.state = "cancelled" if job.cancel_requested else "failed"
    except LeftQueue:
        job.message, job.state = "left the queue before it started", "cancelled"
    except Exception as err:  # the page must say what happened; the log keeps the traceback
        LOG.exception("batch %s failed", job.label)
        job.message, job.state = f"internal error: {type(err).__name__}: {err}", "failed"


def limit_options(limits: AnalysisLimits) -> list[str]:
    """The batch command's options for the app's limits (vad_core.cli.batch)."""
    options = ["--max-frame-pixels", str(limits.max_pixels)]
    if limits.max_frames is not None:
        options += ["--max-frames", str(limits.max_frames)]
    if limits.max_seconds is not None:
        options += ["--max-seconds", repr(limits.max_seconds)]
    if limits.max_total_pixels is not None:
        options += ["--max-gigapixels", repr(limits.max_total_pixels / 1e9)]
    return options


def _overdue(job: BatchJob, started: float | None) -> bool:
    return started is not None and job.deadline_s is not None and time.monotonic() - started > job.deadline_s


def _watch(job: BatchJob) -> None:
    """Stop the job once its page is left (app.viewers) or it passes its deadline; kill it if it lingers."""
    deadline: float | None = None
    started: float | None = None
    while not job.finished:
        if started is None and job.process is not None:
            started = time.monotonic()
        if deadline is None and _overdue(job, started):
            LOG.info("%s: past its %.0f s; stopping it", job.label, job.deadline_s)
            job.message = f"stopped after {job.deadline_s:.0f} s (the time limit of the batch)"
            job.stop()
            deadline = time.monotonic() + STOP_GRACE_S
        elif deadline is None and job.viewer.gone():
            LOG.info("%s: its page was left; stopping it", job.label)
            job.stop()
            deadline = time.monotonic() + STOP_GRACE_S
        elif deadline is not None and not job.killed and time.monotonic() > deadline:
            job.kill()
        time.sleep(WATCH_S)


class BatchRuns:
    """Every batch child this server started, so that those still running are killed when it exits."""

    def __init__(self) -> None:
        self._jobs: list[BatchJob] = []
        self._lock = threading.Lock()

    def start(
        self, inputs: Path, out: Path, videos: int, checkpoint: Path, owner: str, limits: AnalysisLimits
    ) -> BatchJob:
        """limits: the app's, for each video; decoding in the sandbox (its caps from the server's environment,
        which the child inherits); the whole run may take STARTUP_S plus limits.max_seconds a video."""
        command = [sys.executable, "-m", "vad_core", "batch", str(inputs), "--out", str(out), "--json"]
        command += ["--checkpoint", str(checkpoint), "--sandbox", *limit_options(limits)]
        label = f"batch of {videos} videos"
        env = {"RAY_USAGE_STATS_ENABLED": "0"}
        deadline = STARTUP_S + videos * limits.max_seconds if limits.max_seconds is not None else None
        job = BatchJob(command, label, owner, env, out=out, videos=videos, deadline_s=deadline)
        with self._lock:
            self._jobs = [j for j in self._jobs if not j.finished] + [job]
        queue = work_queue()
        threading.Thread(target=_run, args=(job, queue), name="vad-batch", daemon=True).start()
        threading.Thread(target=_watch, args=(job,), name="vad-batch-watch", daemon=True).start()
        return job

    def shutdown(self) -> None:
        """The server is exiting: kill the runs still going (their groups)."""
        with self._lock:
            for job in self._jobs:
                if not job.finished:
                    job.kill()


@st.cache_resource
def batch_runs() -> BatchRuns:
    """One registry per server process; its runs are killed when the server exits."""
    runs = BatchRuns()
    atexit.register(runs.shutdown)
    return runs
