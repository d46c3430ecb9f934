"""analyze(video, model) -> Analysis: a video file (or frame folder) through the one engine, within limits.

result = analyze("Test004.mp4", load_checkpoint(), progress=lambda done, total: ...)
result.score          # calibrated c(t) per frame; > 1 is beyond normal
result.segments()     # runs above the threshold

The Analysis is vad_core.pipeline.result's; the engine that makes it, vad_core.pipeline.engine's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from vad_core.cpu import decode_threads
from vad_core.errors import BadInput
from vad_core.io.limits import (
    AnalysisLimits,
    FrameSelection,
    OverLimit,
    check_size,
    limited,
    over_limit_message,
    select,
)
from vad_core.io.video import IN_PROCESS, Decoder
from vad_core.model.checkpoint import Detector
from vad_core.pipeline.engine import Progress, analyze_frames
from vad_core.pipeline.result import Analysis
from vad_core.stages import StageClock


def analyze(
    video: str | Path,
    model: Detector,
    progress: Progress | None = None,
    name: str | None = None,
    workers: int | None = None,
    selection: FrameSelection | None = None,
    limits: AnalysisLimits | None = None,
    decoder: Decoder = IN_PROCESS,
    on_frame: Callable[[np.ndarray], None] | None = None,
    clock: StageClock | None = None,
) -> Analysis:
    """Stream a video (file or frame folder) through the model and score every (selected) frame.

    limits refuse, as BadInput, a clip over max_frames (after the selection; known from the metadata, or
    counted while decoding when the metadata is wrong), frames over max_pixels, or slower than max_seconds.
    Frames that fail to decode at the end (a truncated file) are reported in Analysis.warnings.
    decoder: where FFmpeg runs (the app decodes uploads in a killable child: vad_core.io.sandbox).
    on_frame: sees each selected raw gray frame, so a caller can keep a preview without decoding twice.
    clock: where the CPU time of each stage is counted, decoding (this thread's share) included.
    """
    name = name or Path(video).name
    selection = selection or FrameSelection()
    limits = limits or AnalysisLimits()
    threads = decode_threads(model.device.type, workers)
    clock = clock or StageClock()
    try:
        with decoder.open(Path(video), threads) as opened:
            info = opened.info
            check_size(name, info.width, info.height, limits)
            wanted = selection.count(info.frame_count) if info.frame_count else 0
            if limits.max_frames is not None and wanted > limits.max_frames:
                fps = info.fps / selection.step
                raise OverLimit(over_limit_message(name, wanted, fps, limits), info.frame_count, info.fps)
            decoded = 0

            def frames() -> Iterator[np.ndarray]:
                nonlocal decoded
                for gray in limited(select(opened.frames, selection), limits, name, info.fps):
                    decoded += 1
                    if on_frame is not None:
                        on_frame(gray)
                    yield model.prepare(gray)

            result = analyze_frames(
                clock.timed("decode", frames()),
                model,
                name=name,
                fps=info.fps / selection.step,
                source_size=(info.width, info.height),
                total=wanted,
                progress=progress,
                workers=workers,
                clock=clock,
            )
    except BadInput as err:  # say which clip, as every other message does
        if str(err).startswith(f"{name}:"):
            raise
        raise BadInput(f"{name}: {err}") from err
    result.first_frame, result.frame_step = selection.start, selection.step
    if wanted and decoded < wanted - 1:  # containers may round their frame count by one
        result.warnings.append(
            f"{name}: decoded {decoded} of {wanted} frames; the rest was unreadable (a truncated or damaged file?)"
        )
    return result
