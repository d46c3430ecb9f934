"""Benchmark: reference vs optimized model, end-to-end analyze, training, a matmul yardstick; then, as asked, the
memory, live and whole-process figures (vad_core.bench.memory, .live, .whole).

report = run_bench(BenchConfig(video="Test001.mp4"))    # python -m vad_core bench [--json]
report["ratios"]["analyze_vs_reference"]                 # quote ratios: absolute times depend on the load

Everything is measured in one process on the same clip, in alternating rounds (best of each), so a
shared machine's load hits the reference and the optimized path alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vad_core.bench.clips import default_video
from vad_core.bench.live import live_acceptance, live_check, live_rates
from vad_core.bench.machine import device_info
from vad_core.bench.memory import memory_check, peak_rss_mb
from vad_core.bench.models import as_loaded, bundled_size, random_model
from vad_core.bench.speed import (
    equivalence,
    gpu_model_fps,
    matmul_gflops,
    model_flops,
    optimized_fps,
    reference_fps,
    train_fps,
    windows_of,
)
from vad_core.bench.whole import WholeConfig, whole_process_check
from vad_core.cpu import default_workers
from vad_core.io.video import list_clips, read_clip
from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.checkpoint import BUNDLED_AUTOENCODER, LoadedModel, load_checkpoint
from vad_core.model.inference import pick_device
from vad_core.model.preprocess import Normalizer
from vad_core.pipeline.analysis import analyze

Say = Callable[[str], None]


@dataclass
class BenchConfig:
    video: str | None = None  # default: the first Ped2 test clip (shared data, else the bundled samples)
    input_size: int = 227
    device: str | None = None
    frames: int = 80  # frames per model-only measurement
    rounds: int = 5
    train_steps: int = 3
    workers: int | None = None
    memory: bool = True
    memory_minutes: tuple[float, ...] = (1.0, 10.0)
    memory_size: int | None = None  # default: the bundled autoencoder's size (131), else 131 with random weights
    live: bool = False  # the live figure: the highest camera rate scored in full, and the delay at 25 fps
    live_only: bool = False  # only the live figure
    live_rates: str = "10,15,20,25,30,40,50"  # source frame rates to try, frames a second
    live_seconds: float = 8.0  # seconds played at each rate
    whole: bool = False  # the whole-process figure: `analyze --out` as a user runs it (vad_core.bench.whole)
    whole_only: bool = False  # only the whole-process figure
    whole_loops: int = 3  # times Ped2's test clips are looped into its clip (3: 6,030 frames)
    whole_rounds: int = 3
    whole_checkpoint: tuple[str, ...] = ()  # checkpoint stems whose whole command is timed beside the bundled model's


@dataclass
class _Subject:
    """What the speed rounds measure: a random model at the configured size, the clip's windows normalized."""

    net: SpatioTemporalAE
    model: LoadedModel
    clip: np.ndarray
    windows: np.ndarray
    normalizer: Normalizer

    @classmethod
    def build(cls, cfg: BenchConfig, video: Path, device: torch.device) -> _Subject:
        clip = read_clip(video, cfg.input_size)
        net = random_model(cfg.input_size, device)
        normalizer = Normalizer.fit(clip)
        windows = normalizer.apply(windows_of(clip, net.cfg.time_steps, cfg.frames))
        return cls(net, as_loaded(net, normalizer, f"random-{cfg.input_size}"), clip, windows, normalizer)


class _Figures:
    """The best frames/s of each measurement so far, each one said as it comes."""

    def __init__(self, say: Say) -> None:
        self.fps: dict[str, float] = {}
        self.say = say

    def best(self, key: str, value: float) -> None:
        self.fps[key] = max(self.fps.get(key, 0.0), value)
        self.say(f"  {key}: {value:.1f} frames/s")


