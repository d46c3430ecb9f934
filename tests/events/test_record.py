"""An analysis's findings as events: keys in source frames, a thumbnail and an excerpt that reads back into the
player, nothing added twice, a zone from the peak box, and media trouble never losing the event."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.paths import SAMPLES
from vad_core.batch.stored import read_analysis
from vad_core.events.record import CLIP_FILE, MAX_EXCERPT_ROWS, analysis_events, excerpt_rows, publish_analysis
from vad_core.events.store import EventStore
from vad_core.io.limits import FrameSelection
from vad_core.pipeline.analysis import analyze
from vad_core.pipeline.result import SegmentRule


@pytest.fixture(scope="module")
def analysis(analysis_model):
    """Test004 from frame 20 on, with a threshold low enough for a segment whatever the model."""
    result = analyze(SAMPLES / "test" / "Test004.mp4", analysis_model, selection=FrameSelection(20, None, 1))
    result.rule = SegmentRule(threshold=float(np.quantile(result.score, 0.7)))
    assert result.segments()
    return result


class Zones:
    def zone_at(self, x: float, y: float) -> str | None:
        return "left" if x < 180 else "right"


def test_records_name_source_frames_and_the_model(analysis, analysis_model):
    records = analysis_events(analysis, source="cam1", run="r1", origin="app", model=analysis_model, zones=Zones())
    segments = analysis.segments()
    assert [r.start for r in records if r.kind == "anomaly"] == [s.start + 20 for s in segments]
    first = records[0]
    assert first.key == f"r1/anomaly/{first.start}" and first.end == segments[0].end + 20
    assert first.model == analysis_model.name and len(first.model_hash) == 64 and first.model_kind == "autoencoder"
    assert first.zone in ("left", "right", None) and first.started_at is None


def test_publish_adds_media_once(analysis, analysis_model, store_url):
    store = EventStore.open(store_url)
    try:
        ids = publish_analysis(store, analysis, source="cam1", run="app/run 1", origin="app", model=analysis_model)
        assert publish_analysis(store, analysis, source="cam1", run="app/run 1", origin="app",
                                model=analysis_model) == ids  # fmt: skip
        assert len(store.events()) == len(ids) == len(analysis.segments()) + len(analysis.health_segments())
        event = store.event(ids[0])
        assert event.thumbnail.startswith(b"\x89PNG")
        folder = store.excerpt_folder(event)
        assert folder is not None and folder.parent.name == "app__run_1" and (folder / CLIP_FILE).stat().st_size
        excerpt = read_analysis(folder, analysis_model)
        assert excerpt.frame_count <= MAX_EXCERPT_ROWS
        assert int(excerpt.source_frame(0)) <= event.start and int(
            excerpt.source_frame(excerpt.frame_count - 1)
        ) >= min(event.end, analysis.source_end - 1)
    finally:
        store.close()


def test_a_media_failure_stores_the_event_without_media(analysis, analysis_model, tmp_path):
    blocked = tmp_path / "media"
    blocked.write_text("a file where the media folder should be")
    store = EventStore.open(f"sqlite:///{tmp_path / 'e.db'}", media_root=blocked)
    try:
        ids = publish_analysis(store, analysis, source="cam1", run="r", origin="app", model=analysis_model)
        event = store.event(ids[0])
        assert event.excerpt is None and event.thumbnail is None and event.end is not None
    finally:
        store.close()


def test_excerpt_rows_are_bounded(analysis):
    rows = excerpt_rows(analysis, 10, 12, 11)
    margin = round(3.0 * analysis.fps)
    assert rows == range(max(0, 10 - margin), min(analysis.frame_count, 13 + margin))
    sliced = analysis.rows(rows.start, rows.stop)
    assert sliced.frame_count == len(rows) and int(sliced.source_frame(0)) == int(analysis.source_frame(rows.start))
