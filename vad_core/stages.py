"""Where an analysis spends its time: CPU seconds per stage of the engine, and the moments a command
reaches, counted from the start of its process (what a user waits for, interpreter start-up included).

clock = StageClock()
with clock.measure("model"):          # in any thread: that thread's CPU time is added to the stage
    ...
frames = clock.timed("decode", frames)  # each next() of an iterator counted to a stage
clock.seconds                          # {"decode": ..., "model": ..., "scoring": ..., "stitching": ...}
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class StageClock:
    """CPU seconds per stage, summed over the threads that ran it (time.thread_time: a thread that waits
    for a frame or a result costs nothing, so the stages of a pipeline add up to the cores' work)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        start = time.thread_time()
        try:
            yield
        finally:
            self.add(stage, time.thread_time() - start)

    def timed(self, stage: str, items: Iterable[T]) -> Iterator[T]:
        """items, with the work of producing each one counted to stage."""
        iterator = iter(items)
        while True:
            with self.measure(stage):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item


def process_start() -> float:
    """When this process started, as time.time(), to within 10 ms (from /proc; Linux), else when this
    module was imported."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])  # field 22: start, in ticks since boot
            since_boot = float(uptime.read().split()[0])
        return time.time() - (since_boot - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return _IMPORTED


_IMPORTED = time.time()
