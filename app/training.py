"""Training in the background: one job at a time per server, in a child process that outlives page visits.

    runner = training_runner()                     # process-wide, shared by every session
    job = runner.start(TrainingRequest(name="my-cam", clips=[...], preset="fast", minutes=5))
    job.snapshot()                                 # steps, losses, fraction, ETA, state: for the live view
    job.cancel()                                   # stops after the current step, then calibrates and saves

The child is the command line itself, `python -m vad_core train ... --progress-json`: the same training and
calibration on held-out normal frames as for CLI users, its steps read from its stdout, a cancel sent as
SIGTERM (which it turns into "stop, calibrate, save"). A process, not a thread: the server's interpreter
stays free for the pages, and torch's first optimizer, which imports torch._dynamo and inspects every loaded
module, starts in seconds instead of minutes among Streamlit's modules.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from app.models import check_model_name, models_folder
from app.state import safe_upload_name
from vad_core import BadInput
from vad_core.train import TrainProgress

LOG = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
MAX_CLIPS = 50
MAX_UPLOAD_BYTES = 2 << 30  # uploaded clips of one run, staged on disk while it trains
MAX_MINUTES = 600.0  # also caps a run given in epochs: one user must not hold the server for days


@dataclass(frozen=True)
class ClipFile:
    """A normal clip to train on: a file on the server, or uploaded bytes."""

    name: str
    path: Path | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class TrainingRequest:
    """What the train-your-scene form asks for. clips, or a dataset folder (its train/ part is used).

    init: a checkpoint to fine-tune instead of a new model. normal_ranges: adapt init to the one clip's own
    normal frames (source frame numbers, end exclusive), as `vad_core adapt` does."""

    name: str
    preset: str = "fast"
    minutes: float | None = 5.0
    epochs: int | None = None
    clips: tuple[ClipFile, ...] = ()
    dataset: Path | None = None
    init: Path | None = None
    normal_ranges: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's progress for one redraw."""

    name: str
    state: str  # running, calibrating, done, cancelled, failed
    steps: list[int]
    losses: list[float]
    fraction: float
    elapsed_s: float
    frames_seen: int
    eta_s: float | None
    message: str
    checkpoint: Path | None

    @property
    def finished(self) -> bool:
        return self.state in {"done", "cancelled", "failed"}


@dataclass
class TrainingJob:
    """One run: the relay thread writes progress under the lock, views read snapshots."""

    request: TrainingRequest
    command: list[str]
    state: str = "running"
    message: str = ""
    checkpoint: Path | None = None
    process: subprocess.Popen | None = None
    _progress: list[TrainProgress] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_step(self, progress: TrainProgress) -> None:
        with self._lock:
            self._progress.append(progress)
            if progress.fraction >= 1.0:
                self.state = "calibrating"

    @property
    def cancel_requested(self) -> bool:
        return self._stop.is_set()

    def cancel(self) -> None:
        """Ask the child to stop after its current step; it then calibrates and saves."""
        self._stop.set()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def finish(self, state: str, message: str, checkpoint: Path | None = None) -> None:
        with self._lock:
            self.state, self.message, self.checkpoint = state, message, checkpoint

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            progress = list(self._progress)
            state = "calibrating" if self.state == "running" and self._stop.is_set() else self.state
            message, checkpoint = self.message, self.checkpoint
        last = progress[-1] if progress else None
        fraction = last.fraction if last else 0.0
        elapsed = last.elapsed_s if last else 0.0
        eta = None
        if state == "running" and last and fraction > 0:
            eta = max(elapsed / fraction - elapsed, 0.0)
        return JobSnapshot(
            name=self.request.name,
            state=state,
            steps=[p.step for p in progress],
            losses=[p.loss for p in progress],
            fraction=fraction,
            elapsed_s=elapsed,
            frames_seen=last.frames_seen if last else 0,
            eta_s=eta,
            message=message,
            checkpoint=checkpoint,
        )


def _stage_clips(clips: tuple[ClipFile, ...], folder: Path) -> Path:
    """Copy the chosen clips into folder/train, the dataset layout train() reads."""
    train_dir = folder / "train"
    train_dir.mkdir(parents=True)
    for i, clip in enumerate(clips):  # an upload's name is never a path; a lone clip keeps its name (the card says it)
        target = train_dir / (f"{i:03d}_" * (len(clips) > 1) + safe_upload_name(clip.name))
        if clip.path is not None:
            shutil.copyfile(clip.path, target)
        else:
            target.write_bytes(clip.data or b"")
    return folder


