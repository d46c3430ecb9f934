"""Events out of the store: each one's excerpt clip as DIR/event-<id>.mp4 and a table of them, DIR/events.csv.

written = export_events(store, [12, 13], Path("out"))   # [Path("out/event-12.mp4"), ...]; out/events.csv

The CLI (`python -m vad_core events export`) and the app's Events page export through this one function.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from pathlib import Path

from vad_core.events.record import CLIP_FILE
from vad_core.events.store import Event, EventStore

CSV_FILE = "events.csv"
CSV_COLUMNS = ("id", "source", "kind", "start", "end", "peak", "peak_frame", "fps", "started_at", "ended_at",
               "review", "note", "zone", "model", "model_hash", "origin", "run", "video", "clip")  # fmt: skip


def export_events(store: EventStore, ids: Sequence[int], out: Path) -> list[Path]:
    """Copy each event's clip into out (events without one are listed with an empty clip) and write events.csv;
    BadInput for an id the store does not hold, before anything is written. Returns the clips written."""
    events = [store.event(event_id) for event_id in dict.fromkeys(ids)]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with (out / CSV_FILE).open("w", newline="") as table:
        writer = csv.DictWriter(table, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for event in events:
            clip = _copy_clip(store, event, out)
            written += [clip] if clip is not None else []
            writer.writerow(event.to_dict() | {"clip": clip.name if clip is not None else ""})
    return written


def _copy_clip(store: EventStore, event: Event, out: Path) -> Path | None:
    folder = store.excerpt_folder(event)
    if folder is None or not (folder / CLIP_FILE).is_file():
        return None
    return Path(shutil.copyfile(folder / CLIP_FILE, out / f"event-{event.id}.mp4"))
