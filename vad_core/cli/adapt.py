"""`python -m vad_core adapt VIDEO --normal START:END --out CKPT`: fine-tune a model on a clip's own normal frames
and calibrate on their held-out tail; the training code of `train`, with a small budget. --kind fused (the default
when the model adapted is a fused one) also fits a motion detector on the same frames and fuses the two."""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from vad_core.cli.common import TRAIN_ZONES_HELP, add_zones_option, command_line, config_from
from vad_core.cli.options import POSITIVE, SEED, add_progress_json, fraction_below_1, frame_range
from vad_core.cli.train import run_training

if TYPE_CHECKING:
    from vad_core.training.train import TrainConfig


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adapt", help="fine-tune a model on a clip's own normal frames, then calibrate on them")
    p.add_argument("video", help="a clip of the new camera: video file or folder of frame images")
    p.add_argument(
        "--normal",
        action="append",
        type=frame_range,
        default=None,
        metavar="START:END",
        help="normal frames, end exclusive; repeat for more ranges (default: the first 30 s, at most half the clip)",
    )
    start_help = "model to start from; a fused one stays fused (default: the bundled Ped2 fused model)"
    p.add_argument("--checkpoint", default=None, help=start_help)
    kind_help = (
        "autoencoder: the model's network fine-tuned; fused: that, and a motion detector fitted on the same frames, "
        "the two fused by a rule chosen on them (default: the kind of the model adapted)"
    )
    p.add_argument("--kind", choices=["autoencoder", "fused"], default=None, help=kind_help)
    p.add_argument("--minutes", type=POSITIVE, default=2.0, help="fine-tuning budget in minutes (default 2)")
    p.add_argument("--out", required=True, help="checkpoint stem to write (STEM.safetensors, STEM.json)")
    p.add_argument(
        "--val-fraction", type=fraction_below_1, default=0.25, help="tail of each range held out for calibration"
    )
    p.add_argument("--lr", type=POSITIVE, default=1e-3)
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--device", default=None)
    add_zones_option(p, TRAIN_ZONES_HELP)
    add_progress_json(p)


def run(args: argparse.Namespace) -> int:
    from vad_core.io.video import probe
    from vad_core.model.card import read_card
    from vad_core.model.checkpoint import DEFAULT_CHECKPOINT, checkpoint_paths, new_checkpoint_paths
    from vad_core.training.train import TrainConfig, default_normal_range

    new_checkpoint_paths(args.out)  # before the clip is even probed
    card = checkpoint_paths(args.checkpoint or DEFAULT_CHECKPOINT)[1]
    kind = args.kind or (read_card(card).detector if card.is_file() else "autoencoder")  # loading says what is amiss
    info = probe(args.video)
    ranges = args.normal or [default_normal_range(info.frame_count, info.fps)]
    cfg = config_from(
        args,
        TrainConfig,
        data=args.video,
        init=str(args.checkpoint or DEFAULT_CHECKPOINT),
        normal_ranges=tuple(ranges),
        command=command_line(),
    )
    return run_fused(args, cfg) if kind == "fused" else run_training(args, cfg)


def run_fused(args: argparse.Namespace, cfg: TrainConfig) -> int:
    """adapt --kind fused: the autoencoder adapted as adapt does (into a temporary stem), then a motion detector
    fitted on the same frames and the rule chosen on their held-out tails (vad_core.training.fused_fit)."""
    from vad_core.training.fused_fit import adapt_fused

    with tempfile.TemporaryDirectory(prefix="vad-adapt-") as folder:

        def fuse(result):  # the adapted autoencoder -> the fused model, which the report then names
            fused = adapt_fused(
                result.checkpoint, args.video, cfg.normal_ranges, args.out, cfg.val_fraction, cfg.minutes, cfg.command
            )
            return replace(result, checkpoint=fused.checkpoint, verdict=fused.summary())

        return run_training(args, replace(cfg, out=str(Path(folder) / "autoencoder")), fuse)
