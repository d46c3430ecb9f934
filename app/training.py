"""Training in the background: one job at a time per server, in a child process that outlives page visits.

    runner = training_runner()                     # process-wide, shared by every session
    job = runner.start(TrainingRequest(name="my-cam", clips=[...], preset="fast", minutes=5))
    job.snapshot()                                 # steps, losses, fraction, ETA, state: for the live view
    job.cancel()                                   # stops after the current step, then calibrates and saves

The child runs the same vad_core.train.train as `python -m vad_core train`, with the same calibration on held-out
normal frames, and saves to the user models folder. A cancelled run keeps what it learned. A process, not a
thread: the server's interpreter stays free for the pages, and torch's first optimizer (which imports
torch._dynamo, inspecting every loaded module) starts in seconds instead of minutes among Streamlit's modules.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from app.models import check_model_name, models_folder
from vad_core import BadInput
from vad_core.train import TrainConfig, TrainProgress, TrainResult, train_in_child

LOG = logging.getLogger(__name__)
MAX_CLIPS = 50
SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked server threads or locks


@dataclass(frozen=True)
class ClipFile:
    """A normal clip to train on: a file on the server, or uploaded bytes."""

    name: str
    path: Path | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class TrainingRequest:
    """What the train-your-scene form asks for. clips, or a dataset folder (its train/ part is used)."""

    name: str
    preset: str = "fast"
    minutes: float | None = 5.0
    epochs: int | None = None
    clips: tuple[ClipFile, ...] = ()
    dataset: Path | None = None


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
    """One run: the thread writes progress under the lock, views read snapshots."""

    request: TrainingRequest
    config: TrainConfig
    started: float = field(default_factory=time.monotonic)
    state: str = "running"
    message: str = ""
    result: TrainResult | None = None
    _progress: list[TrainProgress] = field(default_factory=list)
    _stop: object = field(default_factory=SPAWN.Event)  # a multiprocessing Event, shared with the child
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_step(self, progress: TrainProgress) -> None:
        with self._lock:
            self._progress.append(progress)
            if progress.fraction >= 1.0:
                self.state = "calibrating"

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def cancel(self) -> None:
        self._stop.set()

    def finish(self, state: str, message: str, result: TrainResult | None = None) -> None:
        with self._lock:
            self.state, self.message, self.result = state, message, result

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            progress = list(self._progress)
            state = "calibrating" if self.state == "running" and self._stop.is_set() else self.state
            message, result = self.message, self.result
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
            checkpoint=result.checkpoint if result else None,
        )


def _stage_clips(clips: tuple[ClipFile, ...], folder: Path) -> Path:
    """Copy the chosen clips into folder/train, the dataset layout train() reads."""
    train_dir = folder / "train"
    train_dir.mkdir(parents=True)
    for i, clip in enumerate(clips):
        target = train_dir / f"{i:03d}_{clip.name}"
        if clip.path is not None:
            shutil.copyfile(clip.path, target)
        else:
            target.write_bytes(clip.data or b"")
    return folder


def _relay(job: TrainingJob, child: multiprocessing.Process, events: multiprocessing.Queue) -> tuple:
    """Pass the child's steps to the job until its outcome arrives: (state, message, result)."""
    while True:
        try:
            kind, payload = events.get(timeout=1.0)
        except queue.Empty:
            if not child.is_alive():
                return "failed", f"the training process ended unexpectedly (exit code {child.exitcode})", None
            continue
        if kind == "step":
            job.on_step(payload)
        elif kind == "done":
            return ("cancelled" if payload.cancelled else "done"), f"saved {payload.checkpoint}", payload
        elif kind == "failed":
            return "failed", payload, None
        else:
            LOG.error("training %s failed: %s", job.request.name, payload)
            return "failed", f"internal error: {payload}", None


def _run(job: TrainingJob, staging: Path | None) -> None:
    """Run the training process; the job is marked finished only once the staged clips are gone."""
    events = SPAWN.Queue()
    child = SPAWN.Process(
        target=train_in_child, args=(job.config, events, job._stop), name=f"vad-train-{job.request.name}", daemon=True
    )
    outcome: tuple = ("failed", "the training process did not start", None)
    try:
        child.start()
        outcome = _relay(job, child, events)
    except Exception as err:  # the page must say what happened; the log keeps the traceback
        LOG.exception("training %s failed", job.request.name)
        outcome = ("failed", f"internal error: {type(err).__name__}: {err}", None)
    finally:
        child.join(timeout=30)
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
        """Validate, stage the clips and start the thread; BadInput when it cannot start."""
        check_model_name(request.name)
        if not request.clips and request.dataset is None:
            raise BadInput("choose at least one normal clip, or a dataset folder")
        if len(request.clips) > MAX_CLIPS:
            raise BadInput(f"{len(request.clips)} clips: at most {MAX_CLIPS} per run")
        if request.dataset is not None and not request.dataset.is_dir():
            raise BadInput(f"{request.dataset}: no such folder on the server")
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
            config = TrainConfig(
                data=str(data),
                out=str(folder / request.name),
                preset=request.preset,
                minutes=request.minutes,
                epochs=request.epochs,
                command=f"app: train your scene ({len(request.clips) or 'dataset'} clips, preset {request.preset})",
            )
            job = TrainingJob(request, config)
            self.job = job
            threading.Thread(target=_run, args=(job, staging), name=f"vad-train-{request.name}", daemon=True).start()
            return job


@st.cache_resource
def training_runner() -> TrainingRunner:
    """One runner per server process, so a run survives page changes and reconnects."""
    return TrainingRunner()
