"""The batch driver: find the videos, skip the finished ones, score the rest on Ray actors, write the outputs.

summary = run_batch(BatchConfig(inputs=["../shared/data/ucsd_ped2/test"], out=Path("batch_out")))
summary["done"], summary["failed"], summary["skipped"]       # lists of videos; failed ones with a reason

Without an address Ray starts on this machine (127.0.0.1, no dashboard, no usage statistics) and stops
with the run; with one, the run joins that cluster. The unit of work is one video (the ConvLSTM needs
contiguous windows). Model replicas are actors (vad_core.batch.worker) that load the checkpoint once; a
crashed replica is restarted by Ray and its video retried `retries` times. Finished videos are kept under
DIR/videos/ with the content and model hashes they were scored from, so a rerun skips them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from vad_core.batch.inputs import Video, content_hash, find_videos
from vad_core.batch.outputs import BatchOutput
from vad_core.batch.ray_token import private_token, token_path
from vad_core.batch.worker import Publish, ScoringWorker, checkpoint_files
from vad_core.errors import BadInput
from vad_core.io.limits import AnalysisLimits
from vad_core.io.paths import REPO_ROOT
from vad_core.io.sandbox import SandboxLimits
from vad_core.model.checkpoint import DEFAULT_CHECKPOINT
from vad_core.signals import interrupt, on_stop_signal

Log = Callable[[str], None]


@dataclass
class BatchConfig:
    """One batch run; see `python -m vad_core batch --help` for each field's meaning."""

    inputs: list[str]
    out: Path
    checkpoint: str | None = None
    address: str | None = None
    workers: int | None = None
    device: str | None = None  # cpu or cuda; default: cuda when the cluster has GPUs
    ship: str = "auto"  # how videos reach workers: path, bytes, or auto (paths locally, bytes on a cluster)
    retries: int = 2  # attempts after a worker crash, per video
    pin: bool = True  # on a CPU, each replica takes a core of its own (vad_core.batch.worker.claim_core)
    report: bool = False
    progress: bool = True
    limits: AnalysisLimits | None = None  # what one video may cost (vad_core.io.limits); none by default
    sandbox: SandboxLimits | None = None  # decode each video in a killable child under these caps (the app's way)
    publish: Publish | None = None  # each video's analysis to the event store, in its worker (ScoringWorker)
    extra: dict = field(default_factory=dict)


@dataclass
class Cluster:
    """What the run got from Ray: CPUs and GPUs, whether it started Ray itself, and the address."""

    cpus: int
    gpus: int
    local: bool
    address: str


def to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def model_hash(checkpoint: dict[str, bytes]) -> str:
    """sha256 of the weights and the card: any retraining or recalibration makes a new key."""
    return hashlib.sha256(checkpoint["weights"] + b"\0" + checkpoint["card"]).hexdigest()[:16]


@contextlib.contextmanager
def ray_session(address: str | None, cpus: int | None = None, gpus: int | None = None) -> Iterator[Cluster]:
    """Ray on this machine (stopped afterwards) or a running cluster at address."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address is None:
        # Ray binds a started node to the address other machines would reach it at; a batch on one machine
        # needs none of that, so keep it on the loopback interface (read when ray is first imported).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    repo = str(REPO_ROOT)  # so that workers started here can import vad_core
    path = os.environ.get("PYTHONPATH", "")
    if repo not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (repo, path) if p)
    if address is not None and "RAY_AUTH_MODE" not in os.environ and _token_available():
        os.environ["RAY_AUTH_MODE"] = "token"  # `ray start --head` turns token auth on; clients must say so
    import ray

    logging.getLogger("ray").setLevel(logging.ERROR)  # its notices would bury the one line per failure
    options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        with private_token():  # Ray writes ~/.ray/auth_token for a new local cluster: 0600, not 0644
            if address is None:
                # "local": a new Ray of its own, never one that `ray start` left running on this machine
                ray.init("local", num_cpus=cpus, num_gpus=gpus, _node_ip_address="127.0.0.1", **options)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, ValueError, RuntimeError) as err:
        what = "start Ray" if address is None else f"join the Ray cluster at {address}"
        hint = "" if address is None else " (is it running, and is its token in ~/.ray/auth_token or RAY_AUTH_TOKEN?)"
        raise BadInput(f"could not {what}: {_first_line(err)}{hint}") from err
    try:
        resources = ray.cluster_resources()
        yield Cluster(int(resources.get("CPU", 0)), int(resources.get("GPU", 0)), address is None, address or "local")
    finally:
        ray.shutdown()


def _token_available() -> bool:
    """Whether this user holds a Ray cluster token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token)."""
    return bool(os.environ.get("RAY_AUTH_TOKEN")) or token_path().is_file()


def device_for(cfg: BatchConfig, cluster: Cluster) -> str:
    """The replicas' device: cfg.device checked against the cluster, else cuda where it has GPUs."""
    if cfg.device in (None, "auto"):
        return "cuda" if cluster.gpus else "cpu"
    if cfg.device.startswith("cuda") and not cluster.gpus:
        raise BadInput(f"{cfg.device} asked for, but the Ray cluster has no GPU", option="device")
    if cfg.device != "cpu" and not cfg.device.startswith("cuda"):
        raise BadInput(f"unknown device {cfg.device!r}; use cpu or cuda")
    return cfg.device


