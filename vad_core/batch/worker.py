"""A model replica for batch scoring: loads the checkpoint once, then scores one video per call with `analyze`.

worker = ScoringWorker(device="cpu", threads=1)
worker.load(checkpoint_files("assets/models/ped2"))         # once; score(..., checkpoint) reloads after a restart
result = worker.score("Test004.mp4", "/data/Test004.mp4")   # {"ok": True, "frames": 180, "files": {...}}
result = worker.score("x.mp4", b"...video bytes...")         # a video shipped through Ray's object store

The driver (vad_core.batch.run) wraps this class in ray.remote; nothing here imports Ray, so the same code
runs in a test without a cluster. Scoring is the project's one engine, vad_core.pipeline.analysis.analyze, and the
files are the ones `analyze --out` writes (vad_core.batch.stored.write_analysis calls Analysis.save).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from vad_core.errors import BadInput
from vad_core.io.limits import AnalysisLimits
from vad_core.io.sandbox import SandboxLimits
from vad_core.model.checkpoint import checkpoint_paths, zones_path

if TYPE_CHECKING:
    from vad_core.scoring.zones import Zones

if TYPE_CHECKING:
    from vad_core.model.checkpoint import Detector
    from vad_core.pipeline.result import Analysis

UNSAFE = re.compile(r"[^\w.+-]")
Publish = Callable[["Analysis", "Detector", str, Path], "str | None"]  # (analysis, model, video name, its file)


def checkpoint_files(stem: str | Path, zones: Zones | None = None) -> dict[str, bytes]:
    """A checkpoint as bytes, to travel to workers that may not share this machine's files; with its zones
    (these, as batch --zones gives them, else the model's STEM.zones.json) where there are any."""
    weights, card = checkpoint_paths(stem)
    for path in (weights, card):
        if not path.is_file():
            raise BadInput(f"checkpoint file {path} not found")
    files = {"stem": Path(weights.stem).name.encode(), "weights": weights.read_bytes(), "card": card.read_bytes()}
    if zones is not None:
        files["zones"] = zones.to_json().encode()
    elif zones_path(stem).is_file():
        files["zones"] = zones_path(stem).read_bytes()
    return files


def safe_name(name: str) -> str:
    """A file or folder name from a video's batch name (which may hold '/' between folder parts)."""
    return UNSAFE.sub("_", name.replace("/", "__")).strip(".")[-150:] or "video"


class ScoringWorker:
    """One model replica: the checkpoint loaded once, one torch thread on a CPU (threads), one video at a time."""

    def __init__(
        self,
        device: str | None = None,
        threads: int = 1,
        pin: bool = False,
        limits: AnalysisLimits | None = None,
        sandbox: SandboxLimits | None = None,
        publish: Publish | None = None,
    ) -> None:
        """threads: torch's threads in this replica's process, which Ray starts with the same share in
        VAD_CPU_THREADS (vad_core.batch.run), the model threads' budget. pin: take one core of this machine for
        the whole process (see claim_core), so that a replica counted as one CPU uses one; its decoding thread
        then shares that core with the model's. limits: what one video may cost (none by default, as `analyze`);
        sandbox: decode each video in a capped, killable child (vad_core.io.sandbox), as the app does uploads.
        publish: called with each video's analysis once its outputs are written (the event store's
        vad_core.events.batch.BatchPublisher); what it returns, a line or None, is the result's "notice"."""
        import torch

        torch.set_num_threads(threads)
        self.device, self.model, self._key = device, None, b""
        self.limits, self.sandbox, self.publish = limits, sandbox, publish
        self._frames_done = 0
        self._folder = tempfile.TemporaryDirectory(prefix="vad-batch-worker-")
        self._core = claim_core() if pin else None

    def load(self, checkpoint: dict[str, bytes] | list) -> None:
        """Load the model once (again after a restart): checkpoint_files(stem), or a one-item list holding Ray's
        reference to it, which the replica fetches itself."""
        if isinstance(checkpoint, list):
            import ray

            checkpoint = ray.get(checkpoint[0])
        key = checkpoint["weights"][:64] + checkpoint["card"] + checkpoint.get("zones", b"")
        if self.model is not None and key == self._key:
            return
        from vad_core.model.checkpoint import load_checkpoint

        stem = Path(self._folder.name) / checkpoint["stem"].decode()
        weights, card = checkpoint_paths(stem)
        weights.write_bytes(checkpoint["weights"])
        card.write_bytes(checkpoint["card"])
        if "zones" in checkpoint:
            zones_path(stem).write_bytes(checkpoint["zones"])
        self.model, self._key = load_checkpoint(stem, device=self.device), key

    def describe(self) -> dict:
        """Where this replica runs: once ready, the model is loaded."""
        import socket

        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "device": str(self.model.device),
            "core": self._core[0] if self._core else None,
        }

    def release(self) -> None:
        """Give the core back (before this replica is killed, so that the next one can take it at once)."""
        if self._core is not None:
            self._core[1].close()
            self._core = None

    def frames_done(self) -> int:
        """Frames scored so far of the video in hand (for the driver's progress bar)."""
        return self._frames_done

    def _progress(self, done: int, total: int) -> None:
        self._frames_done = done

    def score(self, name: str, source: str | bytes, checkpoint: dict[str, bytes] | list | None = None) -> dict:
        """Analyze one video, loading the checkpoint first if this replica has not: {"ok": True, frames, seconds,
        files (name -> bytes), warnings, scene}, or {"ok": False, "reason": its one line} for a video that cannot
        be used. Other errors propagate."""
        from vad_core.batch.stored import write_analysis
        from vad_core.io.sandbox import SandboxedDecoder
        from vad_core.io.video import IN_PROCESS
        from vad_core.pipeline.analysis import analyze

        if checkpoint is not None:
            self.load(checkpoint)
        if self._core is not None:
            _pin_process(self._core[0])  # threads started since (Ray's, this call's) stay on the core too
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="vad-batch-") as folder:
            path = Path(source) if isinstance(source, str) else Path(folder) / safe_name(Path(name).name)
            if isinstance(source, bytes):
                path.write_bytes(source)
            self._frames_done = 0
            try:
                decoder = SandboxedDecoder(self.sandbox) if self.sandbox is not None else IN_PROCESS
                result = analyze(path, self.model, name=Path(name).name, progress=self._progress,
                                 limits=self.limits, decoder=decoder)  # fmt: skip
            except BadInput as err:
                return {"ok": False, "reason": str(err)}
            out = write_analysis(result, Path(folder) / "out")
            files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}
            notice = self.publish(result, self.model, name, path) if self.publish is not None else None
        scene = result.scene_check()
        self._frames_done = 0
        return {
            "ok": True,
            "node": _node(),
            "frames": result.frame_count,
            "seconds": time.perf_counter() - started,
            "files": files,
            "warnings": result.warnings,
            "scene": scene.to_dict() if scene is not None else None,
            "notice": notice,
        }