def run_bench(cfg: BenchConfig, log: Say | None = None) -> dict:
    """Every figure of the benchmark, as one JSON-ready dict."""
    say = log or (lambda _msg: None)
    device = pick_device(cfg.device)
    video = Path(cfg.video) if cfg.video else default_video()
    report: dict = {"config": _jsonable(asdict(cfg)) | {"video": str(video)}, "machine": device_info(device)}
    say(f"device {device}; clip {video.name}")
    rates = live_rates(cfg.live_rates) if cfg.live or cfg.live_only else []
    if cfg.whole_only:
        report["whole_process"] = _whole(cfg, say)
        report["acceptance"] = report["whole_process"]["acceptance"]
        return report
    if cfg.live_only:
        say(f"live: {cfg.live_rates} fps, {cfg.live_seconds:g} s each")
        report["live"] = live_check(video, rates, cfg.live_seconds, say)
        report["acceptance"] = live_acceptance(report["live"])
        return report
    report |= _speed(cfg, video, device, say)
    _add_options(report, cfg, video, rates, say)
    report["peak_rss_mb"] = peak_rss_mb()
    report["acceptance"] = _acceptance(report, device) | live_acceptance(report.get("live", {}))
    report["acceptance"] |= report.get("whole_process", {}).get("acceptance", {})
    return report


def _speed(cfg: BenchConfig, video: Path, device: torch.device, say: Say) -> dict:
    """The model's speed figures: rounds, training, ratios, GFLOP/s, the paths' agreement."""
    subject = _Subject.build(cfg, video, device)
    flops = model_flops(subject.net.cfg)
    report: dict = {
        "model": {"input_size": cfg.input_size, "gflop_per_frame": flops / 1e9, "weights": "random (seed 0)"}
    }
    say("matmul yardstick")
    report["matmul_gflops"] = matmul_gflops(device)
    figures = _Figures(say)
    per_round = _rounds(cfg, subject, video, device, figures)
    say("training")
    figures.best("train", train_fps(cfg.input_size, subject.normalizer.apply(subject.clip), device, cfg.train_steps))
    fps = report["frames_per_second"] = figures.fps
    report["ratios"] = _ratios(fps, per_round)
    report["model_gflops"] = {
        "reference": fps["reference"] * flops / 1e9,
        "optimized": fps["optimized"] * flops / 1e9,
        "reference_fraction_of_matmul": fps["reference"] * flops / 1e9 / report["matmul_gflops"],
        "optimized_fraction_of_matmul": fps["optimized"] * flops / 1e9 / report["matmul_gflops"],
    }
    say("equivalence")
    report["equivalence"] = equivalence(subject.net, subject.windows[:1])
    bundled = load_checkpoint(BUNDLED_AUTOENCODER, device=str(device)) if bundled_size() else None
    if isinstance(bundled, LoadedModel):  # a network to check the fast path on (a motion detector has none)
        b_clip = bundled.normalizer.apply(read_clip(video, bundled.cfg.input_size)[: bundled.cfg.time_steps])
        report["equivalence_bundled"] = equivalence(bundled.net, b_clip[None])
    return report


