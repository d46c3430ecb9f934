"""'Learn these as normal': a false alarm's excerpt adapts the model, whose re-analysis no longer flags that range,
and the new card and the store name each other."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vad_core.errors import BadInput
from vad_core.events import EventStore
from vad_core.events.learning import check_learnable, normal_footage, record_learning
from vad_core.events.record import publish_analysis
from vad_core.io.video import probe
from vad_core.model.checkpoint import load_checkpoint
from vad_core.pipeline.analysis import analyze

pytestmark = pytest.mark.slow


def flagged(analysis, start: int, end: int) -> int:
    """Frames of start..end (source frames, inclusive) inside an anomalous segment at the model's own rule."""
    inside = np.zeros(analysis.frame_count, bool)
    for segment in analysis.segments():
        inside[segment.start : segment.end + 1] = True
    return int(inside[list(analysis.rows_in(start, end + 1))].sum())


def test_false_alarms_learned_as_normal_are_no_longer_flagged(tiny_model, trained_tiny, samples, tmp_path, cli):
    clip = samples / "test" / "Test004.mp4"
    store = EventStore.open(f"sqlite:///{tmp_path / 'events.db'}")
    ids = publish_analysis(store, analyze(clip, tiny_model), source="cam", run="r1", origin="app", model=tiny_model)
    events = [store.event(i) for i in ids if store.event(i).kind == "anomaly"]
    assert events, "the tiny model flags something in Test004"
    with pytest.raises(BadInput, match="only false alarms"):
        check_learnable(events, store)
    store.set_review([e.id for e in events], "false_alarm")
    events = [store.event(e.id) for e in events]

    footage = tmp_path / "false-alarms.mkv"
    ranges = normal_footage(store, events, footage)
    assert ranges[0][0] == 0 and probe(footage).frame_count == ranges[-1][1]
    out = tmp_path / "learned"
    normal = [f"--normal={a}:{b}" for a, b in ranges]
    done = cli("adapt", str(footage), *normal, "--checkpoint", str(trained_tiny.stem), "--minutes", "0.2",
               "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    record_learning(store, [e.id for e in events], out)

    card = json.loads(out.with_suffix(".json").read_text())
    assert card["adaptation"]["events"] == sorted(e.id for e in events)
    assert all(store.event(e.id).learned_into == "learned" for e in events)
    before = analyze(clip, tiny_model)
    after = analyze(clip, load_checkpoint(out, device="cpu"))
    for event in events:
        assert flagged(before, event.start, event.end) > 0
        assert flagged(after, event.start, event.end) == 0, (event.start, event.end, after.segments())
