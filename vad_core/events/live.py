"""A live run's events into the store as they happen, and out as alerts: one publisher for `watch` and the app's
live page.

publisher = LivePublisher(PublishTarget(url=None, source="cam3", origin="watch"), model, fps=25.0, log=print)
run = LiveRun(source, model, on_event=publisher.segment)    # an opened segment is stored at once (end None)
publisher.recorded(run.stop(), run.frames)                   # final ends, thumbnails and excerpts
publisher.close(timeout=10)

Everything runs on the publisher's own thread behind a bounded queue, so a slow database, broker or webhook never
stalls scoring; store trouble is one warning line (again only after it has worked in between), and the run goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from vad_core.events.notify import LINK_BASE, Notifier, alert_payload
from vad_core.events.record import ModelIdentity, publish_analysis
from vad_core.events.store import EventRecord, EventStore, utc_now
from vad_core.model.checkpoint import Detector
from vad_core.pipeline.live import SegmentEvent
from vad_core.pipeline.result import Analysis

LOG = logging.getLogger(__name__)
QUEUE_ITEMS = 200  # events and recordings waiting for the store; past that, new ones are dropped and said


@dataclass(frozen=True)
class PublishTarget:
    """Where and as what a live run's events go: the store's URL (None: VAD_EVENTS_URL or the default file; store
    False: no store, alerts only), the camera's name, the producer (watch, live) and the alerts' link base."""

    url: str | None
    source: str
    origin: str
    store: bool = True
    link_base: str = LINK_BASE


def run_name(source: str, started: datetime) -> str:
    """A live run's name: its source and UTC start, which keeps its keys apart from every other run's."""
    return f"{source}@{started:%Y%m%dT%H%M%S.%f}"


class LivePublisher:
    """Stores a live run's segments as they open and close, alerts for each, and adds media when it stops."""

    def __init__(
        self,
        target: PublishTarget,
        model: Detector,
        fps: float,
        notifiers: Sequence[Notifier] = (),
        log: Callable[[str], None] = LOG.warning,
    ) -> None:
        """fps: the source's frame rate (the records' times); log: where the one-line warnings go."""
        self.target, self.fps, self.notifiers, self.log = target, fps, list(notifiers), log
        self.identity = ModelIdentity.of(model)
        self.started = utc_now()
        self.run = run_name(target.source, self.started)
        self.stored = self.failed = 0
        self._store: EventStore | None = None
        self._ids: dict[str, int] = {}
        self._failing = False
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_ITEMS)
        self._thread = threading.Thread(target=self._work, name="vad-events", daemon=True)
        self._thread.start()

    def segment(self, event: SegmentEvent) -> None:
        """LiveRun's on_event: queued with its wall-clock time, handled on the publisher's thread."""
        self._put(("segment", event, utc_now()))

    def recorded(self, analysis: Analysis, frames: np.ndarray | None = None) -> None:
        """The run (or a part of it) has stopped: its events' final figures, health faults, thumbnails, excerpts."""
        self._put(("recorded", analysis, frames))

    def close(self, timeout: float) -> None:
        """Let queued work finish for at most about timeout seconds, then close the store and notifiers."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _put(self, item: tuple) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.failed += 1
            self.log(f"event skipped: {QUEUE_ITEMS} events already wait for the store")

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            kind, *rest = item
            if kind == "segment":
                self._segment(*rest)
            else:
                self._attempt(True, self._recorded, *rest)
        for notifier in self.notifiers:
            self._attempt(False, notifier.close)
        if self._store is not None:
            self._store.close()

    def _attempt(self, store: bool, action: Callable[..., object], *args: object) -> None:
        """Run action; a failure is one warning line, and the store's only once until it works again."""
        try:
            action(*args)
        except Exception as err:  # the run goes on whatever the store or an alert says
            self.failed += 1
            if not store or not self._failing:
                reason = " ".join(str(err).split()) or type(err).__name__
                self.log(f"{'event not stored' if store else 'alert failed'}: {reason}")
            self._failing = self._failing or store
            return
        self._failing = self._failing and not store

    def _opened_store(self) -> EventStore:
        if self._store is None:
            self._store = EventStore.open(self.target.url)
        return self._store

    def _segment(self, event: SegmentEvent, now: datetime) -> None:
        record = self._record(event, now)
        if self.target.store:
            self._attempt(True, self._write, event, record, now)
        payload = alert_payload(event.event, self._ids.get(record.key), record, self.target.link_base)
        for notifier in self.notifiers:
            self._attempt(False, notifier.send, payload)

    def _record(self, event: SegmentEvent, now: datetime) -> EventRecord:
        start = event.source_start
        return EventRecord(
            key=f"{self.run}/anomaly/{start}",
            source=self.target.source,
            run=self.run,
            origin=self.target.origin,
            kind="anomaly",
            start=start,
            end=event.source_end,
            peak=float(event.peak),
            peak_frame=start + event.peak_frame - event.start,  # exact unless windows were dropped; recorded() fixes it
            fps=self.fps,
            model=self.identity.name,
            model_hash=self.identity.hash,
            model_kind=self.identity.kind,
            started_at=now if event.event == "open" else None,
            ended_at=now if event.event == "close" else None,
        )

    def _write(self, event: SegmentEvent, record: EventRecord, now: datetime) -> None:
        """An opened event is added; a closed one too (in case its opening was not stored), then finished."""
        store = self._opened_store()
        self._ids[record.key] = store.add(record)
        if event.event == "close":
            store.finish(record.key, end=record.end, peak=record.peak, peak_frame=record.peak_frame, ended_at=now)
        self.stored += 1

    def _recorded(self, analysis: Analysis, frames: np.ndarray | None) -> None:
        if not self.target.store:
            return
        publish_analysis(self._opened_store(), analysis, source=self.target.source, run=self.run,
                         origin=self.target.origin, model=self.identity, started_at=self.started,
                         frames=frames)  # fmt: skip
