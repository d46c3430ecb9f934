"""`python -m vad_core calibrate --data CLIPS --checkpoint CKPT`: re-fit the calibrated score (tau, the scoring
settings given, the scene reference) on normal clips and rewrite the checkpoint's card."""

from __future__ import annotations

import argparse

from vad_core.cli.common import command_line
from vad_core.cli.options import COUNT, FRACTION, number
from vad_core.errors import BadInput


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="re-fit the calibrated score of a model on normal clips")
    p.add_argument("--data", required=True, help="normal clips: a dataset folder with train/, or a folder of clips")
    p.add_argument("--checkpoint", required=True, help="checkpoint stem whose card is rewritten")
    p.add_argument("--val-fraction", type=FRACTION, default=1.0, help="tail of each clip to use (1.0: whole clips)")
    p.add_argument("--quantile", type=FRACTION, default=0.99, help="normal-error quantile that becomes score 1.0")
    p.add_argument("--kind", choices=["appearance", "motion"], default=None, help="error kind (default: keep)")
    p.add_argument("--reduce", choices=["sum", "local_max", "local_top"], default=None, help="frame reduction")
    p.add_argument("--patch", type=COUNT, default=None, help="patch size of the local reductions (default: keep)")
    p.add_argument("--top-fraction", type=FRACTION, default=None, help="share of patches local_top averages")
    p.add_argument(
        "--per-place",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="judge each place by its own normal error level (default: keep)",
    )
    p.add_argument(
        "--select-per-place", action="store_true", help="choose place scales and motion form by injected anomalies"
    )
    p.add_argument("--smooth", type=number(float, 0), default=None, help="temporal smoothing sigma (default: keep)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from vad_core.model.checkpoint import load_autoencoder, load_checkpoint
    from vad_core.training.calibration import recalibrate

    model = load_autoencoder(args.checkpoint, purpose="calibrate")
    current, size = model.scoring, model.cfg.input_size
    if args.patch is not None and args.patch > size:
        raise BadInput(f"--patch {args.patch} is larger than {model.name}'s {size} px frames")
    changes = {
        "kind": args.kind,
        "reduce": args.reduce,
        "patch": args.patch,
        "top_fraction": args.top_fraction,
        "per_place": args.per_place,
        "smooth_sigma": args.smooth,
    }
    scoring = replace(current, **{k: v for k, v in changes.items() if v is not None})
    cal = recalibrate(
        args.checkpoint, args.data, scoring, args.val_fraction, args.quantile, command_line(), args.select_per_place
    )
    scoring = load_checkpoint(args.checkpoint).scoring
    print(f"tau={cal.tau:.6g} pixel_tau={cal.pixel_tau:.6g} from {cal.frames} normal frames; scoring {scoring}")
    return 0
