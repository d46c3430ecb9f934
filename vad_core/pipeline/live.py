"""Live scoring: a source's frames, as they arrive, through the one analysis engine (analyze_frames).

    run = LiveRun(source, model, on_event=print)   # source: vad_core.io.sources (stream, file, tail, webcam)
    run.start()
    run.status()                                   # frames received, scored, dropped; lag; delays
    run.scores()                                   # c(t) so far (its last few frames provisional)
    analysis = run.stop()                          # the recorded part, as analyze would give it

The run enforces its own limits (a vad_core.io.limits.AnalysisLimits): every frame passes the per-frame checks
uploads pass before it is kept (a refused frame fails the run with one sentence), and the run stops itself after
max_frames frames or max_seconds of wall-clock time, whoever watches it or not: the reader counts frames, the
engine's loop, which ticks while it waits, watches the clock.

Two threads and a bounded queue: the reader takes frames from the source in whole T-frame windows and drops
a whole window when the queue is full (the machine is slower than the source: never an unbounded lag); the
engine scores each window as soon as it is complete (batch_windows=1) and the scores, segments and views
grow in place. The model never runs on the source's thread.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from vad_core.errors import BadInput
from vad_core.io.limits import AnalysisLimits, check_frame
from vad_core.io.sources import LiveFrame, Source
from vad_core.model.checkpoint import Detector
from vad_core.pipeline.engine import ScoredBlock, analyze_frames
from vad_core.pipeline.frame_errors import error_key
from vad_core.pipeline.render import PreviewFrames
from vad_core.pipeline.result import Analysis, SegmentRule
from vad_core.scoring.scores import Segment, smooth

QUEUE_WINDOWS = 3  # windows waiting to be scored; past that, a new window is dropped whole
STALL_SECONDS = 5.0  # a source silent this long is reported as stalled
TICK_SECONDS = 0.02  # how often the engine looks for finished windows while it waits for frames


@dataclass(frozen=True)
class SegmentEvent:
    """A segment opened (end None) or closed, in scored-frame numbers, with source frames and times."""

    event: str  # "open" or "close"
    start: int
    end: int | None
    peak: float
    peak_frame: int
    source_start: int
    source_end: int | None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None or k == "end"}


class SegmentTracker:
    """find_segments, one final score at a time: a run opens once it is min_duration long and closes once
    merge_gap frames below the threshold follow it, so the closed segments are exactly find_segments'."""

    def __init__(self, rule: SegmentRule) -> None:
        self.rule = rule
        self.start: int | None = None
        self.last_above = -1
        self.peak, self.peak_frame = -np.inf, -1
        self.opened = False

    def push(self, frame: int, score: float) -> list[tuple[str, Segment]]:
        events = []
        if np.isfinite(score) and score > self.rule.threshold:
            if self.start is None:
                self.start = frame
            self.last_above = frame
            if score > self.peak:
                self.peak, self.peak_frame = score, frame
            if not self.opened and frame - self.start + 1 >= self.rule.min_duration:
                self.opened = True
                events.append(("open", self._segment(None)))
        elif self.start is not None and not self.still_open(self.last_above, frame, self.rule):
            events += self.finish()
        return events

    @staticmethod
    def still_open(last_above: int, frame: int, rule: SegmentRule) -> bool:
        """Whether a run last above the threshold at last_above is still open at frame: it closes once more than
        merge_gap frames below the threshold follow it (a later frame above would merge into it)."""
        return frame - last_above <= rule.merge_gap

    def finish(self) -> list[tuple[str, Segment]]:
        """Close the run in progress, if it is long enough to have opened."""
        events = [("close", self._segment(self.last_above))] if self.opened else []
        self.start, self.peak, self.peak_frame, self.opened = None, -np.inf, -1, False
        return events

    def _segment(self, end: int | None) -> Segment:
        return Segment(self.start, end if end is not None else self.last_above, float(self.peak), self.peak_frame)


