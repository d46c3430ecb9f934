"""Training in the background: one job at a time per server, in a child process that outlives page visits.

    runner = training_runner()                     # process-wide, shared by every session
    job = runner.start(TrainingRequest(name="my-cam", clips=[...], minutes=5, owner=session_token()))
    job.snapshot()                                 # stages, steps, losses, ETA, state, whose: for the live view
    job.cancel(session_token())                    # only its owner: stop after this step, calibrate, save

The child is the command line itself, `python -m vad_core train ... --progress-json`: the same training and
calibration on held-out normal frames as for CLI users, its steps read from its stdout, a cancel sent as
SIGTERM (which it turns into "stop, calibrate, save"; for the best-of-three kind "stop the autoencoder's training,
then fuse, choose and save"). A process, not a thread: the server's interpreter stays free for the pages, and
torch's first optimizer, which imports torch._dynamo and inspects every loaded module, starts in seconds instead
of minutes among Streamlit's modules.

On a shared server (a class, a control room) the child is fenced in (app.jobs, which runs batch children too):
it runs in a process group of its own, which a second Cancel (or a Cancel before its first step) kills outright,
and it dies with the server, even a SIGKILL-ed one (Linux: PR_SET_PDEATHSIG; elsewhere at exit). Its clips are
decoded under the app's analysis limits, a folder source must lie under VAD_DATA_ROOT, and what killed servers
left in the models folder is swept at start-up.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import BinaryIO

import streamlit as st

from app.data_root import allowed_folder, data_root
from app.jobs import ChildJob, run_child
from app.models import (
    RESUME_SUFFIX,
    RUN_LOCK,
    RUN_MODEL,
    STAGING_PREFIX,
    check_model_name,
    models_folder,
    record_trainer,
    session_label,
    swept_models_folder,
)
from app.state import app_limits, safe_upload_name
from app.work_queue import LeftQueue, WorkQueue, work_queue
from vad_core import BadInput
from vad_core.io.video import image_files, normal_clips
from vad_core.model.card import DETECTOR_KINDS
from vad_core.training.best_fit import candidate_stem
from vad_core.training.train import CLIP_LIMIT_VARIABLES, TrainProgress

LOG = logging.getLogger(__name__)
MAX_CLIPS = 50
MAX_UPLOAD_BYTES = 2 << 30  # uploaded clips of one run, staged on disk while it trains
STEP_FIELDS = [f.name for f in fields(TrainProgress)]
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

    kind: "autoencoder"; "best" (`train --kind best`: a motion detector, an autoencoder and their fusion in one budget
    of minutes, the best on injected anomalies kept as name, each beside it as name-KIND; no init); or "motion"
    (`train --kind motion`: fitted in seconds; no preset, budget or init); with normal_ranges, "fused" adapts init
    as `adapt --kind fused` does, anything else keeps init's own kind.
    init: a checkpoint to fine-tune instead of a new model. normal_ranges: adapt init to the one clip's own
    normal frames (source frame numbers, end exclusive), as `vad_core adapt` does."""

    name: str
    kind: str = "autoencoder"
    preset: str = "fast"
    minutes: float | None = 5.0
    epochs: int | None = None
    clips: tuple[ClipFile, ...] = ()
    dataset: Path | None = None
    init: Path | None = None
    normal_ranges: tuple[tuple[int, int], ...] = ()
    owner: str = ""  # the starting session's private id (app.models.session_token): only it may cancel


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's progress for one redraw."""

    name: str
    owner_label: str  # "session 3f2a": whose run it is, for everyone to see
    state: str  # running, calibrating, stopping, done, cancelled, failed
    kind: str  # the request's
    stages: tuple[str, ...]  # the phases the child announced so far, the last the current one (best-of-three runs)
    steps: list[int]
    losses: list[float]
    fraction: float
    elapsed_s: float
    frames_seen: int
    eta_s: float | None
    message: str
    checkpoint: Path | None
    cancel_requested: bool = False
    queued: str = ""  # while it waits for a heavy-work slot: how many jobs are ahead of it
    chosen: str = ""  # a best-of-three run: the kind kept under its name
    verdict: str = ""  # how the saved model fares against the model-free baselines on injected anomalies

    @property
    def finished(self) -> bool:
        return self.state in {"done", "cancelled", "failed"}