def _train_command(request: TrainingRequest, data: Path, out: Path) -> list[str]:
    """The CLI call that trains this request: `adapt` on the one clip's normal ranges, else `train`."""
    minutes = ["--minutes", str(min(request.minutes or MAX_MINUTES, MAX_MINUTES))]
    if request.normal_ranges:
        clip = next((data / "train").iterdir())
        command = [sys.executable, "-m", "vad_core", "adapt", str(clip), "--out", str(out), "--progress-json"]
        command += [f"--normal={start}:{end}" for start, end in request.normal_ranges]
        return [*command, "--checkpoint", str(request.init), *minutes]
    command = [sys.executable, "-m", "vad_core", "train", "--data", str(data), "--out", str(out)]
    command += ["--preset", request.preset, "--progress-json"]
    if request.init is not None:
        command += ["--init", str(request.init)]
    if request.epochs is not None:
        command += ["--epochs", str(request.epochs)]
    return [*command, *minutes]


def _outcome(job: TrainingJob, summary: dict | None, returncode: int, stderr: str) -> tuple[str, str, Path | None]:
    """(state, message, checkpoint) from the child's last stdout object, exit status and stderr."""
    if summary is not None and returncode == 0:
        checkpoint = Path(summary["checkpoint"])
        return ("cancelled" if summary["cancelled"] else "done"), f"saved {checkpoint}", checkpoint
    if job.cancel_requested:
        return "cancelled", "cancelled before the first step: nothing was learned, nothing saved", None
    last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {returncode}"
    if returncode == 2:  # bad input: the CLI's one clear line
        return "failed", last.removeprefix("error: "), None
    LOG.error("training %s failed (exit %s): %s", job.request.name, returncode, stderr)
    return "failed", f"internal error: {last}", None


def _run(job: TrainingJob, staging: Path | None) -> None:
    """Run the CLI, relay its steps; the job is marked finished only once the staged clips are gone."""
    outcome: tuple[str, str, Path | None] = ("failed", "the training process did not start", None)
    try:
        with tempfile.TemporaryFile(mode="w+") as errors:
            env = os.environ | {"PYTHONPATH": str(ROOT)}
            child = subprocess.Popen(job.command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
            job.process = child
            with child:
                if job.cancel_requested:  # cancelled while it was starting
                    job.cancel()
                summary = None
                for line in child.stdout:
                    event = json.loads(line) if line.startswith("{") else {}
                    if "done" in event:
                        summary = event["done"]
                    elif "step" in event:
                        job.on_step(TrainProgress(**event))
            errors.seek(0)
            outcome = _outcome(job, summary, child.returncode, errors.read())
    except Exception as err:  # the page must say what happened; the log keeps the traceback
        LOG.exception("training %s failed", job.request.name)
        outcome = ("failed", f"internal error: {type(err).__name__}: {err}", None)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        job.finish(*outcome)


class TrainingRunner:
    """Starts jobs one at a time (a 2-core machine has no room for two) and remembers the latest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.job: TrainingJob | None = None

    def busy(self) -> bool:
        return self.job is not None and not self.job.snapshot().finished

    def start(self, request: TrainingRequest) -> TrainingJob:
        """Validate, stage the clips and start the run; BadInput when it cannot start."""
        check_model_name(request.name)
        if not request.clips and request.dataset is None:
            raise BadInput("choose at least one normal clip, or a dataset folder")
        if len(request.clips) > MAX_CLIPS:
            raise BadInput(f"{len(request.clips)} clips: at most {MAX_CLIPS} per run")
        uploaded = sum(len(clip.data or b"") for clip in request.clips)
        if uploaded > MAX_UPLOAD_BYTES:
            raise BadInput(f"{uploaded / 2**30:.1f} GB of clips: at most {MAX_UPLOAD_BYTES / 2**30:.0f} GB per run")
        if request.dataset is not None and not request.dataset.is_dir():
            raise BadInput(f"{request.dataset}: no such folder on the server")
        if request.normal_ranges and (len(request.clips) != 1 or request.init is None):
            raise BadInput("adapting takes one clip and the model to start from")
        with self._lock:
            if self.busy():
                raise BadInput("a training run is in progress; wait for it or cancel it first")
            folder = models_folder()
            folder.mkdir(parents=True, exist_ok=True)
            staging = None
            data = request.dataset
            if request.clips:
                staging = Path(tempfile.mkdtemp(prefix=f".staging-{request.name}-", dir=folder))
                data = _stage_clips(request.clips, staging)
            job = TrainingJob(request, _train_command(request, Path(data), folder / request.name))
            self.job = job
            threading.Thread(target=_run, args=(job, staging), name=f"vad-train-{request.name}", daemon=True).start()
            return job


@st.cache_resource
def training_runner() -> TrainingRunner:
    """One runner per server process, so a run survives page changes and reconnects."""
    return TrainingRunner()