def _worker_count(cfg: BatchConfig, cluster: Cluster, device: str) -> int:
    """--workers, else one replica per CPU (one torch thread each) or per GPU."""
    if cfg.workers is not None:
        if cfg.workers < 1:
            raise BadInput(f"must be at least 1, got {cfg.workers}", option="workers")
        if cfg.workers > cluster.cpus:  # a replica holds one CPU: the extra ones would wait forever
            raise BadInput(f"{cfg.workers}: the Ray cluster has {cluster.cpus} CPUs, one per replica", option="workers")
        return cfg.workers
    return max(1, cluster.gpus if device.startswith("cuda") else cluster.cpus)


def _local_cpus(cfg: BatchConfig) -> int:
    cores = os.cpu_count() or 1
    return max(cfg.workers or cores, 1) if (cfg.device or "cpu") == "cpu" else cores


def start_workers(
    checkpoint: dict[str, bytes],
    count: int,
    device: str,
    cluster: Cluster,
    retries: int,
    pin: bool = True,
    limits: AnalysisLimits | None = None,
    sandbox: SandboxLimits | None = None,
    publish: Publish | None = None,
) -> Workers:
    """count replicas, each holding the model; a crashed one is restarted and its call retried `retries` times.
    limits and sandbox: how each replica decodes and bounds a video; publish: where it sends each video's
    findings (ScoringWorker)."""
    import ray

    gpu_share = cluster.gpus / count if device.startswith("cuda") else 0
    threads = 1 if not device.startswith("cuda") else max(1, cluster.cpus // count)
    # progress questions run in a group of their own, beside the one video at a time of the default group; a
    # replica's process starts with its CPU share, by which vad_core sizes the model's threads
    actor = ray.remote(concurrency_groups={"progress": 1})(ScoringWorker).options(
        num_cpus=1,
        num_gpus=min(gpu_share, 1),
        max_restarts=-1,
        max_task_retries=retries,
        runtime_env={"env_vars": {"VAD_CPU_THREADS": str(threads)}},
    )
    # In a list, the reference reaches the replica unresolved: each one fetches the model itself, and every
    # score call carries it, so that a restarted replica (which starts empty) loads it again.
    handle = [ray.put(checkpoint)]
    pin = pin and not device.startswith("cuda")  # a GPU replica's host threads (copies, scoring) need room
    workers = [actor.remote(device, threads, pin, limits, sandbox, publish) for _ in range(count)]
    try:
        ray.get([w.load.remote(handle) for w in workers])  # every model loaded: scoring time starts now
    except ray.exceptions.RayError as err:
        raise BadInput(f"the workers could not load the model: {_first_line(err)}") from err
    return Workers(workers, handle)


@dataclass
class Workers:
    """The replicas, and the model as an object in Ray's store that each score call names."""

    actors: list
    model: list


def _first_line(err: BaseException) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(err).__name__


def ship_for(cfg: BatchConfig, cluster: Cluster) -> str:
    """How videos reach the replicas: cfg.ship, where auto is paths on this machine and bytes on a cluster."""
    if cfg.ship not in ("auto", "path", "bytes"):
        raise BadInput(f"must be auto, path or bytes, got {cfg.ship!r}", option="ship")
    return ("path" if cluster.local else "bytes") if cfg.ship == "auto" else cfg.ship


def score_videos(
    workers: Workers,
    videos: list[tuple[Video, str]],
    ship: str,
    on_result: Callable[[Video, str, dict], None],
    retries: int,
    on_frames: Callable[[int], None] | None = None,
) -> None:
    """Each (video, content hash) on the next free worker, at most one in flight per worker plus one queued;
    on_result(video, digest, result) as each finishes, in finishing order; on_frames(n) about every second
    with the frames done so far of the videos being scored."""
    import ray

    queue = sorted(videos, key=lambda item: _size(item[0].path))  # popped from the end: largest first, so that
    # the last videos to finish are short ones and no worker idles long while another finishes a long one
    in_flight: dict = {}  # ObjectRef -> (video, digest, worker)

    def submit(index: int) -> None:
        video, digest = queue.pop()
        source: str | bytes = str(video.path.resolve())
        if ship == "bytes" and video.path.is_file():
            source = video.path.read_bytes()
        ref = workers.actors[index].score.remote(video.name, source, workers.model)
        in_flight[ref] = (video, digest, index)

    for _ in range(2):  # two calls queued per worker: the next video is there the moment one finishes
        for index in range(len(workers.actors)):
            if queue:
                submit(index)
    while in_flight:
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0 if on_frames else None)
        if not ready:
            on_frames(_frames_in_flight(workers))
            continue
        video, digest, index = in_flight.pop(ready[0])
        try:
            result = ray.get(ready[0])
        except ray.exceptions.RayActorError as err:
            result = {
                "ok": False,
                "reason": f"{video.name}: the worker died {retries + 1} times scoring it ({_first_line(err)})",
            }
        except ray.exceptions.RayTaskError as err:  # an internal error in analysis: this video fails, the rest go on
            result = {"ok": False, "reason": f"{video.name}: internal error in the worker: {_first_line(err)}"}
        on_result(video, digest, result)
        if queue:
            submit(index)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.iterdir())
    except OSError:
        return 0