@dataclass
class TrainingJob(ChildJob):
    """One run: the relay thread writes progress under the lock, views read snapshots."""

    request: TrainingRequest = field(kw_only=True)
    state: str = "running"
    stages: list[str] = field(default_factory=list)
    message: str = ""
    checkpoint: Path | None = None
    summary: dict = field(default_factory=dict)  # the child's last object, `done`, once it has saved
    _progress: list[TrainProgress] = field(default_factory=list)

    def on_step(self, progress: TrainProgress) -> None:
        with self._lock:
            self._progress.append(progress)
            if progress.fraction >= 1.0:
                self.state = "calibrating"

    def on_stage(self, stage: str) -> None:
        """A new phase of a best-of-three run: running again, until its steps (if any) say otherwise."""
        with self._lock:
            self.stages.append(stage)
            self.state = "running"

    def is_owner(self, session: str) -> bool:
        return session == self.request.owner

    def cancel(self, session: str) -> None:
        """The owner's Cancel. The first asks the child to stop after its current step, then calibrate and save what
        it learned; before its first step there is nothing to save, and the child is killed. A second Cancel kills
        the child's whole process group at once: nothing is saved. BadInput for any other session."""
        if not self.is_owner(session):
            raise BadInput(f"only {session_label(self.request.owner)}, which started this run, can cancel it")
        with self._lock:
            again = self._stop.is_set() or not self._progress
        if again:
            self.kill()
        else:
            self.stop()

    def finish(self, state: str, message: str, checkpoint: Path | None = None, summary: dict | None = None) -> None:
        with self._lock:
            self.state, self.message, self.checkpoint = state, message, checkpoint
            self.summary = summary or {}

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            progress = list(self._progress)
            state = self.state
            if state in {"running", "calibrating"} and self._stop.is_set():
                state = "stopping" if self._kill.is_set() else "calibrating"
            message, checkpoint, stages, summary = self.message, self.checkpoint, tuple(self.stages), self.summary
        last = progress[-1] if progress else None
        fraction = last.fraction if last else 0.0
        elapsed = last.elapsed_s if last else 0.0
        eta = None
        if state == "running" and last and 0 < fraction < 1:
            eta = max(elapsed / fraction - elapsed, 0.0)
        return JobSnapshot(
            name=self.request.name,
            owner_label=session_label(self.request.owner),
            kind=self.request.kind,
            state=state,
            stages=stages,
            steps=[p.step for p in progress],
            losses=[p.loss for p in progress],
            fraction=fraction,
            elapsed_s=elapsed,
            frames_seen=last.frames_seen if last else 0,
            eta_s=eta,
            message=message,
            checkpoint=checkpoint,
            cancel_requested=self._stop.is_set(),
            queued=self.queued,
            chosen=str(summary.get("chosen") or ""),
            verdict=str(summary.get("verdict") or ""),
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
    """The CLI call that trains this request: `adapt` on the one clip's normal ranges, else `train` (of its
    kind)."""
    minutes = ["--minutes", str(min(request.minutes or MAX_MINUTES, MAX_MINUTES))]
    if request.normal_ranges:
        clip = next((data / "train").iterdir())
        command = [sys.executable, "-m", "vad_core", "adapt", str(clip), "--out", str(out), "--progress-json"]
        command += [f"--normal={start}:{end}" for start, end in request.normal_ranges]
        command += ["--kind", "fused"] if request.kind == "fused" else []  # else: the kind of the model adapted
        return [*command, "--checkpoint", str(request.init), *minutes]
    command = [sys.executable, "-m", "vad_core", "train", "--data", str(data), "--out", str(out), "--progress-json"]
    if request.kind == "motion":
        return [*command, "--kind", "motion"]
    command += ["--kind", "best" if request.kind == "best" else "autoencoder", "--preset", request.preset]
    if request.init is not None:
        command += ["--init", str(request.init)]
    if request.epochs is not None:
        command += ["--epochs", str(request.epochs)]
    return [*command, *minutes]


def _outcome(job: TrainingJob, summary: dict | None, returncode: int, stderr: str) -> tuple[str, str, Path | None]:
    """(state, message, checkpoint) from the child's last stdout object, exit status and stderr."""
    if summary is not None and returncode == 0:
        checkpoint = Path(summary["checkpoint"])
        return ("cancelled" if summary.get("cancelled") else "done"), f"saved {checkpoint}", checkpoint
    if job.cancel_requested and not job.snapshot().steps:
        return "cancelled", "cancelled before the first step: nothing was learned, nothing saved", None
    if job.killed:
        return "cancelled", "stopped at once: what it had learned was discarded, nothing saved", None
    last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {returncode}"
    if returncode == 2:  # bad input: the CLI's one clear line
        return "failed", last.removeprefix("error: "), None
    LOG.error("training %s failed (exit %s): %s", job.request.name, returncode, stderr)
    return "failed", f"internal error: {last}", None


def _stems(request: TrainingRequest, out: Path) -> list[Path]:
    """The models a run saves: out, and a best-of-three run's candidates beside it (their names were free when it
    started: train_best checks them)."""
    return [out, *(candidate_stem(out, kind) for kind in DETECTOR_KINDS)] if request.kind == "best" else [out]


def _discard(stems: list[Path]) -> None:
    """Remove whatever a run that saved nothing may have half-written at its checkpoint stems."""
    for stem in stems:
        for suffix in (".safetensors", ".json", RESUME_SUFFIX):
            stem.with_name(stem.name + suffix).unlink(missing_ok=True)


def _event(line: str) -> dict:
    """A stdout line of the child as an object: {} for anything else (a library's stray print)."""
    try:
        event = json.loads(line)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def _run(job: TrainingJob, staging: Path, lock: BinaryIO, queue: WorkQueue) -> None:
    """Run the CLI, relay its steps; the job is marked finished only once the staging folder is gone.

    lock: the open, flock-ed run lock in staging, passed on to the child, so that the run counts as live (and is
    spared by the start-up sweep of a server sharing the folder) while either process lives."""
    outcome: tuple[str, str, Path | None] = ("failed", "the training process did not start", None)
    out = models_folder() / job.request.name
    summary: dict | None = None

    def relay(line: str) -> None:  # keys it does not know are left alone: a newer child may say more
        nonlocal summary
        event = _event(line)
        if "done" in event:
            summary = event["done"]
        elif "stage" in event:
            job.on_stage(str(event["stage"]))
        elif set(STEP_FIELDS) <= event.keys():
            job.on_step(TrainProgress(**{name: event[name] for name in STEP_FIELDS}))

    try:
        returncode, stderr = run_child(job, queue, relay, pass_fds=(lock.fileno(),))
        outcome = _outcome(job, summary, returncode, stderr)
        if outcome[2] is None:
            _discard(_stems(job.request, out))
        elif job.request.owner:
            for stem in _stems(job.request, out):
                record_trainer(stem, job.request.owner)
    except LeftQueue:
        outcome = ("cancelled", "cancelled while waiting for a free slot; nothing saved", None)
    except Exception as err:  # the page must say what happened; the log keeps the traceback
        LOG.exception("training %s failed", job.request.name)
        outcome = ("failed", f"internal error: {type(err).__name__}: {err}", None)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        lock.close()
        job.finish(*outcome, summary=summary if outcome[2] is not None else None)


def _clip_bytes(clip: Path, root: Path) -> int:
    """The bytes of a clip of a server folder (a video, or a folder of frame images); BadInput when it, or a frame
    in it, is a link that leads out of the allowed data root."""
    files = image_files(clip) if clip.is_dir() else [clip]
    for file in files:
        if not file.resolve().is_relative_to(root):
            raise BadInput(f"{clip.name}: a link to a file outside the allowed data folder {root}")
    return sum(file.stat().st_size for file in files)


def _check_folder(text: str) -> Path:
    """The dataset folder a user typed, if it lies under VAD_DATA_ROOT and its clips fit the upload caps."""
    folder = allowed_folder(text)
    root = data_root()
    assert root is not None  # allowed_folder refuses every folder without one
    clips = normal_clips(folder)
    if len(clips) > MAX_CLIPS:
        raise BadInput(f"{folder.name} holds {len(clips)} clips: at most {MAX_CLIPS} per run")
    size = sum(_clip_bytes(clip, root) for clip in clips)
    if size > MAX_UPLOAD_BYTES:
        raise BadInput(f"{size / 2**30:.1f} GB of clips: at most {MAX_UPLOAD_BYTES / 2**30:.0f} GB per run")
    return folder


def _clip_limits_env() -> dict[str, str]:
    """The app's analysis limits, as the training child reads them for each clip it decodes."""
    limits = app_limits()
    values = (limits.max_frames, limits.max_seconds)
    return {name: str(value) for name, value in zip(CLIP_LIMIT_VARIABLES, values, strict=True) if value is not None}


def _clip_size(clip: ClipFile) -> int:
    if clip.data is not None:
        return len(clip.data)
    return clip.path.stat().st_size if clip.path is not None else 0


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
        size = sum(_clip_size(clip) for clip in request.clips)
        if size > MAX_UPLOAD_BYTES:
            raise BadInput(f"{size / 2**30:.1f} GB of clips: at most {MAX_UPLOAD_BYTES / 2**30:.0f} GB per run")
        data = _check_folder(str(request.dataset)) if request.dataset is not None and not request.clips else None
        if request.normal_ranges and (len(request.clips) != 1 or request.init is None):
            raise BadInput("adapting takes one clip and the model to start from")
        if request.kind == "fused" and not request.normal_ranges:
            raise BadInput("a fused model is made by adapting a model to a clip's normal frames")
        if request.kind in {"motion", "best"} and (request.init is not None or request.normal_ranges):
            raise BadInput(f"a {request.kind} run fits its models afresh from its clips: it starts from no other model")
        with self._lock:
            if self.busy():
                raise BadInput("a training run is in progress; wait for it or cancel it first")
            folder = models_folder()
            folder.mkdir(parents=True, exist_ok=True)
            swept_models_folder(str(folder))  # before this server's first run there, never during one
            staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{request.name}-", dir=folder))
            lock = (staging / RUN_LOCK).open("wb")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                (staging / RUN_MODEL).write_text(request.name + "\n")
                if data is None:
                    data = _stage_clips(request.clips, staging)
                command = _train_command(request, data, folder / request.name)
            except BaseException:
                lock.close()
                shutil.rmtree(staging, ignore_errors=True)
                raise
            job = TrainingJob(
                command, f"training of {request.name}", request.owner, _clip_limits_env(), request=request
            )
            self.job = job
            queue = work_queue()
            thread = threading.Thread(target=_run, args=(job, staging, lock, queue), name=f"vad-train-{request.name}")
            thread.daemon = True
            thread.start()
            return job

    def shutdown(self) -> None:
        """The server is exiting: kill a run still going (its group), nothing saved."""
        job = self.job
        if job is not None and not job.snapshot().finished:
            job.kill()


@st.cache_resource
def training_runner() -> TrainingRunner:
    """One runner per server process, so a run survives page changes and reconnects. Made once: the models folder
    is swept of what a killed server left, and a run still going when the server exits is killed with it."""
    swept_models_folder(str(models_folder()))
    runner = TrainingRunner()
    atexit.register(runner.shutdown)
    return runner
