"""An analysis's findings as event records, and publishing them to the store with a thumbnail and an excerpt.

ids = publish_analysis(store, analysis, source="cam3", run="cam3-20240501-1200", origin="app", model=model)
records = analysis_events(analysis, source="cam3", run="cam3-20240501-1200", origin="batch", model=model)
store.event(ids[0]).excerpt                    # "cam3-20240501-1200/anomaly-120": a stored analysis and clip.mp4

Every producer (the app's analyses, live runs, watch, batch) makes its records here, so an event means the same
whichever found it. Keys are f"{run}/{kind}/{start}" in source frames: publishing the same analysis again (a
retried video, a restarted run) adds nothing. Media is bounded (MAX_EXCERPT_ROWS rows) and best-effort: a failure
to write it is one log line and the event is stored without it.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from vad_core.batch.stored import write_analysis
from vad_core.batch.worker import safe_name
from vad_core.events.store import EventRecord, EventStore
from vad_core.model.checkpoint import Detector
from vad_core.pipeline.render import HeatStyle, export_video, render_frame
from vad_core.pipeline.result import Analysis

LOG = logging.getLogger(__name__)
MARGIN_S = 3.0  # seconds of context each side of an event in its excerpt
MAX_EXCERPT_ROWS = 600  # an excerpt never holds more rows than this (a long event: centred on its peak)
CLIP_FILE = "clip.mp4"


@dataclass(frozen=True)
class ModelIdentity:
    """The model an event was found with: its name, a fingerprint of its weights and its kind of detector."""

    name: str
    hash: str
    kind: str = "autoencoder"

    @classmethod
    def of(cls, model: Detector) -> ModelIdentity:
        """sha256 over what the model fitted, in order: the same weights give the same hash wherever they were
        loaded from (a stem, a batch worker's copy), for every kind of detector."""
        digest = hashlib.sha256()
        for name, array in model.weights().items():
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return cls(model.name, digest.hexdigest(), model.card.detector)


def analysis_events(
    analysis: Analysis,
    *,
    source: str,
    run: str,
    origin: str,
    model: Detector | ModelIdentity,
    video: str | None = None,
    started_at: datetime | None = None,
) -> list[EventRecord]:
    """The anomaly segments and camera-health segments of an analysis as records (no media), in source frames.
    started_at: the wall clock of source frame 0 (a live source), from which each event's start and end times
    follow. An anomaly's zone is the one its peak frame's largest local error lies in (the analysis's zones)."""
    identity = model if isinstance(model, ModelIdentity) else ModelIdentity.of(model)
    source_fps = analysis.fps * analysis.frame_step

    def record(kind: str, start: int, end: int, peak: float, peak_row: int, zone: str | None) -> EventRecord:
        first, last = int(analysis.source_frame(start)), int(analysis.source_frame(end))
        return EventRecord(
            key=f"{run}/{kind}/{first}",
            source=source,
            run=run,
            origin=origin,
            kind=kind,
            start=first,
            end=last,
            peak=float(peak),
            peak_frame=int(analysis.source_frame(peak_row)),
            fps=source_fps,
            model=identity.name,
            model_hash=identity.hash,
            model_kind=identity.kind,
            video=video,
            started_at=_at(started_at, first, source_fps),
            ended_at=_at(started_at, last + 1, source_fps),
            zone=zone,
        )

    records = [
        record("anomaly", s.start, s.end, s.peak, s.peak_frame, analysis.segment_zone(s)) for s in analysis.segments()
    ]
    scores = analysis.health_scores() or {}
    for fault in analysis.health_segments():
        peak_row = fault.start + int(np.argmax(scores[fault.kind][fault.start : fault.end + 1]))
        records.append(record(fault.kind, fault.start, fault.end, fault.peak, peak_row, None))
    return records


def _at(started_at: datetime | None, frame: int, fps: float) -> datetime | None:
    return started_at + timedelta(seconds=frame / fps) if started_at is not None and fps > 0 else None


def publish_analysis(
    store: EventStore,
    analysis: Analysis,
    *,
    source: str,
    run: str,
    origin: str,
    model: Detector | ModelIdentity,
    video: str | None = None,
    started_at: datetime | None = None,
    frames: np.ndarray | None = None,
    media: bool = True,
) -> list[int]:
    """Add an analysis's events to the store (once: by key) and give each that has none its thumbnail and
    excerpt; returns their ids. frames: the player's frames, one per row (default: the model-size inputs).
    A live run's events, added as they opened, get their final end, peak and media here when the run stops."""
    records = analysis_events(
        analysis, source=source, run=run, origin=origin, model=model, video=video, started_at=started_at
    )
    ids = [store.add(record) for record in records]
    if not media:
        return ids
    pictures = frames if frames is not None and len(frames) == analysis.frame_count else analysis.inputs
    lacking = store.lacking_media([r.key for r in records])
    for record in records:
        if record.key in lacking:
            thumbnail, excerpt = event_media(store.media_root, analysis, pictures, record)
            store.finish(record.key, end=record.end, peak=record.peak, peak_frame=record.peak_frame,
                         zone=record.zone, thumbnail=thumbnail, excerpt=excerpt)  # fmt: skip
    return ids


def event_media(
    media_root: Path, analysis: Analysis, frames: np.ndarray, record: EventRecord
) -> tuple[bytes | None, str | None]:
    """(PNG thumbnail, excerpt folder under media_root) of one event; (None, None) where writing them failed."""
    try:
        peak_row = _row_of(analysis, record.peak_frame)
        thumbnail = png(render_frame(analysis, frames, peak_row, HeatStyle()))
        rows = excerpt_rows(analysis, _row_of(analysis, record.start), _row_of(analysis, record.end), peak_row)
        relative = f"{safe_name(record.run)}/{safe_name(record.kind)}-{record.start}"
        write_excerpt(media_root / relative, analysis.rows(rows.start, rows.stop), frames[rows.start : rows.stop])
        return thumbnail, relative
    except Exception as err:  # media is a convenience: the event itself is stored without it
        LOG.warning("event %s stored without media: %s: %s", record.key, type(err).__name__, err)
        return None, None


def _row_of(analysis: Analysis, source_frame: int | None) -> int:
    rows = analysis.rows_in(int(source_frame or 0), int(source_frame or 0) + 1)
    return rows.start if rows else min(max(analysis.frame_count - 1, 0), rows.start)


def excerpt_rows(analysis: Analysis, start: int, end: int, peak: int) -> range:
    """The rows of an event's excerpt: MARGIN_S seconds each side of start .. end, at most MAX_EXCERPT_ROWS rows
    (centred on the peak when the event is longer)."""
    margin = max(1, round(MARGIN_S * analysis.fps))
    first, stop = max(0, start - margin), min(analysis.frame_count, end + 1 + margin)
    if stop - first > MAX_EXCERPT_ROWS:
        first = max(0, min(peak - MAX_EXCERPT_ROWS // 2, analysis.frame_count - MAX_EXCERPT_ROWS))
        stop = min(analysis.frame_count, first + MAX_EXCERPT_ROWS)
    return range(first, stop)


def write_excerpt(folder: Path, excerpt: Analysis, frames: np.ndarray) -> Path:
    """A stored analysis (read_analysis opens it in the player) and clip.mp4 (H.264 with the heatmap), written
    beside the folder and moved into place whole, so a reader never sees half of one."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        write_analysis(excerpt, work)
        export_video(work / CLIP_FILE, excerpt, np.asarray(frames), HeatStyle(), excerpt.rule)
        if folder.exists():  # an earlier attempt's, whose event got no media
            shutil.rmtree(folder)
        work.rename(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return folder


def png(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise ValueError("the thumbnail could not be encoded")
    return data.tobytes()
