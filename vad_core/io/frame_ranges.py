"""Frame ranges as users write them, in the CLI (`adapt --normal START:END`) and in the app's adapt panel alike:
START:END, source frame numbers, END exclusive, as Python slices are.

parse_range("0:300")                   # (0, 300)
parse_ranges("0:300, 400:500", 600)    # ((0, 300), (400, 500)); BadInput past frame 599
format_ranges([(0, 300)])              # "0:300"
"""

from __future__ import annotations

from collections.abc import Iterable

from vad_core.errors import BadInput


def parse_range(text: str) -> tuple[int, int]:
    """START:END (0 <= START < END); BadInput saying what is wrong."""
    try:
        start, end = (int(part) for part in text.split(":"))
    except ValueError:
        raise BadInput(f"{text!r} is not START:END (two frame numbers)") from None
    if not 0 <= start < end:
        raise BadInput(f"{text!r} is empty; need 0 <= START < END")
    return start, end


def parse_ranges(text: str, frames: int) -> tuple[tuple[int, int], ...]:
    """Comma-separated ranges of a clip of `frames` frames; at least one."""
    ranges = tuple(parse_range(part) for part in filter(None, (p.strip() for p in text.split(","))))
    if not ranges:
        raise BadInput("mark at least one range of normal frames")
    for start, end in ranges:
        if end > frames:
            raise BadInput(f"'{start}:{end}' ends after the clip's last frame: END may be at most {frames}")
    return ranges


def format_ranges(ranges: Iterable[tuple[int, int]]) -> str:
    """The text parse_ranges reads back."""
    return ", ".join(f"{start}:{end}" for start, end in ranges)
