"""`python -m vad_core evaluate --data DATASET [--json]`: frame AUCs (pooled, per-video normalized, macro), EER
and pixel AUC on a labelled dataset; optionally stored in the model card."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vad_core.cli.common import progress
from vad_core.errors import BadInput


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="frame and pixel AUC on a labelled dataset")
    p.add_argument("--data", required=True, help="dataset folder with test/ and labels.json")
    p.add_argument("--checkpoint", default=None, help="checkpoint stem (default: the bundled Ped2 fused model)")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--update-card", action="store_true", help="store the results in the checkpoint's model card")


def run(args: argparse.Namespace) -> int:
    from vad_core.model.checkpoint import load_checkpoint, record_evaluation
    from vad_core.training.evaluation import evaluate_dataset

    if not Path(args.data).is_dir():
        raise BadInput(f"{args.data}: dataset folder not found")
    model = load_checkpoint(args.checkpoint, device=args.device)
    with progress(args, desc="evaluating", unit="clip") as bar:
        metrics = evaluate_dataset(args.data, model, on_clip=lambda name: bar.update(1))
    if args.update_card:
        record_evaluation(args.checkpoint, metrics, data=args.data)
    if args.json:
        print(json.dumps(metrics))
    else:
        for key, value in metrics.items():
            print(f"{key:>22}: {value}")
    return 0