def _frames_in_flight(workers: Workers) -> int:
    """Frames done of the videos the replicas are scoring now (asked in their own concurrency group, so the
    question does not wait behind a video); 0 for a replica that does not answer within a second."""
    import ray

    refs = [actor.frames_done.options(concurrency_group="progress").remote() for actor in workers.actors]
    done = 0
    for ref in refs:
        with contextlib.suppress(ray.exceptions.RayError):
            done += ray.get(ref, timeout=1.0)
    return done


def run_batch(cfg: BatchConfig, log: Log = to_stderr) -> dict:
    """Score every video the inputs name into cfg.out; return the summary (also DIR/summary.json)."""
    started = time.perf_counter()
    on_stop_signal(interrupt, (signal.SIGTERM,))  # as Ctrl-C: the finally blocks stop Ray; outputs stay whole
    from vad_core.model.checkpoint import load_checkpoint

    videos = find_videos(cfg.inputs)
    stem = cfg.checkpoint or DEFAULT_CHECKPOINT
    model = load_checkpoint(stem, device="cpu")  # a bad checkpoint is one line here, before any Ray process starts
    checkpoint = checkpoint_files(stem)
    output = BatchOutput(cfg.out, model.name, model_hash(checkpoint), str(stem))
    todo: list[tuple[Video, str]] = []
    for video in videos:
        try:
            digest = content_hash(video.path)
        except OSError as err:
            output.failed(video, f"{video.name}: {err.strerror or err}")
            continue
        record = output.finished(video, digest)
        if record is not None:
            output.skip(record)
        else:
            todo.append((video, digest))
    output.write_summary(complete=False)
    if todo:
        local_gpus = None if (cfg.device or "").startswith("cuda") else 0
        with ray_session(cfg.address, _local_cpus(cfg), local_gpus) as cluster:
            device = device_for(cfg, cluster)
            count = min(_worker_count(cfg, cluster, device), len(todo))
            output.setup = {
                "workers": count,
                "device": device,
                "address": cluster.address,
                "cluster_cpus": cluster.cpus,
            }
            workers = start_workers(
                checkpoint, count, device, cluster, cfg.retries, cfg.pin, cfg.limits, cfg.sandbox, cfg.publish
            )
            scoring_started = time.perf_counter()
            total_frames = sum(r.frames for r in output.skipped)
            with (
                tqdm(total=len(videos), unit="video", desc="videos", disable=not cfg.progress or None, leave=False,
                     initial=len(output.skipped) + len(output.failures)) as videos_bar,
                tqdm(unit="frame", desc="frames", disable=not cfg.progress or None, leave=False, initial=total_frames,
                     position=1) as frames_bar,
            ):  # fmt: skip
                finished = total_frames

                def on_result(video: Video, digest: str, result: dict) -> None:
                    nonlocal finished
                    if result.get("notice"):
                        log(f"{video.name}: {result['notice']}")
                    if result["ok"]:
                        output.store(video, digest, result)
                        finished += result["frames"]
                    else:
                        output.failed(video, result["reason"])
                    videos_bar.update(1)
                    on_frames(0)
                    output.scoring_seconds = time.perf_counter() - scoring_started
                    output.write_summary(complete=False)

                def on_frames(in_flight: int) -> None:  # a video being written still counts as scored
                    frames_bar.n = max(frames_bar.n, finished + in_flight)
                    frames_bar.refresh()

                progress = on_frames if cfg.progress else None
                score_videos(workers, todo, ship_for(cfg, cluster), on_result, cfg.retries, progress)
    output.write_tables()
    summary = output.write_summary(complete=True, wall_seconds=time.perf_counter() - started)
    if cfg.report:
        from vad_core.batch.report import write_report

        write_report(cfg.out, model)
    return summary
