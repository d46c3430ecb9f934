"""`python -m vad_core bench [--json]`: throughput of the reference and optimized model, analyze and training;
memory, and as asked the live and whole-process figures (vad_core.bench)."""

from __future__ import annotations

import argparse
import json
import sys

from vad_core.cli.common import about, config_from
from vad_core.cli.options import COUNT, POSITIVE, WORKERS, input_size
from vad_core.errors import BadInput


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="throughput of the reference and optimized model, analyze, training; memory")
    p.add_argument("--video", default=None, help="clip to measure on (default: the first Ped2 test clip)")
    p.add_argument("--input-size", type=input_size, default=227, help="model input size (default 227, the paper's)")
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default: CUDA when available)")
    p.add_argument("--frames", type=COUNT, default=80, help="frames per model-only measurement")
    p.add_argument("--rounds", type=COUNT, default=5, help="alternating rounds; the best of each figure counts")
    p.add_argument("--train-steps", type=COUNT, default=3, help="timed training steps")
    p.add_argument("--workers", type=WORKERS, default=None, help="analysis worker threads (default: per device)")
    p.add_argument("--no-memory", action="store_true", help="skip the long-video memory check")
    p.add_argument("--memory-minutes", default="1,10", help="lengths of the generated videos, in minutes")
    p.add_argument("--memory-size", type=input_size, default=None, help="model size for the memory check (default 131)")
    p.add_argument("--live", action="store_true", help="add the live figure (a 640x360 camera at rising rates)")
    p.add_argument("--live-only", action="store_true", help="measure the live figure alone")
    p.add_argument("--live-rates", default="10,15,20,25,30,40,50", help="camera frame rates for the live figure")
    p.add_argument("--live-seconds", type=POSITIVE, default=8.0, help="seconds played at each live rate (8)")
    p.add_argument("--whole", action="store_true", help="add the whole-process figure (`analyze --out` as run)")
    p.add_argument("--whole-only", action="store_true", help="measure the whole-process figure alone")
    p.add_argument("--whole-loops", type=COUNT, default=3, help="times Ped2's test clips are looped (3: 6,030 frames)")
    p.add_argument("--whole-rounds", type=COUNT, default=3, help="rounds of the whole-process figure (3)")
    p.add_argument(
        "--whole-checkpoint",
        action="append",
        default=[],
        metavar="STEM",
        help="a checkpoint whose `analyze --checkpoint STEM` the whole-process figure times beside the bundled "
        "default's (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from vad_core.bench.clips import default_video
    from vad_core.bench.report import format_report
    from vad_core.bench.run import BenchConfig, run_bench

    try:
        minutes = tuple(POSITIVE(m) for m in args.memory_minutes.split(",") if m.strip())
    except argparse.ArgumentTypeError as err:
        raise BadInput(f"--memory-minutes takes comma-separated positive numbers of minutes: {err}") from err
    try:
        video = args.video or str(default_video())
    except BadInput as err:
        raise BadInput(f"{err}; pass --video") from None
    _check_whole_checkpoints(args)
    memory = not args.no_memory and bool(minutes)
    whole_checkpoint = tuple(args.whole_checkpoint)
    cfg = config_from(
        args, BenchConfig, video=video, memory=memory, memory_minutes=minutes, whole_checkpoint=whole_checkpoint
    )
    report = run_bench(cfg, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _check_whole_checkpoints(args: argparse.Namespace) -> None:
    """--whole-checkpoint's stems load, and a whole-process figure is asked for: refused now, not after minutes of
    the other figures."""
    if not args.whole_checkpoint:
        return
    if not (args.whole or args.whole_only):
        msg = "times a detector beside the bundled default in the whole-process figure: add --whole or --whole-only"
        raise BadInput(msg, option="whole_checkpoint")
    from vad_core.model.checkpoint import load_checkpoint

    for stem in args.whole_checkpoint:
        with about("whole_checkpoint"):
            load_checkpoint(stem, device="cpu")