def _rounds(cfg: BenchConfig, subject: _Subject, video: Path, device: torch.device, figures: _Figures) -> list[dict]:
    """Alternating rounds of the reference, analyze and the optimized path; each round's figures."""
    net, windows = subject.net, subject.windows
    workers = cfg.workers or default_workers(device.type)
    threads = torch.get_num_threads()
    gpu = device.type == "cuda"
    per_round: list[dict[str, float]] = []
    for r in range(cfg.rounds):
        figures.say(f"round {r + 1}/{cfg.rounds}: reference, analyze, optimized")
        this: dict[str, float] = {}

        def measure(key: str, value: float, this: dict[str, float] = this) -> None:
            this[key] = value
            figures.best(key, value)

        if gpu:  # model-only on the device, input already there: the GPU's own throughput
            measure("reference", gpu_model_fps(net, windows, fast=False, mixed=False))
        else:  # batches of 4 windows, as inference ran them before, with torch's default threads
            measure("reference", reference_fps(net, windows, threads, 4))
        start = time.perf_counter()  # next to the reference: the per-round ratio sees the same load
        result = analyze(video, subject.model, workers=workers)
        measure("analyze", result.frame_count / (time.perf_counter() - start))
        if gpu:
            measure("optimized", gpu_model_fps(net, windows, fast=True, mixed=True))
        else:
            measure("optimized", optimized_fps(net, windows, workers))
            if threads != 1:
                measure("reference_1_thread", reference_fps(net, windows, 1, 4))
            measure("optimized_1_thread", optimized_fps(net, windows, 1, threads=1))
        per_round.append(this)
    if gpu:  # which part of the gain is the fast path and which the float16
        figures.best("plain_fp16", gpu_model_fps(net, windows, fast=False, mixed=True))
        figures.best("fast_fp32", gpu_model_fps(net, windows, fast=True, mixed=False))
    return per_round


def _ratios(fps: dict[str, float], per_round: list[dict[str, float]]) -> dict:
    reference = fps["reference"]
    ratios = {
        "optimized_vs_reference": fps["optimized"] / reference,
        "analyze_vs_reference": fps["analyze"] / reference,
    }
    if "reference_1_thread" in fps:
        ratios |= {
            "analyze_vs_best_reference": fps["analyze"] / max(reference, fps["reference_1_thread"]),
            "optimized_1_thread_vs_reference_1_thread": fps["optimized_1_thread"] / fps["reference_1_thread"],
        }
    in_round = sorted(r["analyze"] / r["reference"] for r in per_round)
    ratios["analyze_vs_reference_per_round"] = in_round
    ratios["analyze_vs_reference_median_round"] = in_round[len(in_round) // 2]
    return ratios


def _add_options(report: dict, cfg: BenchConfig, video: Path, rates: list[float], say: Say) -> None:
    """The memory, live and whole-process figures, those the config asks for."""
    if cfg.memory:
        size = cfg.memory_size or bundled_size() or 131
        say(f"memory: {', '.join(f'{m:g}' for m in cfg.memory_minutes)} min videos at {size} px")
        sources = list_clips(video.parent)[:6]
        report["memory"] = memory_check(cfg.memory_minutes, size, sources)
    if cfg.live:
        say(f"live: {cfg.live_rates} fps, {cfg.live_seconds:g} s each")
        report["live"] = live_check(video, rates, cfg.live_seconds, say)
    if cfg.whole:
        report["whole_process"] = _whole(cfg, say)


def _whole(cfg: BenchConfig, say: Say) -> dict:
    whole = WholeConfig(loops=cfg.whole_loops, rounds=cfg.whole_rounds, checkpoints=tuple(cfg.whole_checkpoint))
    return whole_process_check(whole, say)


def _acceptance(report: dict, device: torch.device) -> dict:
    out: dict = {
        "outputs_within_tolerance": report["equivalence"]["within_tolerance"]
        and report.get("equivalence_bundled", {"within_tolerance": True})["within_tolerance"],
    }
    if device.type == "cpu":  # the CPU criterion; on CUDA the host-side figures are not the point
        out["analyze_at_least_2x_reference"] = report["ratios"]["analyze_vs_reference"] >= 2.0
    memory = report.get("memory")
    if memory and "growth_mb" in memory:
        longest = max((v for k, v in memory.items() if k.endswith("min")), key=lambda v: v["frames"])
        out["peak_rss_under_1500_mb"] = longest["peak_rss_mb"] < 1500
        out["rss_growth_under_100_mb"] = memory["growth_mb"] < 100  # a 10-minute clip vs a 1-minute one
    if device.type == "cuda":
        out["gpu_model_at_least_5000_fps"] = report["frames_per_second"]["optimized"] >= 5000
    return out


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
