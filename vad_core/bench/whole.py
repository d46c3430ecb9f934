"""The speed a user sees: `python -m vad_core analyze CLIP --out DIR` as a whole process (start-up, decoding,
the model, scoring, writing), next to the same analysis inside one process and the plain fp32 eager forward.

report = whole_process_check(WholeConfig())          # python -m vad_core bench --whole-only --json
report["ratios"]["whole_process_vs_reference"]       # the median of the rounds' ratios

The clip is Ped2's 12 test clips looped `loops` times (6,030 frames at 360x240 for 3), as H.264. Each round
measures the three in a row, so that a shared machine's load hits them alike; ratios are taken within a round.
The reference is the bundled model's architecture and size run eagerly (no fast path) in fp32 on frames
decoded and normalized beforehand, in batches of 4 windows with torch's default threads; "model alone" is the fast
path on the same frames as analysis runs it (worker threads), without decoding, scoring or writing: the ceiling
of the whole command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vad_core.bench.clips import make_looped_clip, source_clips
from vad_core.bench.speed import optimized_fps, reference_fps
from vad_core.io.paths import REPO_ROOT
from vad_core.io.video import read_clip
from vad_core.model.checkpoint import LoadedModel, load_checkpoint
from vad_core.pipeline.analysis import analyze

GOAL_RATIO = 2.5  # whole process vs the plain eager forward
GOAL_WRITING_SHARE = 0.05  # of the whole command's wall time
GOAL_FIRST_FRAME_S = 1.5


@dataclass
class WholeConfig:
    loops: int = 3  # times Ped2's 12 test clips are played in the clip
    rounds: int = 3
    reference_frames: int = 400  # frames per round of the eager reference (a rate; the clip's first frames)
    clips: str | None = None  # folder of the clips to loop (default: Ped2's test set, else the bundled samples)


def run_command(clip: Path, out: Path) -> dict:
    """`python -m vad_core analyze CLIP --out OUT --json` in a fresh process: its wall time from spawn to exit,
    and its own report of where the time went (the summary's "timing")."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "vad_core", "analyze", str(clip), "--out", str(out), "--json"],
        cwd=REPO_ROOT,
        env=os.environ | {"PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"analyze failed: {proc.stderr.strip().splitlines()[-1:]}")
    summary = json.loads(proc.stdout)
    return {"frames": summary["frames"], "wall_s": wall, "fps": summary["frames"] / wall} | summary["timing"]


def in_process(clip: Path, model: LoadedModel, out: Path) -> dict:
    """analyze and save inside this process, the model already loaded."""
    start = time.perf_counter()
    result = analyze(clip, model)
    analyzed = time.perf_counter() - start
    result.save(out)
    wall = time.perf_counter() - start
    return {"analysis_s": analyzed, "wall_s": wall, "fps": result.frame_count / wall}


def wall_split(run: dict) -> dict:
    """The whole command's wall time by phase, and the analysis phase shared out by the stages' CPU seconds."""
    cpu = run["cpu_s"]
    busy = sum(cpu.values()) or 1.0
    start_up = run["wall_s"] - run["analysis_s"] - run["writing_s"]  # spawn to the analysis, and the exit
    split = {"start_up": start_up} | {stage: run["analysis_s"] * s / busy for stage, s in cpu.items()}
    split["writing"] = run["writing_s"]
    return {"seconds": split, "share": {k: v / run["wall_s"] for k, v in split.items()}}


def whole_process_check(cfg: WholeConfig, say: Callable[[str], None] = lambda _msg: None) -> dict:
    model = load_checkpoint(device="cpu")
    clips = source_clips(cfg.clips)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="vad_bench_whole_") as tmp:
        say(f"whole process: building the clip ({len(clips)} clips x {cfg.loops})")
        clip = make_looped_clip(Path(tmp) / "looped.mp4", clips, cfg.loops)
        size, t = model.cfg.input_size, model.cfg.time_steps
        frames = model.normalizer.apply(read_clip(clips[0], size))
        count = max(t, cfg.reference_frames // t * t)
        windows = np.concatenate([frames] * -(-count // len(frames)))[:count].reshape(-1, t, size, size)
        for r in range(cfg.rounds):
            ref = reference_fps(model.net, windows, torch.get_num_threads(), batch=4)
            alone = optimized_fps(model.net, windows, workers=None)  # the fast path alone: what the command can reach
            whole = run_command(clip, Path(tmp) / "out_command")
            inner = in_process(clip, model, Path(tmp) / "out_in_process")
            rows.append({"reference_fps": ref, "model_alone_fps": alone, "whole_process": whole, "in_process": inner})
            say(
                f"  round {r + 1}/{cfg.rounds}: reference {ref:.1f}, model alone {alone:.1f}, "
                f"whole process {whole['fps']:.1f}, in process {inner['fps']:.1f} frames/s"
            )
    return summarize(rows, model, clip_frames=rows[0]["whole_process"]["frames"], cfg=cfg, clips=clips)


def summarize(rows: list[dict], model: LoadedModel, clip_frames: int, cfg: WholeConfig, clips: list[Path]) -> dict:
    def median(values: list[float]) -> float:
        return float(np.median(values))

    whole = [row["whole_process"]["fps"] / row["reference_fps"] for row in rows]
    inner = [row["in_process"]["fps"] / row["reference_fps"] for row in rows]
    alone = [row["model_alone_fps"] / row["reference_fps"] for row in rows]
    best = max(rows, key=lambda row: row["whole_process"]["fps"])["whole_process"]
    split = wall_split(best)
    out = {
        "clip": f"{len(clips)} clips of {clips[0].parent} looped {cfg.loops}x: {clip_frames} frames, H.264",
        "model": model.name,
        "input_size": model.cfg.input_size,
        "rounds": rows,
        "ratios": {
            "whole_process_vs_reference": median(whole),
            "in_process_vs_reference": median(inner),
            "model_alone_vs_reference": median(alone),
            "whole_process_vs_reference_per_round": whole,
            "in_process_vs_reference_per_round": inner,
        },
        "best_whole_process": best,
        "wall_split": split,
        "first_frame_s": median([row["whole_process"]["first_frame_s"] for row in rows]),
        "writing_share": median([row["whole_process"]["writing_s"] / row["whole_process"]["wall_s"] for row in rows]),
    }
    out["acceptance"] = {
        "whole_process_at_least_2_5x_reference": out["ratios"]["whole_process_vs_reference"] >= GOAL_RATIO,
        "writing_under_5_percent": out["writing_share"] < GOAL_WRITING_SHARE,
        "first_frame_within_1_5_s": out["first_frame_s"] <= GOAL_FIRST_FRAME_S,
    }
    return out
