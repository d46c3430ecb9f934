"""The option types every command shares: each number is checked for its range as it is parsed, so that a bad
value costs one line and exit status 2 before any work (or any Ray process, or torch) starts.

p.add_argument("--frames", type=COUNT)           # "argument --frames: 0 is out of range: it must be at least 1"
p.add_argument("--normal", type=frame_range)     # START:END, end exclusive (vad_core.io.frame_ranges)
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import UTC, datetime

from vad_core.errors import BadInput
from vad_core.io.frame_ranges import parse_range
from vad_core.model.config import ModelConfig


def number(
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
COUNT = number(int, 1, MAX_INT)  # frames, steps, clips, epochs...
FRAME = number(int, 0, MAX_INT)  # a frame number, or a gap in frames
SEED = number(int, 0, 2**32 - 1)  # numpy takes seeds in this range
POSITIVE = number(float, 0, above=True)  # minutes, seconds, a learning rate, a threshold
FRACTION = number(float, 0, 1, above=True)  # (0, 1]
BATCH = number(int, 1, 1024)
WORKERS = number(int, 1, 256)


def input_size(text: str) -> int:
    """argparse type: a model input size the architecture inverts exactly (8n+19, 27 to 1019)."""
    size = int(number(int, 19, 1024)(text))
    try:
        ModelConfig(input_size=size)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"the model cannot take {size} px: use a size of the form 8n+19 from 27 to 1019, such as 131 or 227"
        ) from None
    return size


def fraction_below_1(text: str) -> float:
    """argparse type: a number in (0, 1)."""
    value = FRACTION(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text} is out of range: it must be above 0 and below 1")
    return value


def frame_range(text: str) -> tuple[int, int]:
    """argparse type: START:END, end exclusive."""
    try:
        return parse_range(text)
    except BadInput as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_progress_json(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress-json", action="store_true", help="one JSON object per step on stdout, then a summary (for UIs)"
    )


def utc_time(text: str) -> datetime:
    """argparse type: an ISO 8601 date or time (2024-05-01, 2024-05-01T12:30, ...+02:00), as naive UTC (the event
    store's times); one without a zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date or time such as 2024-05-01T12:30") from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
