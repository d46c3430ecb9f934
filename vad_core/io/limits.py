"""Limits on one analysis (frames, wall-clock time, frame size) and the choice of which frames to analyze.

limits = AnalysisLimits(max_frames=3000, max_seconds=600)
selection = FrameSelection(start=0, end=None, step=suggest_step(20_000, 3000))   # every 7th frame
frames = limited(select(stream_raw_gray(path), selection), limits, "clip.mp4")      # raises BadInput past a limit
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from vad_core.errors import BadInput

F = TypeVar("F")
MAX_PIXELS = 7680 * 4320  # 8K: a larger frame is more likely a decompression bomb than footage
MIN_SIDE = 2  # narrower frames are not footage, and break resizing
MAX_ASPECT = 64  # longer side over shorter: a 2x16382 strip is not footage, and fitted to a box it renders as a bomb


class OverLimit(BadInput):
    """A clip longer than max_frames; total is the source clip's frame count when its metadata knows it."""

    def __init__(self, message: str, total: int | None = None, fps: float = 0.0) -> None:
        super().__init__(message)
        self.total = total
        self.fps = fps


@dataclass(frozen=True)
class FrameSelection:
    """Frames start, start + step, ... before end (exclusive; None: to the end) of the source clip."""

    start: int = 0
    end: int | None = None
    step: int = 1

    def __post_init__(self) -> None:
        if self.start < 0 or self.step < 1 or (self.end is not None and self.end <= self.start):
            raise BadInput(f"frame selection needs 0 <= start < end and step >= 1, got {self.describe()}")

    @property
    def is_all(self) -> bool:
        return self.start == 0 and self.end is None and self.step == 1

    def count(self, total: int) -> int:
        """Frames selected from a clip of `total` frames."""
        end = total if self.end is None else min(self.end, total)
        return max(0, math.ceil((end - self.start) / self.step))

    def describe(self) -> str:
        end = "end" if self.end is None else str(self.end)
        return f"frames {self.start}-{end}" + (f", every {self.step}th" if self.step > 1 else "")


@dataclass(frozen=True)
class AnalysisLimits:
    """None means no limit. The CLI has none by default; the app sets frames and seconds."""

    max_frames: int | None = None
    max_seconds: float | None = None
    max_pixels: int = MAX_PIXELS
    max_total_pixels: int | None = None
    max_aspect: float = MAX_ASPECT


def suggest_step(frames: int, max_frames: int) -> int:
    """The smallest k such that every k-th of `frames` frames fits in max_frames."""
    return max(1, math.ceil(frames / max(max_frames, 1)))


def over_limit_message(name: str, frames: int, fps: float, limits: AnalysisLimits) -> str:
    """What to say when a clip has more frames than the limit, with the two ways out."""
    minutes = frames / fps / 60 if fps > 0 else 0.0
    return (
        f"{name}: {frames} frames ({minutes:.1f} min) is over the limit of {limits.max_frames} frames; "
        f"analyze a sub-range, or every k-th frame with k = {suggest_step(frames, limits.max_frames or frames)}"
    )


def check_size(name: str, width: int, height: int, limits: AnalysisLimits) -> None:
    if width * height > limits.max_pixels:
        raise BadInput(f"{name}: {width}x{height} frames exceed the limit of {limits.max_pixels} pixels a frame")


def check_frame(name: str, width: int, height: int, limits: AnalysisLimits | None, index: int) -> None:
    """The per-frame limits every frame passes before it is resized or kept, uploaded or live: sides, pixels,
    aspect. Checked from the size alone, so a source can refuse a frame before reading its pixels."""
    limits = limits or AnalysisLimits()
    size = f"{width}x{height}"
    if min(height, width) < MIN_SIDE:
        raise BadInput(f"{name}: frame {index} is {size}; frames under {MIN_SIDE} px a side are refused")
    check_size(name, width, height, limits)
    if max(width, height) > limits.max_aspect * min(width, height):
        raise BadInput(f"{name}: frame {index} is {size}, more than {limits.max_aspect:g} times as long as it is wide")


def select(frames: Iterable[F], selection: FrameSelection | None) -> Iterator[F]:
    """The selected frames of a stream; decoding stops at the selection's end."""
    if selection is None or selection.is_all:
        return iter(frames)
    return itertools.islice(frames, selection.start, selection.end, selection.step)


def limited(
    frames: Iterable[np.ndarray], limits: AnalysisLimits | None, name: str, fps: float = 0.0
) -> Iterator[np.ndarray]:
    """Frames until a limit is crossed, then BadInput: counted as the frames arrive, because container
    metadata can hide a clip's true length, and frame sizes can change mid-stream."""
    limits = limits or AnalysisLimits()
    started = time.monotonic()
    total_pixels = 0
    for count, frame in enumerate(frames, start=1):
        height, width = frame.shape[:2]
        check_frame(name, width, height, limits, count - 1)
        total_pixels += height * width
        if limits.max_total_pixels is not None and total_pixels > limits.max_total_pixels:
            raise BadInput(
                f"{name}: more than {limits.max_total_pixels / 1e9:g} gigapixels decoded (the limit) at frame "
                f"{count - 1}; analyze a sub-range or every k-th frame"
            )
        if limits.max_frames is not None and count > limits.max_frames:
            raise OverLimit(
                f"{name}: more than {limits.max_frames} frames (the limit); analyze a sub-range or every k-th frame",
                fps=fps,
            )
        if limits.max_seconds is not None and time.monotonic() - started > limits.max_seconds:
            raise BadInput(
                f"{name}: analysis stopped after {limits.max_seconds:g} s (the time limit) at frame {count}; "
                "analyze a sub-range or every k-th frame"
            )
        yield frame
