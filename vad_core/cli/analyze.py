"""`python -m vad_core analyze VIDEO [--out DIR] [--json]`: score every frame; write scores.csv, segments.json and
the error maps; print a summary (the fixed contract: frames, video_fps, seconds, frames_per_second, segments)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from vad_core.cli.common import about, add_zones_option, frame_progress, progress, read_zones_option, with_zones
from vad_core.cli.options import COUNT, FRAME, POSITIVE
from vad_core.io.paths import writable_folder

if TYPE_CHECKING:
    from vad_core.pipeline.result import Analysis
    from vad_core.scoring.health import HealthSegment
    from vad_core.scoring.scene import SceneCheck


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="score every frame of a video")
    p.add_argument("video", help="video file or folder of frame images")
    p.add_argument("--checkpoint", default=None, help="checkpoint stem (default: the bundled Ped2 fused model)")
    p.add_argument("--out", default="vad_out", help="output folder for scores.csv, segments.json, error_maps.npz")
    p.add_argument("--threshold", type=POSITIVE, default=1.0, help="calibrated-score threshold (default 1.0)")
    p.add_argument("--min-duration", type=FRAME, default=3, help="drop segments shorter than this many frames")
    p.add_argument("--merge-gap", type=FRAME, default=5, help="join segments separated by at most this many frames")
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default: CUDA when available)")
    p.add_argument("--json", action="store_true", help="print a summary object on stdout")
    p.add_argument("--start", type=FRAME, default=0, help="first frame to analyze (default 0)")
    p.add_argument("--end", type=COUNT, default=None, help="stop before this frame (default: the end)")
    p.add_argument("--every", type=COUNT, default=1, help="analyze every k-th frame (default 1: all)")
    p.add_argument("--max-frames", type=COUNT, default=None, help="refuse clips with more (selected) frames")
    p.add_argument("--max-seconds", type=POSITIVE, default=None, help="stop, as bad input, after this long")
    add_zones_option(p)


def run(args: argparse.Namespace) -> int:
    from vad_core.cpu import decode_threads, likely_device_type
    from vad_core.io.prefetch import Prefetch
    from vad_core.io.video import IN_PROCESS
    from vad_core.stages import StageClock, process_start

    started = process_start()
    with about("out"):
        writable_folder(args.out)
    zones = read_zones_option(args)
    clock = StageClock()
    threads = decode_threads(likely_device_type(args.device))
    with Prefetch(IN_PROCESS, args.video, threads, clock) as video:
        # The clip decodes while torch and the model load: this is why every command imports them in its
        # handler, never at the top of a vad_core.cli module (tests/io/test_prefetch.py checks the CLI stays light).
        from vad_core.io.limits import AnalysisLimits, FrameSelection
        from vad_core.model.checkpoint import load_checkpoint
        from vad_core.pipeline.analysis import analyze

        selection = FrameSelection(args.start, args.end, args.every)
        limits = AnalysisLimits(max_frames=args.max_frames, max_seconds=args.max_seconds)
        model = with_zones(load_checkpoint(args.checkpoint, device=args.device), zones)
        model_ready = time.time()
        with progress(args, unit="frame", desc="analyzing") as bar:
            result = analyze(args.video, model, progress=frame_progress(bar), selection=selection, limits=limits,
                             decoder=video, clock=clock)  # fmt: skip
    marks = {"started": started, "first_frame": video.first_frame_at or model_ready, "model_ready": model_ready}
    return _write_and_report(args, result, marks)


def _warn(result: Analysis) -> tuple[SceneCheck | None, list[HealthSegment]]:
    """The analysis's warnings, an unfamiliar scene and camera faults on stderr; (scene check, faults)."""
    for warning in result.warnings:  # after the bar is cleared: the analysis went on with what decoded
        print(f"warning: {warning}", file=sys.stderr)
    scene = result.scene_check()
    if scene is not None and not scene.familiar:
        print(f"warning: {result.name}: {scene.reason}", file=sys.stderr)
    health = result.health_segments()
    for fault in health:  # one line each: a camera fault, not an anomaly; the scores there mean nothing
        seconds = f"{fault.start / result.fps:.1f}-{(fault.end + 1) / result.fps:.1f} s"
        print(f"camera: {fault.kind} at frames {fault.start}-{fault.end} ({seconds})", file=sys.stderr)
    return scene, health


def _write_and_report(args: argparse.Namespace, result: Analysis, marks: dict[str, float]) -> int:
    from vad_core.pipeline.result import SegmentRule

    scene, health = _warn(result)
    rule = SegmentRule(args.threshold, args.min_duration, args.merge_gap)
    writing = time.time()
    out = result.save(args.out, rule)
    written = time.time()
    segments = result.segments_document(rule)["segments"]  # with their kind, as segments.json has them
    timing = {  # seconds from the start of this process, and the CPU seconds of each stage (vad_core.stages)
        "first_frame_s": marks["first_frame"] - marks["started"],
        "model_ready_s": marks["model_ready"] - marks["started"],
        "analysis_s": result.seconds,
        "writing_s": written - writing,
        "total_s": time.time() - marks["started"],
        "cpu_s": result.stage_seconds,
    }
    summary = {
        "frames": result.frame_count,
        "video_fps": result.fps,
        "seconds": result.seconds,
        "frames_per_second": result.frames_per_second,
        "segments": segments,
        "scene": scene.to_dict() if scene is not None else None,
        "health": [fault.to_dict(result.fps) for fault in health],
        "out": str(out),
        "timing": timing,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        speed = f"{result.frames_per_second:.1f} frames/s"
        print(f"{result.frame_count} frames at {speed}; {len(segments)} segments; wrote {out}")
    return 0