def claim_core() -> tuple[int, object] | None:
    """Pin this process to a core no other replica of this user on this machine holds: the first allowed core
    whose lock file (in this user's private folder, see cores_folder) this process can lock. The lock goes with the
    process, however it ends. None, unpinned, when every core is taken (more replicas than cores) or locks are
    unavailable (among them: a folder another user made)."""
    import fcntl

    try:
        folder = cores_folder()
        cores = sorted(os.sched_getaffinity(0))
    except (OSError, AttributeError):
        return None
    for core in cores:
        try:  # never through a symlink, never truncating: a lock needs no content
            fd = os.open(folder / f"{core}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError:
            return None
        handle = os.fdopen(fd, "r+b")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _pin_process(core)
        return core, handle  # the open handle holds the lock
    return None


def cores_folder() -> Path:
    """The folder of the per-core lock files, /tmp/vad-batch-cores-<uid>: made 0700, or, when it exists, a real
    folder this user owns with no access for others (OSError otherwise: anyone may pre-create a name in /tmp)."""
    folder = Path(tempfile.gettempdir()) / f"vad-batch-cores-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{folder} is not a folder of this user")
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700, follow_symlinks=False)  # ours, made by an older version with the default mode
    return folder


def _pin_process(core: int) -> None:
    """Every thread of this process on one core (a new thread inherits its creator's)."""
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that just ended
            os.sched_setaffinity(int(task.name), {core})


def _node() -> str:
    """The Ray node this replica runs on ("" outside Ray)."""
    try:
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
    except ImportError:
        return ""
