"""Memory: generated long videos (Ped2 clips looped at 640x360, 30 fps) analyzed and saved, each in a fresh
process, whose peak resident memory must not grow with the video's length.

report = memory_check((1.0, 10.0), 131, sources)    # report["growth_mb"]: the 10-minute peak over the 1-minute
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vad_core.bench.clips import make_long_video
from vad_core.bench.models import bundled_or_random
from vad_core.io.paths import REPO_ROOT
from vad_core.pipeline.analysis import analyze


def memory_child(video: str, size: int) -> None:
    """Run in a fresh process: analyze and save one video, print frames, time and peak RSS as JSON."""
    torch.manual_seed(0)
    model = bundled_or_random(size)
    loaded_rss = _rss_mb()
    start = time.perf_counter()
    result = analyze(video, model)
    analyzed = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="vad_bench_out_") as out:
        result.save(out)
    print(
        json.dumps(
            {
                "frames": result.frame_count,
                "analyze_fps": result.frame_count / analyzed,
                "seconds": time.perf_counter() - start,
                "spilled": bool(isinstance(result.maps["motion"], np.memmap)),
                "rss_after_load_mb": loaded_rss,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def _status_mb(field: str) -> float | None:
    """A memory figure of this process from /proc/self/status (Linux), in MB; None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _rss_mb() -> float:
    rss = _status_mb("VmRSS")
    return float("nan") if rss is None else rss


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, since a child's ru_maxrss starts from its parent's at fork."""
    peak_hwm = _status_mb("VmHWM")
    if peak_hwm is not None:
        return peak_hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def memory_check(minutes: tuple[float, ...], size: int, sources: list[Path]) -> dict:
    """Each length analyzed in a fresh process: frames, speed, peak RSS; and the growth from shortest to longest."""
    out: dict = {"input_size": size, "video": "Ped2 clips looped, 640x360, 30 fps, mp4v"}
    with tempfile.TemporaryDirectory(prefix="vad_bench_") as tmp:
        for m in minutes:
            video = make_long_video(Path(tmp) / f"long_{m:g}min.mp4", m, sources)
            code = f"from vad_core.bench.memory import memory_child; memory_child({str(video)!r}, {size})"
            proc = subprocess.run(
                [sys.executable, "-c", code],
                cwd=REPO_ROOT,
                env=os.environ | {"PYTHONPATH": str(REPO_ROOT)},
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"memory check on {m:g} min failed: {proc.stderr.strip().splitlines()[-1:]}")
            out[f"{m:g}min"] = json.loads(proc.stdout.strip().splitlines()[-1])
            video.unlink()
    if len(minutes) >= 2:
        lo, hi = f"{min(minutes):g}min", f"{max(minutes):g}min"
        out["growth_mb"] = out[hi]["peak_rss_mb"] - out[lo]["peak_rss_mb"]
    return out
