"""A live source cut into parts of a fixed span of its own clock, each a Source of its own, for a watch that runs
for weeks on bounded disk: each part is scored by its own LiveRun and written when it ends.

    parts = SourceParts(open_source(url), seconds=60)
    while not parts.ended:
        run = LiveRun(parts.next_part(), model).start()   # reads until 60 s of the source's time have come

The parts share one iterator of the source's frames, read one part after the other: a part ends at the first
frame at or past its span (kept for the next part), so no frame is lost or read twice between parts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from vad_core.io.sources import LiveFrame, Source


class SourceParts:
    """The parts of one source; close() ends the source (the part reading with it)."""

    def __init__(self, source: Source, seconds: float) -> None:
        self.source, self.seconds = source, seconds
        self.ended = False  # the source has no more frames
        self._frames = source.frames()
        self._next: LiveFrame | None = None  # the first frame of the next part, read by the one before

    def next_part(self) -> SourcePart:
        return SourcePart(self)

    def close(self) -> None:
        self.source.close()


class SourcePart:
    """One part: the source's frames from where the previous part ended, for `seconds` of the source's time. A part
    ends by itself; close() (LiveRun.stop, or a run that fails) ends the source. Anything else is the source's own."""

    def __init__(self, parts: SourceParts) -> None:
        self.parts = parts
        self.done = threading.Event()  # this part has read its last frame: the next part may start reading

    def __getattr__(self, name: str):
        return getattr(self.parts.source, name)

    def frames(self) -> Iterator[LiveFrame]:
        parts = self.parts
        try:
            frame, parts._next = parts._next, None
            frame = frame if frame is not None else next(parts._frames, None)
            end = frame.time_s + parts.seconds if frame is not None else 0.0
            while frame is not None:
                if frame.time_s >= end:
                    parts._next = frame
                    return
                yield frame
                frame = next(parts._frames, None)
            parts.ended = parts.ended or frame is None
        finally:
            self.done.set()

    def close(self) -> None:
        self.parts.close()
