"""The batch scaling figure (`python -m vad_core batch --scaling 1,2`): frames/s of the same videos scored by
each number of model replicas, with the batch run's own Ray session, replicas and scheduling.

figures = measure_scaling(BatchConfig(inputs=[...], out=Path("scaling")), [1, 2])   # frames/s per worker count
"""

from __future__ import annotations

import os
import time

from vad_core.batch.inputs import Video, find_videos
from vad_core.batch.run import (
    BatchConfig,
    Cluster,
    Log,
    device_for,
    ray_session,
    score_videos,
    ship_for,
    start_workers,
    to_stderr,
)
from vad_core.batch.worker import checkpoint_files
from vad_core.bench.machine import machine
from vad_core.model.checkpoint import DEFAULT_CHECKPOINT


def measure_scaling(cfg: BatchConfig, counts: list[int], rounds: int = 1, log: Log = to_stderr) -> dict:
    """frames/s of the same videos with each worker count, in one Ray session sized for the largest. The time
    runs from the first video sent to the last result (every replica has loaded the model by then). With
    rounds > 1 the counts alternate and each count's best round is its figure: a shared machine's other work
    comes and goes, and the best round is the one it disturbed least. Outputs are not written."""
    from vad_core.model.checkpoint import load_checkpoint

    stem = cfg.checkpoint or DEFAULT_CHECKPOINT
    load_checkpoint(stem, device="cpu")
    checkpoint = checkpoint_files(stem)
    videos = [(v, "") for v in find_videos(cfg.inputs)]
    runs = []
    with ray_session(cfg.address, max(counts), 0 if cfg.device in (None, "cpu") else None) as cluster:
        device = device_for(cfg, cluster)
        for round_ in range(rounds):
            for count in counts:
                runs.append(_timed_round(checkpoint, count, device, cluster, cfg, videos) | {"round": round_})
                row = runs[-1]
                log(f"{count} worker(s): {row['frames']} frames in {row['seconds']:.1f} s = "
                    f"{row['frames_per_second']:.1f} frames/s")  # fmt: skip
    best = [max((r for r in runs if r["workers"] == count), key=lambda r: r["frames_per_second"]) for count in counts]
    base = best[0]["frames_per_second"]
    return {
        "scaling": best,
        "speedup": {str(r["workers"]): r["frames_per_second"] / base if base else None for r in best},
        "rounds": runs,
        "device": device,
        "machine": machine(),
    }


def _timed_round(
    checkpoint: dict[str, bytes], count: int, device: str, cluster: Cluster, cfg: BatchConfig, videos: list
) -> dict:
    import ray

    workers = start_workers(checkpoint, count, device, cluster, cfg.retries, cfg.pin)
    cores = [d["core"] for d in ray.get([actor.describe.remote() for actor in workers.actors])]
    frames, failed = 0, 0
    started = time.perf_counter()

    def on_result(video: Video, digest: str, result: dict) -> None:
        nonlocal frames, failed
        frames += result.get("frames", 0)
        failed += not result["ok"]

    score_videos(workers, videos, ship_for(cfg, cluster), on_result, cfg.retries)
    seconds = time.perf_counter() - started
    ray.get([actor.release.remote() for actor in workers.actors])  # the cores are free for the next round
    for actor in workers.actors:
        ray.kill(actor)
    fps = frames / seconds if seconds else 0.0
    return {"workers": count, "videos": len(videos) - failed, "frames": frames, "seconds": seconds,
            "frames_per_second": fps, "cores": cores, "load_average": os.getloadavg()[0]}  # fmt: skip
