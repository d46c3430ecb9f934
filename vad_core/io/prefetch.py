"""Decode a clip in a background thread from the moment a command knows its path, so that frames are
ready while torch and the model load (about 1.5-4 s of imports on a 2-core CPU), and decoding overlaps
the stitching of results in the caller's thread afterwards.

with Prefetch(IN_PROCESS, path, threads=1) as video:   # decoding starts now
    model = load_checkpoint()                          # meanwhile
    result = analyze(path, model, decoder=video)       # takes the frames as they come
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import numpy as np

from vad_core.io.video import Decoder, OpenedVideo, VideoInfo
from vad_core.stages import StageClock

_END = object()


class Prefetch:
    """A Decoder already at work on one clip: open(path) hands over its metadata and its frames, once.

    At most `depth` frames wait in memory (raw gray, 86 KB each at 360x240). An error of the decoder
    (a refused file, a crash) is raised where the consumer opens or reads, as the wrapped decoder would.
    The threads given to open() are ignored: the decoder opened with those given here.
    """

    def __init__(
        self,
        decoder: Decoder,
        path: str | Path,
        threads: int | None = None,
        clock: StageClock | None = None,
        depth: int = 64,
    ) -> None:
        self.path = Path(path)
        self.first_frame_at: float | None = None  # time.time() of the first decoded frame
        self._queue: queue.Queue = queue.Queue(depth)
        self._opened = threading.Event()
        self._stop = threading.Event()
        self._info: VideoInfo | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(decoder, threads, clock or StageClock()), name="vad-prefetch", daemon=True
        )
        self._thread.start()

    def _run(self, decoder: Decoder, threads: int | None, clock: StageClock) -> None:
        try:
            with decoder.open(self.path, threads) as opened:
                self._info = opened.info
                self._opened.set()
                for frame in clock.timed("decode", opened.frames):
                    if self.first_frame_at is None:
                        self.first_frame_at = time.time()
                    if not self._put(frame):
                        return
        except BaseException as err:  # handed over: raised in the consumer's thread
            self._error = err
        finally:
            self._opened.set()
            self._put(_END)

    def _put(self, item: object) -> bool:
        """Queue an item unless the consumer has gone; False once it has."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _frames(self) -> Iterator[np.ndarray]:
        while (item := self._queue.get()) is not _END:
            yield item
        if self._error is not None:
            raise self._error

    @contextmanager
    def open(self, path: Path, threads: int | None = None) -> Iterator[OpenedVideo]:
        if Path(path) != self.path:
            raise ValueError(f"this prefetch decodes {self.path}, not {path}")
        self._opened.wait()
        try:
            if self._info is None:
                raise self._error or RuntimeError(f"{self.path.name}: the decoder stopped before opening it")
            yield OpenedVideo(self._info, self._frames())
        finally:
            self.close()

    def close(self) -> None:
        """Stop decoding (frames not taken are dropped) and wait for the decoder to let go of the file."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()
