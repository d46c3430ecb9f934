"""A batch run's findings into the event store, written by each worker right after a video's outputs.

cfg = BatchConfig(inputs=[...], out=Path("batch_out"), publish=BatchPublisher(default_url()))
notice = BatchPublisher(url)(analysis, model, "Test004.mp4", Path("/data/Test004.mp4"))   # None, or one line

Workers (vad_core.batch.worker) call it in their own processes, so two workers write at once; each process opens
the store once. The run name is the video's name, content hash and model hash, so a retried or rerun video adds nothing
twice. The batch package never imports this one: the command hands it in (vad_core.cli.batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vad_core.batch.inputs import content_hash
from vad_core.events.record import ModelIdentity, publish_analysis
from vad_core.events.store import EventStore
from vad_core.model.checkpoint import Detector
from vad_core.pipeline.result import Analysis

_STORES: dict[str, EventStore] = {}  # this process's open stores, by URL


@dataclass(frozen=True)
class BatchPublisher:
    """ScoringWorker's publish callback: the store's URL, resolved by the driver (workers share its meaning)."""

    url: str

    def __call__(self, analysis: Analysis, model: Detector, name: str, path: Path) -> str | None:
        """Publish one video's events with their media; a failure is returned as one line, never raised."""
        try:
            store = _STORES.get(self.url) or _STORES.setdefault(self.url, EventStore.open(self.url))
            identity = ModelIdentity.of(model)
            run = f"batch/{name}/{content_hash(path)[:16]}-{identity.hash[:8]}"
            publish_analysis(store, analysis, source=name, run=run, origin="batch", model=identity, video=name)
        except Exception as err:  # the video's outputs stand whatever the store says
            return f"events not stored: {' '.join(str(err).split()) or type(err).__name__}"
        return None
