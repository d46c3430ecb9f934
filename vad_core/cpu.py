"""How the cores are shared out between the model workers and FFmpeg; no torch, so that a command can
choose its decoder's threads before it imports the model.

workers = default_workers("cpu")          # one model worker per core (at most 8)
threads = decode_threads("cpu", workers)  # FFmpeg threads for the clip being analyzed
"""

from __future__ import annotations

import os
from pathlib import Path


def cpu_budget() -> int:
    """The cores this process may use: VAD_CPU_THREADS when set to a positive number (a batch worker that
    shares the machine with others sets it to its own share), else every core."""
    value = os.environ.get("VAD_CPU_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else os.cpu_count() or 1


def default_workers(device_type: str) -> int:
    """CPU: one worker per core (at most 8). CUDA: two, so one worker's host work (normalizing,
    copies, scoring) overlaps the other's GPU work; on the H200 host eight ran 2.5x slower than two,
    contending for the GIL."""
    if device_type == "cuda":
        return 2
    return max(1, min(cpu_budget(), 8))


def decode_threads(device_type: str, workers: int | None = None) -> int | None:
    """FFmpeg threads for the clip being analyzed: one where the model workers keep every core busy (a
    CPU: frame threads' hand-offs cost 1.9 vs 1.6 ms of CPU a 360x240 H.264 frame), FFmpeg's own choice
    where cores are left over (CUDA: the GPU does the model, and one decoding thread bounded the
    analysis on the H200's 16-core host)."""
    workers = workers or default_workers(device_type)
    spare = cpu_budget() - workers
    return None if device_type == "cuda" and spare > 1 else 1


def likely_device_type(requested: str | None) -> str:
    """The device type a run will use, told without importing torch: the one asked for, else CUDA where
    NVIDIA's driver is loaded. Only for choices made before the model loads (decode threads)."""
    if requested not in (None, "auto"):
        return "cuda" if requested.startswith("cuda") else "cpu"
    return "cuda" if Path("/dev/nvidiactl").exists() else "cpu"
