"""What the command handlers share at run time: the progress bar, the command line for model cards, configs from
options, the --zones option, and naming a library error by the option it is about."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from collections.abc import Iterator
from dataclasses import fields
from typing import TYPE_CHECKING, TypeVar

from tqdm import tqdm

from vad_core.errors import BadInput

if TYPE_CHECKING:
    from vad_core.model.checkpoint import Detector
    from vad_core.scoring.zones import Zones

T = TypeVar("T")
ZONES_HELP = (
    'zones file, {"ignore": [polygon, ...], "only": [polygon, ...]} in the video\'s pixels '
    "(default: the model's STEM.zones.json, if any)"
)
TRAIN_ZONES_HELP = (
    "zones file: its masked places are left out of the loss and the calibration, and it is written beside the "
    "model (STEM.zones.json)"
)


def progress(args: argparse.Namespace, **kwargs) -> tqdm:
    """A progress bar on an interactive stderr only, cleared when done, so that an error stays one line."""
    return tqdm(disable=True if args.json else None, leave=False, **kwargs)


def frame_progress(bar: tqdm):
    """analyze's progress(done, total) drawn on bar."""

    def update(done: int, total: int) -> None:
        bar.total = total or None
        bar.update(done - bar.n)

    return update


def command_line() -> str:
    """The command as a user would type it again, for model cards."""
    return "python -m vad_core " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def config_from(args: argparse.Namespace, config: type[T], **values: object) -> T:
    """A config dataclass from the options named like its fields; values override or add (e.g. computed ones).

    Options and fields share names on purpose (--batch-size is batch_size), so a new option needs no plumbing.
    The subcommand's own name (args.command) never becomes a field: pass a field called command explicitly.
    """
    names = {f.name for f in fields(config)}
    options = {k: v for k, v in vars(args).items() if k in names and k != "command"}
    return config(**(options | values))


def flag(option: str) -> str:
    """The flag of a setting: "alert_cmd" -> "--alert-cmd"."""
    return option if option.startswith("-") else "--" + option.replace("_", "-")


@contextlib.contextmanager
def about(option: str) -> Iterator[None]:
    """A BadInput raised inside is about this option's value (main() then names the option's flag)."""
    try:
        yield
    except BadInput as err:
        if err.option is None:
            err.option = option
        raise


def message(err: BadInput) -> str:
    """The one line a user sees: the option's flag, then what the library says is wrong."""
    text = " ".join(str(err).split())  # one line, whatever the message holds
    return f"{flag(err.option)} {text}" if err.option else text


def add_zones_option(parser: argparse.ArgumentParser, help: str = ZONES_HELP) -> None:
    parser.add_argument("--zones", default=None, metavar="FILE", help=help)


def read_zones_option(args: argparse.Namespace) -> Zones | None:
    """--zones, read and checked (a fault is about --zones), or None when it was not given."""
    if not args.zones:
        return None
    from vad_core.scoring.zones import read_zones  # numpy and OpenCV: only for a command that was given zones

    with about("zones"):
        return read_zones(args.zones)


def with_zones(model: Detector, zones: Zones | None) -> Detector:
    """The model with --zones in place of its own zones (unchanged when none were given)."""
    from dataclasses import replace

    return model if zones is None else replace(model, zones=zones)


def add_events_options(p: argparse.ArgumentParser) -> None:
    """--events-url and --no-events: where a producing command (watch, batch) stores its findings."""
    p.add_argument(
        "--events-url",
        default=None,
        help="event store (an SQLAlchemy URL; default VAD_EVENTS_URL, else the data folder's SQLite file)",
    )
    p.add_argument("--no-events", action="store_true", help="store no events")  # fmt: skip
