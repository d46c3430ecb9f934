"""The Events page (AppTest) on a temp store holding a real analysis' events, and the analysis page publishing them."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import av
import pytest
from streamlit.testing.v1 import AppTest

from app.event_store import _published
from tests.helpers.apptest import TIMEOUT, open_page, wait_finished
from tests.helpers.paths import APP
from vad_core import analyze
from vad_core.events import EventFilter, EventStore
from vad_core.events.record import analysis_events, publish_analysis

pytestmark = pytest.mark.slow


@pytest.fixture
def events_url(tmp_path, monkeypatch, analysis_stem) -> str:
    url = f"sqlite:///{tmp_path / 'events' / 'events.db'}"
    monkeypatch.setenv("VAD_EVENTS_URL", url)
    monkeypatch.setenv("VAD_CHECKPOINT", str(analysis_stem))
    monkeypatch.setenv("VAD_MODELS_DIR", str(tmp_path / "models"))
    return url


@pytest.fixture(scope="module")
def test004(samples, analysis_model):
    return analyze(samples / "test" / "Test004.mp4", analysis_model)


@pytest.fixture
def published(events_url, test004, analysis_model) -> list[int]:
    store = EventStore.open(events_url)
    ids = publish_analysis(store, test004, source="Test004.mp4", run="t4", origin="app", model=analysis_model)
    store.close()
    assert ids
    return ids


def _page(query: dict | None = None) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    app.query_params.update(query or {})
    return open_page(app.run(), "events")


def _stored(url: str, thumbnails: bool = False, **which) -> list:
    store = EventStore.open(url)
    try:
        return store.events(EventFilter(**which), thumbnails=thumbnails)
    finally:
        store.close()


def test_the_analysis_page_publishes_its_segments_once(events_url, test004, analysis_model):
    expected = analysis_events(test004, source="Test004.mp4", run="x", origin="app", model=analysis_model)
    for _ in range(2):  # opened again as by a restarted server (which has published nothing yet): nothing added
        _published.clear()
        app = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        app.query_params["sample"] = "Test004.mp4"
        app.run()
        assert not app.exception, app.exception
        assert not app.warning or all("not stored" not in w.value for w in app.warning)
        stored = _stored(events_url, thumbnails=True)
        assert sorted((e.kind, e.start, e.end) for e in stored) == sorted((r.kind, r.start, r.end) for r in expected)
        assert all(e.origin == "app" and e.source == "Test004.mp4" and e.thumbnail and e.excerpt for e in stored)


def test_the_page_lists_filters_and_reviews_events(events_url, published):
    app = _page()  # its first run, on the analysis page, publishes the default sample's events too
    assert not app.exception, app.exception
    stored = _stored(events_url)
    assert set(published) < {e.id for e in stored}
    assert len(app.get("image")) == len(app.checkbox) == len(stored)  # a card with a thumbnail per event
    app.multiselect(key="events_kinds").set_value(["frozen"]).run()
    assert not app.checkbox and any("No events match" in i.value for i in app.info)
    app.multiselect(key="events_kinds").set_value(["anomaly"]).run()
    assert len(app.checkbox) == len([e for e in _stored(events_url) if e.kind == "anomaly"])

    first = published[0]
    app = _page({"event": str(first)})
    assert not app.exception, app.exception
    assert app.get("component_instance"), "the opened event's player"
    app.text_input(key=f"event_note_{first}").set_value("a cart, really")
    app.button(key="event_confirmed").click().run()
    (event,) = [e for e in _stored(events_url) if e.id == first]
    assert (event.review, event.note) == ("confirmed", "a cart, really")
    app.button(key="event_false_alarm").click().run()
    assert [e.review for e in _stored(events_url) if e.id == first] == ["false_alarm"]
    app.multiselect(key="events_reviews").set_value(["false_alarm"]).run()
    assert [c.key for c in app.checkbox] == [f"event_pick_{first}"]
    app.multiselect(key="events_reviews").set_value(["confirmed"]).run()
    assert not app.checkbox


def test_export_of_the_selection_is_clips_plus_a_csv(events_url, published):
    app = _page()
    for box in app.checkbox:
        box.check()
    app.run()
    app.button(key="events_export_prepare").click().run()
    assert not app.exception, app.exception
    ids, data = app.session_state["events_export"]
    stored = {e.id: e for e in _stored(events_url)}
    assert sorted(ids) == sorted(stored)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        rows = list(csv.DictReader(io.TextIOWrapper(archive.open("events.csv"))))
        clip = archive.read(f"event-{ids[0]}.mp4")
    assert names == {"events.csv", *(f"event-{i}.mp4" for i in ids)}
    assert sorted(int(r["id"]) for r in rows) == sorted(ids)
    with av.open(io.BytesIO(clip)) as video:  # a clip that decodes: H.264 frames
        assert video.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in video.decode(video=0)) > 0


def test_a_corrupt_database_is_one_sentence(events_url, tmp_path):
    path = tmp_path / "events" / "events.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()  # the analysis page works on, with one line
    assert not app.exception and not app.error, app.exception
    assert [w.value for w in app.warning if "events were not stored" in w.value]
    assert app.get("component_instance"), "the player"
    app = open_page(app, "events")
    assert not app.exception, app.exception
    (error,) = app.error
    assert "cannot be opened" in error.value and "\n" not in error.value.strip()


def test_learn_these_as_normal_adapts_and_records_the_events(tmp_path, monkeypatch, trained_tiny, tiny_model, samples):
    from app.training import training_runner

    url = f"sqlite:///{tmp_path / 'events.db'}"
    monkeypatch.setenv("VAD_EVENTS_URL", url)
    monkeypatch.setenv("VAD_CHECKPOINT", str(trained_tiny.stem))
    monkeypatch.setenv("VAD_MODELS_DIR", str(tmp_path / "models"))
    store = EventStore.open(url)
    analysis = analyze(samples / "test" / "Test004.mp4", tiny_model)
    ids = publish_analysis(store, analysis, source="cam", run="r", origin="live", model=tiny_model)
    store.set_review(ids, "false_alarm")
    app = _page({"sample": "Test001.mp4"})  # its first run publishes Test001's own events, which stay unselected
    for event_id in ids:
        app.checkbox(key=f"event_pick_{event_id}").check()
    app.run()
    app.text_input(key="learn_name").set_value("cam-learned")
    app.number_input(key="learn_minutes").set_value(0.1)
    app.run()
    next(b for b in app.button if b.label == "Learn these as normal").click().run()
    assert not app.exception and not app.error, (app.exception, [e.value for e in app.error])
    snap = wait_finished(training_runner().job)
    assert snap.state == "done", snap.message
    app.run()
    assert any("Learned." in s.value for s in app.success), [s.value for s in app.success]
    card = json.loads((tmp_path / "models" / "cam-learned.json").read_text())
    assert card["adaptation"]["events"] == sorted(ids) and card["parent"]["model"] == "tiny"
    assert {store.event(i).learned_into for i in ids} == {"cam-learned"}
    store.close()
