"""`python -m vad_core batch INPUTS... --out DIR`: score many videos on Ray (vad_core.batch), or with --scaling
measure frames/s per worker count (vad_core.bench.scaling).

    python -m vad_core batch ../shared/data/ucsd_ped2/test --out batch_out --json
    python -m vad_core batch clips.csv --out batch_out --address 10.0.0.5:6379 --workers 8 --report
    python -m vad_core batch ../shared/data/ucsd_ped2/test --out scaling --scaling 1,2 --json

Exit status: 0 when every video is done or skipped; 2 when none was found, or when some failed as bad input
(one `error:` line each on stderr; the others are scored and written all the same); 1 for an internal
error, or a video whose worker kept crashing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from vad_core.cli.common import add_events_options, add_zones_option, read_zones_option
from vad_core.cli.options import COUNT, FRAME, POSITIVE
from vad_core.errors import BadInput

if TYPE_CHECKING:
    from vad_core.events.batch import BatchPublisher
    from vad_core.io.limits import AnalysisLimits


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="score many videos on Ray (this machine, or a cluster by --address)")
    p.add_argument("inputs", nargs="+", help="video files, folders (searched recursively) or manifests (.txt, .csv)")
    p.add_argument("--out", required=True, help="output folder (a rerun resumes: finished videos are skipped)")
    p.add_argument("--checkpoint", default=None, help="checkpoint stem (default: the bundled Ped2 fused model)")
    p.add_argument("--address", default=None, help="join this Ray cluster (`ray start --head` prints it)")
    p.add_argument("--workers", type=COUNT, default=None, help="model replicas (default: one per CPU, or per GPU)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when the cluster has GPUs)")
    p.add_argument(
        "--ship",
        choices=["auto", "path", "bytes"],
        default="auto",
        help="how videos reach workers: by path (a shared filesystem) or as bytes (default: paths locally, "
        "bytes on a cluster)",
    )
    p.add_argument("--retries", type=FRAME, default=2, help="retries of a video whose worker crashed (default 2)")
    p.add_argument(
        "--no-pin", action="store_true", help="let CPU replicas float over the cores instead of one core each"
    )
    p.add_argument("--report", action="store_true", help="also write DIR/report.html (self-contained)")
    p.add_argument("--max-frames", type=COUNT, default=None, help="refuse videos with more frames (default: none)")
    p.add_argument("--max-seconds", type=POSITIVE, default=None, help="stop a video, as bad input, after this long")
    p.add_argument("--max-frame-pixels", type=COUNT, default=None, help="refuse larger frames (default: 8K)")
    p.add_argument("--max-gigapixels", type=POSITIVE, default=None, help="refuse videos decoding more pixels in all")
    p.add_argument(
        "--sandbox",
        action="store_true",
        help="decode each video in a killable child capped by VAD_DECODE_MEMORY_MB and VAD_DECODE_STALL_SECONDS "
        "(as the app decodes uploads)",
    )
    p.add_argument("--scaling", default=None, metavar="N,N", help="measure frames/s with each worker count instead")
    p.add_argument("--rounds", type=COUNT, default=1, help="with --scaling: alternate the counts this many times; best")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    add_zones_option(p)
    add_events_options(p)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Ray prints notices (a worker died, and so on) on stdout; during the run they go to stderr, so that stdout
    holds only what this command prints (the --json object)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise BadInput(f"--scaling takes worker counts like 1,2; got {text!r}") from err
    if not counts or min(counts) < 1:
        raise BadInput(f"--scaling takes worker counts of at least 1; got {text!r}")
    return counts


def run(args: argparse.Namespace) -> int:
    from vad_core.batch.run import BatchConfig, run_batch
    from vad_core.io.sandbox import SandboxLimits

    cfg = BatchConfig(
        inputs=args.inputs,
        out=Path(args.out),
        checkpoint=args.checkpoint,
        address=args.address,
        workers=args.workers,
        device=args.device,
        ship=args.ship,
        retries=args.retries,
        report=args.report,
        pin=not args.no_pin,
        progress=not args.json,
        limits=_limits(args),
        sandbox=SandboxLimits.from_env() if args.sandbox else None,
        zones=read_zones_option(args),
        publish=_publisher(args),
    )
    if args.scaling:
        from vad_core.bench.scaling import measure_scaling

        with _stdout_to_stderr():
            figures = measure_scaling(cfg, _counts(args.scaling), args.rounds)
        print(json.dumps(figures) if args.json else _scaling_text(figures))
        return 0
    with _stdout_to_stderr():
        summary = run_batch(cfg)
    for failure in summary["failed"]:
        print(f"error: {failure['reason']}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary))
    else:
        done, skipped, failed = len(summary["done"]), len(summary["skipped"]), len(summary["failed"])
        speed = f"{summary['frames_per_second']:.1f} frames/s"
        print(f"{done} done, {skipped} skipped (already done), {failed} failed; {summary['frames']} frames at "
              f"{speed}; wrote {args.out}")  # fmt: skip
    if any("worker died" in f["reason"] or "internal error" in f["reason"] for f in summary["failed"]):
        return 1
    return 2 if summary["failed"] else 0


def _publisher(args: argparse.Namespace) -> BatchPublisher | None:
    """Each worker's events into the store (--events-url, else VAD_EVENTS_URL or the default file), unless
    --no-events; the URL is resolved here, so every worker writes where this command would."""
    from vad_core.events.batch import BatchPublisher
    from vad_core.events.store import default_url

    return None if args.no_events else BatchPublisher(args.events_url or default_url())


def _limits(args: argparse.Namespace) -> AnalysisLimits:
    """What one video may cost: only frames up to 8K unless asked (the app passes its own limits)."""
    from vad_core.io.limits import MAX_PIXELS, AnalysisLimits

    gigapixels = args.max_gigapixels
    return AnalysisLimits(
        max_frames=args.max_frames,
        max_seconds=args.max_seconds,
        max_pixels=args.max_frame_pixels or MAX_PIXELS,
        max_total_pixels=round(gigapixels * 1e9) if gigapixels is not None else None,
    )


def _scaling_text(figures: dict) -> str:
    lines = [f"{r['workers']} worker(s): {r['frames_per_second']:.1f} frames/s ({r['frames']} frames, "
             f"{r['seconds']:.1f} s)" for r in figures["scaling"]]  # fmt: skip
    lines.append("speedup: " + ", ".join(f"{k} workers {v:.2f}x" for k, v in figures["speedup"].items() if v))
    return "\n".join(lines)