@dataclass
class LiveStatus:
    """How the run keeps up: frames in, scored and dropped (whole windows), and how late scores come."""

    state: str = "starting"  # starting, running, stalled, ended, stopped, failed
    message: str = ""
    received: int = 0
    scored: int = 0
    dropped: int = 0
    delays_s: deque = field(default_factory=lambda: deque(maxlen=2000))  # frame arrival -> its score
    source_dropped: int = 0  # frames missing in the source's own timestamps (vad_core.io.sources), never padded
    reconnects: int = 0  # times a network source reconnected
    notice: str = ""  # the source's latest notice (a reconnect)
    limit: str = ""  # the run's limit that stopped it ("the limit of 3000 frames"), if one did

    def delay_quantiles(self) -> tuple[float, float]:
        """(median, 95th percentile) of the recent delays in seconds; NaN before the first score."""
        if not self.delays_s:
            return float("nan"), float("nan")
        values = np.asarray(self.delays_s)
        return float(np.median(values)), float(np.quantile(values, 0.95))


class LiveRun:
    """Scores a source as it plays; see the module docstring."""

    def __init__(
        self,
        source: Source,
        model: Detector,
        rule: SegmentRule | None = None,
        on_event: Callable[[SegmentEvent], None] | None = None,
        on_scores: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
        queue_windows: int = QUEUE_WINDOWS,
        limits: AnalysisLimits | None = None,
    ) -> None:
        """limits: per-frame checks, and max_frames and max_seconds for the whole run (None: none)."""
        self.source, self.model = source, model
        self.limits = limits or AnalysisLimits()
        self._started = time.monotonic()
        self.rule = rule or SegmentRule()
        self.on_event, self.on_scores = on_event, on_scores
        self.t = model.window
        self.sigma = model.scoring.smooth_sigma
        self.radius = int(4.0 * self.sigma + 0.5) if self.sigma > 0 else 0  # gaussian_filter1d's reach
        self._windows: queue.Queue = queue.Queue(maxsize=queue_windows)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._status = LiveStatus()
        self._raw: list[float] = []
        self._final: list[float] = []  # c(t) of frames whose smoothing no longer changes
        self._source_frames: list[int] = []
        self._source_size = (0, 0)  # (width, height) of the first frame: where the zones' polygons are drawn
        self._arrivals: deque[float] = deque()
        self._tracker = SegmentTracker(self.rule)
        self._preview = PreviewFrames()
        self._latest: ScoredBlock | None = None
        self._last_frame = time.monotonic()
        self.frames: np.ndarray | None = None  # the scored frames at preview size, once the run has finished
        self._analysis: Analysis | None = None
        self._error: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._read, name="vad-live-reader", daemon=True),
            threading.Thread(target=self._score, name="vad-live-engine", daemon=True),
        ]

    def start(self) -> LiveRun:
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float | None = None) -> Analysis:
        """Stop the source, score what was received, and return it as an Analysis; BadInput if nothing could."""
        self._stop.set()
        self.source.close()
        return self.wait(timeout)

    def wait(self, timeout: float | None = None) -> Analysis:
        """The Analysis once the source has ended (or the run was stopped)."""
        for thread in self._threads:
            thread.join(timeout)
        if self._error is not None:
            raise self._error
        if self._analysis is None:
            raise BadInput(f"{self.source.name}: the run has not finished")
        return self._analysis

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def status(self) -> LiveStatus:
        with self._lock:
            status = self._status
            stats = getattr(self.source, "stats", None)  # sources that count their own losses (vad_core.io.sources)
            if stats is not None:
                status.source_dropped, status.reconnects, status.notice = stats.dropped, stats.reconnects, stats.notice
            if status.state == "running" and self._silent_for() > STALL_SECONDS:
                status.state, status.message = "stalled", f"no frame for {self._silent_for():.0f} s"
            return status

    def scores(self) -> np.ndarray:
        """c(t) of the frames scored so far; the last `radius` frames are provisional (smoothing looks ahead)."""
        with self._lock:
            return np.concatenate([self._final, self._tail_scores()]) if self._raw else np.zeros(0)

    def source_frames(self) -> np.ndarray:
        with self._lock:
            return np.asarray(self._source_frames, dtype=np.int64)

    def source_frame(self, row: int) -> int | None:
        """The source frame number of a scored frame (windows may have been dropped), None before it is read."""
        with self._lock:
            return self._source_frames[row] if 0 <= row < len(self._source_frames) else None

    def segment_open(self, segment: Segment, scored: int, rule: SegmentRule) -> bool:
        """Whether a segment found with rule in the first `scored` scores may still grow: the run is on and no more
        than rule.merge_gap frames below the threshold follow it (SegmentTracker's rule for closing a run)."""
        return self.running and SegmentTracker.still_open(segment.end, scored - 1, rule)

    def discard(self, reason: str) -> None:
        """Drop what a finished run recorded (its analysis, preview frames and their spilled files): nobody will
        open it. wait() and stop() then raise BadInput(reason)."""
        self._analysis, self.frames, self._latest = None, None, None
        self._error = BadInput(reason)

    def _end_at_limit(self, limit: str) -> None:
        """Stop the run itself at one of its limits; what came so far is scored and kept."""
        with self._lock:
            self._status.limit = limit
        self._stop.set()
        self.source.close()

    def latest(self) -> ScoredBlock | None:
        """The most recent scored block (its frames, maps and errors), for the live view."""
        return self._latest

    # --- the reader: source -> whole windows -> bounded queue ------------------------------------------

    def _silent_for(self) -> float:
        return time.monotonic() - self._last_frame if self._status.received else 0.0

    def _read(self) -> None:
        window: list[tuple[LiveFrame, float]] = []
        try:
            with self._lock:
                self._status.state = "running"
            for frame in self.source.frames():
                if self._stop.is_set():
                    break
                check_frame(self.source.name, frame.image.shape[1], frame.image.shape[0], self.limits, frame.index)
                now = time.monotonic()
                with self._lock:
                    self._status.received += 1
                    self._last_frame = now
                    if self._status.state == "stalled":
                        self._status.state, self._status.message = "running", ""
                window.append((frame, now))
                if len(window) == self.t:
                    self._offer(window)
                    window = []
                if self.limits.max_frames is not None and self._status.received >= self.limits.max_frames:
                    self._end_at_limit(f"the limit of {self.limits.max_frames} frames")  # now, not at the next frame
                    break
        except BadInput as err:
            with self._lock:
                self._status.state, self._status.message = "failed", str(err)
        finally:
            if window:
                self._windows.put(window)  # the last, partial window: the engine scores the final T frames
            self._windows.put(None)

    def _offer(self, window: list) -> None:
        while getattr(self.source, "lossless", False) and not self._stop.is_set():  # a file read as fast as
            try:  # it decodes waits for the engine instead: nothing is lost, the source just slows down
                self._windows.put(window, timeout=TICK_SECONDS)
                return
            except queue.Full:
                continue
        try:
            self._windows.put_nowait(window)
        except queue.Full:  # slower than the source: skip this window whole, and say so
            with self._lock:
                self._status.dropped += len(window)

    # --- the engine: queue -> analyze_frames (the one engine) -> scores, segments, events --------------

    def _frames(self) -> Iterator[np.ndarray | None]:
        """The engine's feed: frames as the model takes them (Detector.prepare), and None while no window waits
        (finished scores go out then)."""
        while True:
            seconds = self.limits.max_seconds
            if seconds is not None and not self._stop.is_set() and time.monotonic() - self._started > seconds:
                self._end_at_limit(f"the limit of {seconds:g} s")
            try:
                window = self._windows.get(timeout=TICK_SECONDS)
            except queue.Empty:
                yield None
                continue
            if window is None:
                return
            for frame, arrived in window:
                self._preview(frame.image)
                if not self._source_size[0]:
                    self._source_size = (frame.image.shape[1], frame.image.shape[0])
                with self._lock:
                    self._source_frames.append(frame.index)
                    self._arrivals.append(arrived)
                yield self.model.prepare(frame.image)

    def _score(self) -> None:
        try:
            frames = self._frames()
            first = next((frame for frame in frames if frame is not None), None)  # the source's size is known then
            analysis = analyze_frames(
                itertools.chain([first], frames) if first is not None else iter(()),
                self.model,
                name=self.source.name,
                fps=self.source.fps,
                source_size=self._source_size,
                workers=1,
                batch_windows=1,
                on_block=self._on_block,
            )
            self._finish_segments()
            analysis.rule = self.rule
            analysis.source_frames = self.source_frames()
            self._analysis = analysis
            self.frames = self._preview.finish()
            with self._lock:
                if self._status.state not in {"failed"}:
                    self._status.state = "stopped" if self._stop.is_set() else "ended"
        except BaseException as err:  # reported by wait(); the reader may still be feeding the queue
            error = err if isinstance(err, BadInput) else BadInput(f"{self.source.name}: {err}")
            with self._lock:
                if self._status.state != "failed":  # a source that failed first (a refused frame) keeps its reason
                    self._status.state, self._status.message = "failed", str(error)
                self._error = BadInput(self._status.message)
            self._stop.set()
            self.source.close()
            reader = self._threads[0]
            while reader.is_alive() or not self._windows.empty():  # let the reader finish (it may already have:
                try:  # the engine can fail after taking its last window, e.g. on too few frames)
                    if self._windows.get(timeout=TICK_SECONDS) is None:
                        break
                except queue.Empty:
                    continue
        finally:
            self._preview.close()

    def _on_block(self, block: ScoredBlock) -> None:
        now = time.monotonic()
        raw = block.errors[error_key(self.model.scoring)]
        with self._lock:
            for _ in range(len(raw)):
                self._status.delays_s.append(now - self._arrivals.popleft())
            self._raw.extend(float(v) for v in raw)
            self._status.scored = len(self._raw)
            settled = len(self._raw) - self.radius  # frames whose smoothed score is final
            newly = self._settle(settled)
        self._latest = block
        if self.on_scores is not None:
            self.on_scores(block.start, raw, self.scores()[block.start : block.start + len(raw)])
        for frame, score in newly:
            self._emit(self._tracker.push(frame, score))

    def _settle(self, settled: int) -> list[tuple[int, float]]:
        """Move frames up to `settled` into the final scores; (frame, score) of those just settled."""
        first = len(self._final)
        if settled <= first:
            return []
        scores = self._tail_scores()[: settled - first]
        self._final.extend(float(v) for v in scores)
        return list(zip(range(first, settled), scores, strict=True))

    def _tail_scores(self) -> np.ndarray:
        """c(t) of the frames after the final ones, smoothed over enough context to match the whole clip's."""
        first = len(self._final)
        low = max(0, first - self.radius)
        smoothed = smooth(np.asarray(self._raw[low:]), self.sigma)
        return smoothed[first - low :] / self.model.calibration.tau

    def _finish_segments(self) -> None:
        with self._lock:
            newly = self._settle(len(self._raw))
        for frame, score in newly:
            self._emit(self._tracker.push(frame, score))
        self._emit(self._tracker.finish())

    def _emit(self, events: list[tuple[str, Segment]]) -> None:
        if self.on_event is None:
            return
        for kind, segment in events:
            end = segment.end if kind == "close" else None
            self.on_event(
                SegmentEvent(
                    kind,
                    segment.start,
                    end,
                    segment.peak,
                    segment.peak_frame,
                    self.source_frame(segment.start),
                    self.source_frame(end) if end is not None else None,
                )
            )
