"""`python -m vad_core select-scoring --data CLIPS`: rank scoring configs by how well they find anomalies injected
into normal clips (the rule that carries to a camera nobody labelled)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from vad_core.cli.common import progress
from vad_core.cli.options import COUNT
from vad_core.errors import BadInput


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("select-scoring", help="rank scoring configs on anomalies injected into normal clips")
    p.add_argument("--data", required=True, help="normal clips: a dataset folder with train/, or a folder of clips")
    p.add_argument("--checkpoint", default=None, help="an autoencoder's stem (default: the bundled Ped2 autoencoder)")
    p.add_argument("--clips", type=COUNT, default=8, help="clips to calibrate on, and as many to inject into")
    p.add_argument("--top", type=COUNT, default=10, help="rows to print (default 10)")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true", help="every candidate as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from vad_core.io.video import normal_clips
    from vad_core.model.checkpoint import load_autoencoder
    from vad_core.training.selection import select_scoring

    if not Path(args.data).is_dir():
        raise BadInput(f"{args.data}: folder not found")
    model = load_autoencoder(args.checkpoint, args.device, purpose="select-scoring")
    clips = normal_clips(args.data)
    with progress(args, desc="selecting", unit="clip") as bar:
        report = select_scoring(model, clips, count=args.clips, on_step=lambda name: bar.update(1))
    rows = [asdict(c.scoring) | {k: getattr(c, k) for k in ("auc_micro", "auc_video_norm", "auc_macro")}
            for c in report.candidates]  # fmt: skip
    if args.json:
        print(json.dumps({"calibration_clips": report.calibration_clips, "injected": report.injected_clips,
                          "candidates": rows}))  # fmt: skip
        return 0
    print(f"calibrated on {len(report.calibration_clips)} clips; {len(report.injected_clips)} injected clips")
    for row in rows[: args.top]:
        place = "per-place" if row["per_place"] else "raw"
        print(
            f"{row['kind']:>10} {row['reduce']:>9} {place:>9} patch {row['patch']:>2} sigma {row['smooth_sigma']:g}: "
            f"AUC {row['auc_micro']:.3f}  per-video {row['auc_video_norm']:.3f}  macro {row['auc_macro']:.3f}"
        )
    return 0
