"""`python -m vad_core train --data DATASET --out CKPT`: fit each kind of detector on DATASET/train (or a folder of
normal clips) within the budget, keep the best on injected anomalies as CKPT.safetensors and CKPT.json (--kind best).
--kind autoencoder trains only the autoencoder (run_training, shared with `adapt`); --kind motion fits a motion
detector; --kind fused fits one and fuses it with an autoencoder (--checkpoint)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING

from vad_core.cli.common import TRAIN_ZONES_HELP, add_zones_option, command_line, config_from
from vad_core.cli.options import BATCH, COUNT, POSITIVE, SEED, add_progress_json, input_size, number
from vad_core.model.motion.config import MotionConfig
from vad_core.signals import on_stop_signal

if TYPE_CHECKING:
    from vad_core.training.train import TrainConfig, TrainProgress, TrainResult

STOPPING = "stopping after this step; then calibrating and saving (Ctrl-C again to abort)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train on normal clips (DATASET/train) and calibrate")
    p.add_argument("--data", required=True, help="dataset folder with train/ (or a folder of normal clips)")
    p.add_argument("--out", required=True, help="checkpoint stem to write (STEM.safetensors, STEM.json)")
    kind_help = (
        "best (default): fit a motion detector, train an autoencoder for the rest of the budget, fuse them, and "
        "keep as STEM whichever of the three scores best on anomalies injected into held-out normal frames (each "
        "stays saved as STEM-KIND); autoencoder: train only that; motion: per-place optical-flow statistics, "
        "fitted in seconds to minutes; fused: a motion detector fitted so and an autoencoder (--checkpoint), their "
        "calibrated scores combined by a rule chosen on anomalies injected into held-out normal frames"
    )
    kinds = ["best", "autoencoder", "motion", "fused"]
    p.add_argument("--kind", choices=kinds, default="best", help=kind_help)
    part_help = "fused: the autoencoder part (default: the bundled Ped2 autoencoder)"
    p.add_argument("--checkpoint", default=None, help=part_help)
    motion_help = "fused: a motion detector fitted already on DATASET, e.g. a best run's STEM-motion (default: fit one)"
    p.add_argument("--motion", default=None, help=motion_help)
    cell_help = "motion: a place's side in pixels at the clip's resolution (default: 16 or 8, chosen on injections)"
    p.add_argument("--cell", type=COUNT, default=None, help=cell_help)
    p.add_argument("--flow", choices=["fast", "medium"], default="medium", help="motion: OpenCV's DIS flow preset")
    sigma_help = "motion: smooth the places' normal over this many cells (default: chosen on injected anomalies)"
    p.add_argument("--scale-sigma", type=number(float, 0, 16), default=None, help=sigma_help)
    held = MotionConfig.persistence
    persistence_help = f"motion: frames (odd) over which a place's ratio is held (default {held})"
    p.add_argument("--persistence", type=COUNT, default=held, help=persistence_help)
    preset_help = "fast: 131 px (less for frames under 240 rows); paper: 227 px"
    p.add_argument("--preset", choices=["fast", "paper"], default="fast", help=preset_help)
    p.add_argument("--input-size", type=input_size, default=None, help="override the preset's input size (8n+19)")
    p.add_argument("--temporal", choices=["convlstm", "none"], default="convlstm", help="temporal block (ablation)")
    p.add_argument("--epochs", type=COUNT, default=None, help="epochs to train")
    minutes_help = "time budget in minutes (best: the whole command's, default 10; autoencoder: the training's)"
    p.add_argument("--minutes", type=POSITIVE, default=None, help=minutes_help)
    p.add_argument("--batch-size", type=BATCH, default=4, help="windows per step, 1 to 1024 (default 4)")
    p.add_argument("--lr", type=POSITIVE, default=1e-3)
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--max-clips", type=COUNT, default=None, help="use only the first N training clips")
    p.add_argument("--device", default=None)
    p.add_argument("--resume", action="store_true", help="continue from STEM.resume.safetensors if present")
    p.add_argument("--init", default=None, help="fine-tune this checkpoint instead of starting from scratch")
    add_zones_option(p, TRAIN_ZONES_HELP)
    add_progress_json(p)


def run(args: argparse.Namespace) -> int:
    from vad_core.training.train import TrainConfig

    if args.kind == "motion":
        return run_motion(args)
    if args.kind == "fused":
        return run_fused(args)
    if args.kind == "best":
        return run_best(args, config_from(args, TrainConfig, command=command_line()))
    return run_training(args, config_from(args, TrainConfig, command=command_line()))


def run_motion(args: argparse.Namespace) -> int:
    """train --kind motion: per-place flow statistics of the normal clips, calibrated on their held-out tails; says
    which scale_sigma was chosen and whether the model beats the baselines on the injected anomalies."""
    from vad_core.model.card import read_card
    from vad_core.training.motion_fit import MotionTrainConfig, train_motion
    from vad_core.training.selection import figures_line

    cfg = config_from(args, MotionTrainConfig, command=command_line())
    weights = train_motion(cfg)
    selection = read_card(weights.with_suffix(".json")).scoring_selection
    verdict = selection.verdict if selection else None
    if args.progress_json:  # no steps to report: the summary a UI waits for (the app's training runner)
        summary = {"checkpoint": str(weights), "steps": 0, "cancelled": False, "verdict": verdict}
        print(json.dumps({"done": summary}), flush=True)
        return 0
    print(f"wrote {weights}")
    if selection:
        tried = figures_line(selection.candidates)
        print(f"chosen: {selection.candidates[0].name} (pooled / per-video AUC on injected walkers: {tried})")
        print(verdict)
    return 0


def run_fused(args: argparse.Namespace) -> int:
    """train --kind fused: a motion detector fitted as train --kind motion fits one, fused with the autoencoder of
    --checkpoint by the rule that scores best on anomalies injected into the frames the motion part held out."""
    from vad_core.errors import BadInput
    from vad_core.training.fused_fit import FusedTrainConfig, train_fused

    if args.init is not None:
        raise BadInput("a fused model takes its autoencoder as it is: give it with --checkpoint, not --init")
    result = train_fused(config_from(args, FusedTrainConfig, command=command_line()))
    if args.progress_json:  # no steps to report: the summary a UI waits for (the app's training runner)
        summary = {"checkpoint": str(result.checkpoint), "steps": 0, "cancelled": False, "verdict": result.verdict}
        print(json.dumps({"done": summary}), flush=True)
        return 0
    print(f"wrote {result.checkpoint}")
    print(result.summary())
    return 0


def run_best(args: argparse.Namespace, cfg: TrainConfig) -> int:
    """train (--kind best): each kind fitted in one budget, the best on injected anomalies kept as --out."""
    from vad_core.training.best_fit import train_best

    stop = _stop_requested()
    if args.progress_json:

        def report(progress: TrainProgress) -> None:
            print(json.dumps(asdict(progress)), flush=True)

        def stage(text: str) -> None:  # a UI's phases without steps (the app's training runner)
            print(json.dumps({"stage": text}), flush=True)

        result = train_best(cfg, on_step=report, should_stop=stop.is_set, show_progress=False, on_stage=stage)
        summary = {"checkpoint": str(result.checkpoint), "steps": result.training.steps, "chosen": result.chosen}
        summary |= {"cancelled": result.training.cancelled, "verdict": result.selection.verdict}
        print(json.dumps({"done": summary}), flush=True)
        return 0
    result = train_best(cfg, should_stop=stop.is_set, on_stage=lambda stage: print(stage + "…", flush=True))
    for kind, path in result.candidates.items():
        print(f"{kind}: wrote {path}")
    print(result.summary())
    print(f"wrote {result.checkpoint} (a copy of the {result.chosen} model)")
    return 0


def _stop_requested() -> threading.Event:
    """Ctrl-C or SIGTERM stops training after the current step; it still calibrates and saves."""
    stop = threading.Event()

    def request_stop() -> None:
        print(STOPPING, file=sys.stderr)
        stop.set()

    on_stop_signal(request_stop)
    return stop


def run_training(
    args: argparse.Namespace, cfg: TrainConfig, finish: Callable[[TrainResult], TrainResult] | None = None
) -> int:
    """Train (or fine-tune) and report; finish: what becomes of the trained model before the report (adapt --kind
    fused makes a fused model of it: the report names that one)."""
    from vad_core.model.checkpoint import new_checkpoint_paths
    from vad_core.training.train import train

    finish = finish or (lambda result: result)
    new_checkpoint_paths(cfg.out)  # a taken or unusable name fails now, not after the training budget is spent
    stop = _stop_requested()
    if args.progress_json:

        def report(progress: TrainProgress) -> None:
            print(json.dumps(asdict(progress)), flush=True)

        result = finish(train(cfg, on_step=report, should_stop=stop.is_set, show_progress=False))
        summary = {"checkpoint": str(result.checkpoint), "steps": result.steps, "cancelled": result.cancelled}
        summary["verdict"] = result.verdict
        print(json.dumps({"done": summary}), flush=True)
        return 0
    result = finish(train(cfg, should_stop=stop.is_set))
    stopped = " (stopped early)" if result.cancelled else ""
    print(f"trained {result.steps} steps ({result.frames_seen} frames) in {result.seconds:.0f} s{stopped}")
    print(f"wrote {result.checkpoint}")
    if result.verdict:
        print(result.verdict)
    return 0
