"""`python -m vad_core inject CLIP --kind KIND --start S --end E --out OUT.mp4 [--analyze]`: a synthetic anomaly
in a normal clip, its frame labels in OUT.labels.json; with --analyze, how well the model finds it."""

from __future__ import annotations

import argparse
import json

from vad_core.cli.common import about, config_from, frame_progress, progress
from vad_core.cli.options import COUNT, FRAME, POSITIVE, SEED, number
from vad_core.errors import BadInput
from vad_core.io.paths import new_file
from vad_core.training.injection import KINDS as INJECTION_KINDS

KIND_HELP = (
    "what to inject. Spatial: moving_object (a blob crossing fast), static_intruder (the blob standing still), "
    "walker (a person-sized object at twice a pedestrian's pace, as a cyclist), loiterer (one staying in a small "
    "area, drifting slowly), wrong_way (one at a pedestrian's pace against the clip's dominant direction); "
    "temporal: freeze, reverse, speedup, brightness; camera faults: cover, shift"
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inject", help="inject a synthetic anomaly into a normal clip; optionally score it")
    p.add_argument("video", help="a normal clip: video file or folder of frame images")
    p.add_argument("--kind", required=True, choices=list(INJECTION_KINDS), help=KIND_HELP)
    p.add_argument("--start", type=FRAME, required=True, help="first injected frame (0-based)")
    p.add_argument("--end", type=COUNT, required=True, help="stop before this frame (end exclusive)")
    p.add_argument("--seed", type=SEED, default=0, help="random seed (object, place, direction)")
    size_help = "object height in pixels (default: frame height / 6; walker, loiterer, wrong_way: a pedestrian's)"
    p.add_argument("--size", type=COUNT, default=None, help=size_help)
    speed_help = "object speed in px/frame (default: width / 40; walker / 180, wrong_way / 360, loiterer / 1440)"
    p.add_argument("--speed", type=POSITIVE, default=None, help=speed_help)
    p.add_argument("--factor", type=number(int, 2, 16), default=3, help="speed-up factor, 2 to 16 (default 3)")
    p.add_argument(
        "--delta", type=number(float, -255, 255), default=60.0, help="brightness shift in gray levels (default 60)"
    )
    p.add_argument("--polarity", choices=["bright", "dark", "random"], default="random", help="object tone")
    p.add_argument("--out", required=True, help="injected clip to write (.mp4, H.264); labels go to OUT.labels.json")
    p.add_argument("--analyze", action="store_true", help="score the injected clip; print its frame AUC")
    p.add_argument("--checkpoint", default=None, help="model for --analyze (default: the bundled Ped2 fused model)")
    p.add_argument("--device", default=None, help="cpu, cuda or auto, for --analyze")
    p.add_argument("--json", action="store_true", help="print a summary object on stdout")


def run(args: argparse.Namespace) -> int:
    from vad_core.training.injection import InjectionConfig, inject_file, labels_path

    cfg = config_from(args, InjectionConfig)
    with about("out"):
        out = new_file(args.out)
    if out.suffix.lower() != ".mp4":
        raise BadInput(f"--out {args.out}: the injected clip is written as .mp4")
    if labels_path(out).is_dir():
        raise BadInput(f"--out {args.out}: {labels_path(out)}, where its labels go, is a folder")
    labels = inject_file(args.video, out, cfg)
    summary = {
        "frames": len(labels),
        "kind": cfg.kind,
        "start": cfg.start,
        "end": cfg.end,
        "seed": cfg.seed,
        "out": str(args.out),
        "labels": str(labels_path(args.out)),
    }
    if args.analyze:
        summary |= _scored(args, labels)
    if args.json:
        print(json.dumps(summary))
    else:
        line = f"injected {cfg.kind} into frames {cfg.start}-{cfg.end - 1} of {len(labels)}; wrote {args.out}"
        if args.analyze:
            value = "undefined (every frame is injected)" if summary["auc"] is None else f"{summary['auc']:.3f}"
            line += f"; frame AUC {value}"
        print(line)
    return 0


def _scored(args: argparse.Namespace, labels) -> dict:
    """The injected clip analyzed: its frame AUC, mean scores in and outside the range, the camera checks."""
    from vad_core.model.checkpoint import load_checkpoint
    from vad_core.pipeline.analysis import analyze
    from vad_core.scoring.metrics import auc

    model = load_checkpoint(args.checkpoint, device=args.device)
    with progress(args, unit="frame", desc="analyzing") as bar:
        result = analyze(args.out, model, progress=frame_progress(bar))
    if result.frame_count != len(labels):
        raise BadInput(f"the injected clip decoded to {result.frame_count} frames, not {len(labels)}")
    score, health = result.score, result.health_scores() or {}
    return {
        "auc": auc(score, labels),
        "score_in_range": float(score[labels == 1].mean()),
        "score_outside": float(score[labels == 0].mean()) if (labels == 0).any() else None,
        "health_auc": {kind: auc(values, labels) for kind, values in health.items()},
        "health": [fault.to_dict(result.fps) for fault in result.health_segments()],
        "model": model.name,
    }
