"""Command line: python -m vad_core {analyze,train,adapt,calibrate,evaluate,bench,inject}.

    python -m vad_core analyze clip.mp4 --out results --json
    python -m vad_core train --data ../shared/data/ucsd_ped2 --out models/mine --preset fast --minutes 10
    python -m vad_core adapt new_camera.mp4 --normal 0:300 --minutes 2 --out models/new_camera
    python -m vad_core evaluate --data ../shared/data/ucsd_ped2 --json
    python -m vad_core bench --json
    python -m vad_core inject Train001.mp4 --kind moving_object --start 60 --end 100 --out inj.mp4 --analyze
    python -m vad_core watch rtsp://camera/stream --json-lines --out live --alert-cmd "./notify"

Exit status: 0 success, 2 bad input (one line on stderr), 1 internal error. Every numeric option is checked
for its range as it is parsed, and every path a command writes before any work starts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from tqdm import tqdm

from vad_core.errors import BadInput
from vad_core.training.injection import KINDS as INJECTION_KINDS

if TYPE_CHECKING:
    from vad_core.training.train import TrainConfig

T = TypeVar("T")


def _number(
    kind: type[int] | type[float], low: float | None = None, high: float | None = None, *, above: bool = False
) -> Callable[[str], float]:
    """argparse type: an integer or a finite number in [low, high] (above: strictly greater than low)."""
    noun = "an integer" if kind is int else "a number"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if (low is not None and (value < low or (above and value == low))) or (high is not None and value > high):
            bounds = [f"{'above' if above else 'at least'} {low:g}"] if low is not None else []
            bounds += [f"at most {high:g}"] if high is not None else []
            raise argparse.ArgumentTypeError(f"{text} is out of range: it must be {' and '.join(bounds)}")
        return value

    return parse


MAX_INT = 2**31 - 1  # what the C libraries underneath (OpenCV, FFmpeg) take as a count
COUNT = _number(int, 1, MAX_INT)  # frames, steps, clips, epochs...
FRAME = _number(int, 0, MAX_INT)  # a frame number, or a gap in frames
SEED = _number(int, 0, 2**32 - 1)  # numpy takes seeds in this range
POSITIVE = _number(float, 0, above=True)  # minutes, seconds, a learning rate, a threshold
FRACTION = _number(float, 0, 1, above=True)  # (0, 1]
BATCH = _number(int, 1, 1024)
WORKERS = _number(int, 1, 256)


def _input_size(text: str) -> int:
    """argparse type: a model input size the architecture inverts exactly (8n+19, 27 to 1019)."""
    size = int(_number(int, 19, 1024)(text))
    from vad_core.model.autoencoder import ModelConfig

    try:
        ModelConfig(input_size=size)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"the model cannot take {size} px: use a size of the form 8n+19 from 27 to 1019, such as 131 or 227"
        ) from None
    return size


def _fraction_below_1(text: str) -> float:
    value = FRACTION(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text} is out of range: it must be above 0 and below 1")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit 2, as for any bad input
        self.exit(2, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m vad_core", description="Reconstruction-based video anomaly detection.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("analyze", help="score every frame of a video")
    p.add_argument("video", help="video file or folder of frame images")
    p.add_argument("--checkpoint", default=None, help="checkpoint stem (default: bundled Ped2 model)")
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

    p = sub.add_parser("train", help="train on normal clips (DATASET/train) and calibrate")
    p.add_argument("--data", required=True, help="dataset folder with train/ (or a folder of normal clips)")
    p.add_argument("--out", required=True, help="checkpoint stem to write (STEM.safetensors, STEM.json)")
    preset_help = "fast: 131 px (less for frames under 240 rows); paper: 227 px"
    p.add_argument("--preset", choices=["fast", "paper"], default="fast", help=preset_help)
    p.add_argument("--input-size", type=_input_size, default=None, help="override the preset's input size (8n+19)")
    p.add_argument("--temporal", choices=["convlstm", "none"], default="convlstm", help="temporal block (ablation)")
    p.add_argument("--epochs", type=COUNT, default=None, help="epochs to train")
    p.add_argument("--minutes", type=POSITIVE, default=None, help="time budget in minutes")
    p.add_argument("--batch-size", type=BATCH, default=4, help="windows per step, 1 to 1024 (default 4)")
    p.add_argument("--lr", type=POSITIVE, default=1e-3)
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--max-clips", type=COUNT, default=None, help="use only the first N training clips")
    p.add_argument("--device", default=None)
    p.add_argument("--resume", action="store_true", help="continue from STEM.resume.safetensors if present")
    p.add_argument("--init", default=None, help="fine-tune this checkpoint instead of starting from scratch")
    _add_progress_json(p)

    p = sub.add_parser("adapt", help="fine-tune a model on a clip's own normal frames, then calibrate on them")
    p.add_argument("video", help="a clip of the new camera: video file or folder of frame images")
    p.add_argument(
        "--normal",
        action="append",
        type=_frame_range,
        default=None,
        metavar="START:END",
        help="normal frames, end exclusive; repeat for more ranges (default: the first 30 s, at most half the clip)",
    )
    p.add_argument("--checkpoint", default=None, help="model to start from (default: bundled Ped2 model)")
    p.add_argument("--minutes", type=POSITIVE, default=2.0, help="fine-tuning budget in minutes (default 2)")
    p.add_argument("--out", required=True, help="checkpoint stem to write (STEM.safetensors, STEM.json)")
    p.add_argument(
        "--val-fraction", type=_fraction_below_1, default=0.25, help="tail of each range held out for calibration"
    )
    p.add_argument("--lr", type=POSITIVE, default=1e-3)
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--device", default=None)
    _add_progress_json(p)

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
    p.add_argument("--smooth", type=_number(float, 0), default=None, help="temporal smoothing sigma (default: keep)")

    p = sub.add_parser("scene", help="does the model know these clips' scene, is the camera healthy? clip by clip")
    p.add_argument("inputs", nargs="+", help="video files, frame folders, or folders of clips")
    p.add_argument("--checkpoint", default=None, help="checkpoint stem (default: bundled Ped2 model)")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true", help="one JSON object with every clip's check on stdout")

    p = sub.add_parser("select-scoring", help="rank scoring configs on anomalies injected into normal clips")
    p.add_argument("--data", required=True, help="normal clips: a dataset folder with train/, or a folder of clips")
    p.add_argument("--checkpoint", default=None, help="checkpoint stem (default: bundled Ped2 model)")
    p.add_argument("--clips", type=COUNT, default=8, help="clips to calibrate on, and as many to inject into")
    p.add_argument("--top", type=COUNT, default=10, help="rows to print (default 10)")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true", help="every candidate as JSON on stdout")

    p = sub.add_parser("evaluate", help="frame and pixel AUC on a labelled dataset")
    p.add_argument("--data", required=True, help="dataset folder with test/ and labels.json")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--update-card", action="store_true", help="store the results in the checkpoint's model card")

    p = sub.add_parser("bench", help="throughput of the reference and optimized model, analyze, training; memory")
    p.add_argument("--video", default=None, help="clip to measure on (default: the first Ped2 test clip)")
    p.add_argument("--input-size", type=_input_size, default=227, help="model input size (default 227, the paper's)")
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default: CUDA when available)")
    p.add_argument("--frames", type=COUNT, default=80, help="frames per model-only measurement")
    p.add_argument("--rounds", type=COUNT, default=5, help="alternating rounds; the best of each figure counts")
    p.add_argument("--train-steps", type=COUNT, default=3, help="timed training steps")
    p.add_argument("--workers", type=WORKERS, default=None, help="analysis worker threads (default: per device)")
    p.add_argument("--no-memory", action="store_true", help="skip the long-video memory check")
    p.add_argument("--memory-minutes", default="1,10", help="lengths of the generated videos, in minutes")
    p.add_argument(
        "--memory-size", type=_input_size, default=None, help="model size for the memory check (default 131)"
    )
    p.add_argument("--live", action="store_true", help="add the live figure (a 640x360 camera at rising rates)")
    p.add_argument("--live-only", action="store_true", help="measure the live figure alone")
    p.add_argument("--live-rates", default="10,15,20,25,30,40,50", help="camera frame rates for the live figure")
    p.add_argument("--live-seconds", type=POSITIVE, default=8.0, help="seconds played at each live rate (8)")
    p.add_argument("--whole", action="store_true", help="add the whole-process figure (`analyze --out` as run)")
    p.add_argument("--whole-only", action="store_true", help="measure the whole-process figure alone")
    p.add_argument("--whole-loops", type=COUNT, default=3, help="times Ped2's test clips are looped (3: 6,030 frames)")
    p.add_argument("--whole-rounds", type=COUNT, default=3, help="rounds of the whole-process figure (3)")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")

    p = sub.add_parser("inject", help="inject a synthetic anomaly into a normal clip; optionally score it")
    p.add_argument("video", help="a normal clip: video file or folder of frame images")
    p.add_argument("--kind", required=True, choices=list(INJECTION_KINDS), help="what to inject")
    p.add_argument("--start", type=FRAME, required=True, help="first injected frame (0-based)")
    p.add_argument("--end", type=COUNT, required=True, help="stop before this frame (end exclusive)")
    p.add_argument("--seed", type=SEED, default=0, help="random seed (object, place, direction)")
    p.add_argument("--size", type=COUNT, default=None, help="object height in pixels (default: frame height / 6)")
    p.add_argument("--speed", type=POSITIVE, default=None, help="object speed in px/frame (default: width / 40)")
    p.add_argument("--factor", type=_number(int, 2, 16), default=3, help="speed-up factor, 2 to 16 (default 3)")
    p.add_argument(
        "--delta", type=_number(float, -255, 255), default=60.0, help="brightness shift in gray levels (default 60)"
    )
    p.add_argument("--polarity", choices=["bright", "dark", "random"], default="random", help="object tone")
    p.add_argument("--out", required=True, help="injected clip to write (.mp4, H.264); labels go to OUT.labels.json")
    p.add_argument("--analyze", action="store_true", help="score the injected clip; print its frame AUC")
    p.add_argument("--checkpoint", default=None, help="checkpoint stem for --analyze (default: bundled Ped2 model)")
    p.add_argument("--device", default=None, help="cpu, cuda or auto, for --analyze")
    p.add_argument("--json", action="store_true", help="print a summary object on stdout")

    from vad_core.batch.cli import add_parser as add_batch_parser

    add_batch_parser(sub)
    from vad_core.pipeline.watch import add_parser as add_watch_parser

    add_watch_parser(sub)
    return parser


def _add_progress_json(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress-json", action="store_true", help="one JSON object per step on stdout, then a summary (for UIs)"
    )


def _frame_range(text: str) -> tuple[int, int]:
    """START:END, end exclusive, as argparse's type."""
    try:
        start, end = (int(part) for part in text.split(":"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not START:END (two frame numbers)") from err
    if not 0 <= start < end:
        raise argparse.ArgumentTypeError(f"{text!r} is empty; need 0 <= START < END")
    return start, end


def _writable_folder(path: str | Path, option: str) -> Path:
    """The folder an option names for output, checked before any work: not a file, creatable, writable."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"{option} {path}: a file of that name exists; give a folder (it is created when missing)")
    existing = next(p for p in (folder.absolute(), *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise BadInput(f"{option} {path}: {existing} is a file, so no folder can be made under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BadInput(f"{option} {path}: the folder {existing} is not writable")
    return folder


def _new_file(path: str | Path, option: str) -> Path:
    """A file an option names for output: not a folder, in a writable folder that exists."""
    out = Path(path)
    if out.is_dir():
        raise BadInput(f"{option} {path}: that is a folder; give a file name")
    parent = out.parent
    if not parent.is_dir():
        raise BadInput(f"{option} {path}: output folder {parent} not found")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"{option} {path}: the folder {parent} is not writable")
    return out


def _progress(args: argparse.Namespace, **kwargs) -> tqdm:
    """A progress bar on an interactive stderr only, cleared when done, so that an error stays one line."""
    return tqdm(disable=True if args.json else None, leave=False, **kwargs)


def _command_line() -> str:
    """The command as a user would type it again, for model cards."""
    return "python -m vad_core " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _analyze(args: argparse.Namespace) -> int:
    from vad_core.cpu import decode_threads, likely_device_type
    from vad_core.io.prefetch import Prefetch
    from vad_core.io.video import IN_PROCESS
    from vad_core.stages import StageClock, process_start

    started = process_start()
    _writable_folder(args.out, "--out")
    clock = StageClock()
    threads = decode_threads(likely_device_type(args.device))
    with Prefetch(IN_PROCESS, args.video, threads, clock) as video:  # decodes while torch and the model load
        from vad_core.io.limits import AnalysisLimits, FrameSelection
        from vad_core.model.checkpoint import load_checkpoint
        from vad_core.pipeline.analysis import analyze
        from vad_core.pipeline.result import SegmentRule

        selection = FrameSelection(args.start, args.end, args.every)
        limits = AnalysisLimits(max_frames=args.max_frames, max_seconds=args.max_seconds)
        model = load_checkpoint(args.checkpoint, device=args.device)
        model_ready = time.time()
        with _progress(args, unit="frame", desc="analyzing") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total or None
                bar.update(done - bar.n)

            result = analyze(
                args.video, model, progress=progress, selection=selection, limits=limits, decoder=video, clock=clock
            )
    for warning in result.warnings:  # after the bar is cleared: the analysis went on with what decoded
        print(f"warning: {warning}", file=sys.stderr)
    scene = result.scene_check()
    if scene is not None and not scene.familiar:
        print(f"warning: {result.name}: {scene.reason}", file=sys.stderr)
    health = result.health_segments()
    for fault in health:  # one line each: a camera fault, not an anomaly; the scores there mean nothing
        seconds = f"{fault.start / result.fps:.1f}-{(fault.end + 1) / result.fps:.1f} s"
        print(f"camera: {fault.kind} at frames {fault.start}-{fault.end} ({seconds})", file=sys.stderr)
    rule = SegmentRule(args.threshold, args.min_duration, args.merge_gap)
    writing = time.time()
    out = result.save(args.out, rule)
    written = time.time()
    segments = result.segments_document(rule)["segments"]  # with their kind, as segments.json has them
    timing = {  # seconds from the start of this process, and the CPU seconds of each stage (vad_core.stages)
        "first_frame_s": (video.first_frame_at or model_ready) - started,
        "model_ready_s": model_ready - started,
        "analysis_s": result.seconds,
        "writing_s": written - writing,
        "total_s": time.time() - started,
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


def _config_from(args: argparse.Namespace, config: type[T], **values: object) -> T:
    """A config dataclass from the options named like its fields; values override or add (e.g. computed ones).

    Options and fields share names on purpose (--batch-size is batch_size), so a new option needs no plumbing.
    The subcommand's own name (args.command) never becomes a field: pass a field called command explicitly.
    """
    names = {f.name for f in fields(config)}
    options = {k: v for k, v in vars(args).items() if k in names and k != "command"}
    return config(**(options | values))


def _stop_on_signal() -> threading.Event:
    """Ctrl-C or SIGTERM stops training after the current step; it still calibrates and saves. A second
    Ctrl-C aborts at once."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        print("stopping after this step; then calibrating and saving (Ctrl-C again to abort)", file=sys.stderr)
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stop


def _train(args: argparse.Namespace) -> int:
    from vad_core.training.train import TrainConfig

    return _run_training(args, _config_from(args, TrainConfig, command=_command_line()))


def _adapt(args: argparse.Namespace) -> int:
    from vad_core.io.video import probe
    from vad_core.model.checkpoint import DEFAULT_CHECKPOINT, new_checkpoint_paths
    from vad_core.training.train import TrainConfig, default_normal_range

    new_checkpoint_paths(args.out)  # before the clip is even probed
    info = probe(args.video)
    ranges = args.normal or [default_normal_range(info.frame_count, info.fps)]
    cfg = _config_from(
        args,
        TrainConfig,
        data=args.video,
        init=str(args.checkpoint or DEFAULT_CHECKPOINT),
        normal_ranges=tuple(ranges),
        command=_command_line(),
    )
    return _run_training(args, cfg)


def _run_training(args: argparse.Namespace, cfg: TrainConfig) -> int:
    from vad_core.model.checkpoint import new_checkpoint_paths
    from vad_core.training.train import TrainProgress, train

    new_checkpoint_paths(cfg.out)  # a taken or unusable name fails now, not after the training budget is spent
    stop = _stop_on_signal()
    if args.progress_json:

        def report(progress: TrainProgress) -> None:
            print(json.dumps(asdict(progress)), flush=True)

        result = train(cfg, on_step=report, should_stop=stop.is_set, show_progress=False)
        summary = {"checkpoint": str(result.checkpoint), "steps": result.steps, "cancelled": result.cancelled}
        print(json.dumps({"done": summary}), flush=True)
        return 0
    result = train(cfg, should_stop=stop.is_set)
    stopped = " (stopped early)" if result.cancelled else ""
    print(f"trained {result.steps} steps ({result.frames_seen} frames) in {result.seconds:.0f} s{stopped}")
    print(f"wrote {result.checkpoint}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from vad_core.model.checkpoint import load_checkpoint
    from vad_core.training.calibration import recalibrate

    model = load_checkpoint(args.checkpoint)
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
        args.checkpoint, args.data, scoring, args.val_fraction, args.quantile, _command_line(), args.select_per_place
    )
    scoring = load_checkpoint(args.checkpoint).scoring
    print(f"tau={cal.tau:.6g} pixel_tau={cal.pixel_tau:.6g} from {cal.frames} normal frames; scoring {scoring}")
    return 0


def _scene(args: argparse.Namespace) -> int:
    from vad_core.io.video import image_files, list_clips
    from vad_core.model.checkpoint import load_checkpoint
    from vad_core.pipeline.analysis import analyze

    model = load_checkpoint(args.checkpoint, device=args.device)
    if model.scene is None:
        raise BadInput(f"{model.name} has no scene reference in its card; re-fit it with the calibrate command")
    paths = []
    for item in map(Path, args.inputs):
        paths += list_clips(item) if item.is_dir() and not image_files(item) else [item]
    checks = {}
    with _progress(args, desc="checking", unit="clip", total=len(paths)) as bar:
        for path in paths:
            result = analyze(path, model)
            check = result.scene_check()
            health = [fault.to_dict(result.fps) for fault in result.health_segments()]
            checks[str(path)] = check.to_dict() | {"figures": check.figures, "health": health}
            bar.update(1)
    unfamiliar = [p for p, c in checks.items() if not c["familiar"]]
    faulty = [p for p, c in checks.items() if c["health"]]
    if args.json:
        counts = {"clips": len(checks), "unfamiliar": len(unfamiliar), "camera_faults": len(faulty)}
        print(json.dumps({"model": model.name, **counts, "checks": checks}))
        return 0
    for path, check in checks.items():
        faults = ", ".join(f"{f['kind']} {f['start']}-{f['end']}" for f in check["health"]) or "camera ok"
        print(f"{'familiar  ' if check['familiar'] else 'UNFAMILIAR'} {check['score']:7.2f}  {faults:<20} {path}")
    print(f"{len(unfamiliar)} of {len(checks)} clips unfamiliar to {model.name}; {len(faulty)} with camera faults")
    return 0


def _select_scoring(args: argparse.Namespace) -> int:
    from vad_core.io.video import list_clips
    from vad_core.model.checkpoint import load_checkpoint
    from vad_core.training.selection import select_scoring

    data = Path(args.data)
    if not data.is_dir():
        raise BadInput(f"{args.data}: folder not found")
    model = load_checkpoint(args.checkpoint, device=args.device)
    clips = list_clips(data / "train" if (data / "train").is_dir() else data)
    with _progress(args, desc="selecting", unit="clip") as bar:
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


def _evaluate(args: argparse.Namespace) -> int:
    from vad_core.model.checkpoint import load_checkpoint, record_evaluation
    from vad_core.training.evaluation import evaluate_dataset

    if not Path(args.data).is_dir():
        raise BadInput(f"{args.data}: dataset folder not found")
    model = load_checkpoint(args.checkpoint, device=args.device)
    with _progress(args, desc="evaluating", unit="clip") as bar:
        metrics = evaluate_dataset(args.data, model, on_clip=lambda name: bar.update(1))
    if args.update_card:
        record_evaluation(args.checkpoint, metrics, data=args.data)
    if args.json:
        print(json.dumps(metrics))
    else:
        for key, value in metrics.items():
            print(f"{key:>22}: {value}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from vad_core.bench import BenchConfig, format_report, run_bench

    try:
        minutes = tuple(POSITIVE(m) for m in args.memory_minutes.split(",") if m.strip())
    except argparse.ArgumentTypeError as err:
        raise BadInput(f"--memory-minutes takes comma-separated positive numbers of minutes: {err}") from err
    cfg = _config_from(args, BenchConfig, memory=not args.no_memory and bool(minutes), memory_minutes=minutes)
    report = run_bench(cfg, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _inject(args: argparse.Namespace) -> int:
    from vad_core.scoring.metrics import auc
    from vad_core.training.injection import InjectionConfig, inject_file, labels_path

    cfg = _config_from(args, InjectionConfig)
    out = _new_file(args.out, "--out")
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
        from vad_core.model.checkpoint import load_checkpoint
        from vad_core.pipeline.analysis import analyze

        model = load_checkpoint(args.checkpoint, device=args.device)
        with _progress(args, unit="frame", desc="analyzing") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total or None
                bar.update(done - bar.n)

            result = analyze(args.out, model, progress=progress)
        if result.frame_count != len(labels):
            raise BadInput(f"the injected clip decoded to {result.frame_count} frames, not {len(labels)}")
        score, health = result.score, result.health_scores() or {}
        summary |= {
            "auc": auc(score, labels),
            "score_in_range": float(score[labels == 1].mean()),
            "score_outside": float(score[labels == 0].mean()) if (labels == 0).any() else None,
            "health_auc": {kind: auc(values, labels) for kind, values in health.items()},
            "health": [fault.to_dict(result.fps) for fault in result.health_segments()],
            "model": model.name,
        }
    if args.json:
        print(json.dumps(summary))
    else:
        line = f"injected {cfg.kind} into frames {cfg.start}-{cfg.end - 1} of {len(labels)}; wrote {args.out}"
        if args.analyze:
            value = "undefined (every frame is injected)" if summary["auc"] is None else f"{summary['auc']:.3f}"
            line += f"; frame AUC {value}"
        print(line)
    return 0


def _watch(args: argparse.Namespace) -> int:
    from vad_core.pipeline.watch import run

    return run(args)


def _batch(args: argparse.Namespace) -> int:
    from vad_core.batch.cli import run

    return run(args)


COMMANDS = {
    "analyze": _analyze,
    "train": _train,
    "adapt": _adapt,
    "calibrate": _calibrate,
    "scene": _scene,
    "select-scoring": _select_scoring,
    "evaluate": _evaluate,
    "bench": _bench,
    "inject": _inject,
    "batch": _batch,
    "watch": _watch,
}


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BadInput as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)  # one line, whatever the message holds
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # internal error: one line unless debugging
        if os.environ.get("VAD_DEBUG"):
            raise
        message = " ".join(str(err).split())
        print(f"internal error: {type(err).__name__}: {message} (set VAD_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1
