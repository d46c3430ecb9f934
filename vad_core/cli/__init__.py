"""Command line: python -m vad_core COMMAND, one module of this package per command.

    python -m vad_core analyze clip.mp4 --out results --json
    python -m vad_core train --data ../shared/data/ucsd_ped2 --out models/mine --preset fast --minutes 10
    python -m vad_core adapt new_camera.mp4 --normal 0:300 --minutes 2 --out models/new_camera
    python -m vad_core calibrate --data clips/ --checkpoint models/mine
    python -m vad_core scene clips/ --json
    python -m vad_core select-scoring --data ../shared/data/ucsd_ped2
    python -m vad_core evaluate --data ../shared/data/ucsd_ped2 --json
    python -m vad_core bench --json
    python -m vad_core inject Train001.mp4 --kind moving_object --start 60 --end 100 --out inj.mp4 --analyze
    python -m vad_core batch ../shared/data/ucsd_ped2/test --out batch_out --json
    python -m vad_core watch rtsp://camera/stream --json-lines --out live --alert-cmd "./notify"
    python -m vad_core events list --review new --json

Each command module has add_parser(subparsers) and run(args) -> int; the option types they share are in
options. Exit status: 0 success, 2 bad input (one line on stderr), 1 internal error. Every numeric option is
checked for its range as it is parsed, and every path a command writes before any work starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from types import ModuleType

from vad_core.cli import (
    adapt,
    analyze,
    batch,
    bench,
    calibrate,
    evaluate,
    events,
    inject,
    scene,
    select_scoring,
    train,
    watch,
)
from vad_core.cli.common import message
from vad_core.errors import BadInput

# In the order of `python -m vad_core --help`.
COMMANDS: dict[str, ModuleType] = {
    "analyze": analyze,
    "train": train,
    "adapt": adapt,
    "calibrate": calibrate,
    "scene": scene,
    "select-scoring": select_scoring,
    "evaluate": evaluate,
    "bench": bench,
    "inject": inject,
    "batch": batch,
    "watch": watch,
    "events": events,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit 2, as for any bad input
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m vad_core", description="Reconstruction-based video anomaly detection.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = COMMANDS[args.command].run
    try:
        return run(args)
    except BadInput as err:
        print(f"error: {message(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # internal error: one line unless debugging
        if os.environ.get("VAD_DEBUG"):
            raise
        text = " ".join(str(err).split())
        print(f"internal error: {type(err).__name__}: {text} (set VAD_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1
