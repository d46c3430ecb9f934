"""The event store on both backends (an SQLite file and a real PostgreSQL server): adding once by key, filters,
review, learning, migrating an older database, and refusing a corrupt or foreign one in one sentence."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from vad_core.errors import BadInput
from vad_core.events.store import MIGRATIONS, EventFilter, EventRecord, EventStore

T0 = datetime(2024, 5, 1, 12, 0, 0)


def record(key: str, source: str = "cam1", kind: str = "anomaly", start: int = 10, **values) -> EventRecord:
    fields = {"run": "r1", "origin": "watch", "end": start + 5, "peak": 1.5, "peak_frame": start + 2, "fps": 10.0}
    return EventRecord(key=key, source=source, kind=kind, start=start, **(fields | values))


@pytest.fixture
def store(store_url):
    opened = EventStore.open(store_url)
    yield opened
    opened.close()


def test_add_is_idempotent_by_key(store):
    first = store.add(record("r1/anomaly/10"))
    again = store.add(record("r1/anomaly/10", peak=9.0))
    assert first == again
    events = store.events()
    assert len(events) == 1 and events[0].peak == 1.5 and events[0].review == "new"


def test_filters_by_source_kind_review_and_time(store):
    ids = [
        store.add(record("a", "cam1", "anomaly", 1, started_at=T0)),
        store.add(record("b", "cam2", "frozen", 2, started_at=T0 + timedelta(hours=1))),
        store.add(record("c", "cam1", "anomaly", 3, started_at=T0 + timedelta(hours=2))),
    ]
    store.set_review([ids[2]], "confirmed", note="a cyclist")
    assert [e.key for e in store.events()] == ["c", "b", "a"]  # newest first
    assert [e.key for e in store.events(EventFilter(sources=["cam1"]))] == ["c", "a"]
    assert [e.key for e in store.events(EventFilter(kinds=["frozen"]))] == ["b"]
    assert [e.key for e in store.events(EventFilter(reviews=["confirmed"]))] == ["c"]
    window = EventFilter(since=T0 + timedelta(minutes=30), until=T0 + timedelta(minutes=90))
    assert [e.key for e in store.events(window)] == ["b"]
    assert [e.key for e in store.events(EventFilter(limit=1))] == ["c"]
    assert store.event(ids[2]).note == "a cyclist" and store.sources() == ["cam1", "cam2"]


def test_review_learned_and_finish(store):
    event_id = store.add(record("r/anomaly/5", end=None))
    assert store.lacking_media(["r/anomaly/5", "other"]) == {"r/anomaly/5"}
    store.finish("r/anomaly/5", end=40, peak=3.0, excerpt="r/anomaly-5", thumbnail=b"png")
    assert store.set_review([event_id], "false_alarm") == 1
    assert store.set_learned([event_id], "models/cam1-v2") == 1
    event = store.event(event_id)
    assert (event.end, event.peak, event.review, event.learned_into) == (40, 3.0, "false_alarm", "models/cam1-v2")
    assert event.thumbnail == b"png" and store.lacking_media(["r/anomaly/5"]) == set()
    with pytest.raises(BadInput, match="a review is one of"):
        store.set_review([event_id], "maybe")
    with pytest.raises(BadInput, match="no event 999"):
        store.event(999)


def test_a_database_at_revision_0001_is_migrated_on_open(store_url):
    engine = create_engine(store_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(text(
            "INSERT INTO events (key, source, run, origin, model, model_hash, model_kind, kind, start, \"end\", fps, "
            "peak, peak_frame, review, note, created_at) VALUES ('old/anomaly/7', 'cam9', 'old', 'watch', 'ped2', "
            "'abc', 'autoencoder', 'anomaly', 7, 20, 10.0, 2.5, 9, 'confirmed', 'kept', :now)"
        ), {"now": T0})  # fmt: skip
    engine.dispose()
    store = EventStore.open(store_url)
    try:
        (event,) = store.events()
        assert (event.key, event.source, event.review, event.note, event.zone) == ("old/anomaly/7", "cam9",
                                                                                 "confirmed", "kept", None)  # fmt: skip
        store.set_learned([event.id], "m2")  # a column 0002 added
        assert store.event(event.id).learned_into == "m2"
    finally:
        store.close()


def test_a_corrupt_file_is_one_sentence(tmp_path, cli):
    path = tmp_path / "events.db"
    path.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(BadInput) as caught:
        EventStore.open(f"sqlite:///{path}")
    assert "cannot be opened" in str(caught.value) and "\n" not in str(caught.value)
    result = cli("events", "list", "--events-url", f"sqlite:///{path}")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_a_foreign_database_is_one_sentence(store_url, tmp_path):
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)"))
    engine.dispose()
    with pytest.raises(BadInput, match="holds other tables \\(invoices\\)") as caught:
        EventStore.open(store_url)
    assert "\n" not in str(caught.value)


def test_a_bad_url_is_one_sentence():
    with pytest.raises(BadInput, match="not a database URL"):
        EventStore.open("nosuchdb://x")


def test_sqlite_runs_in_wal_mode(tmp_path):
    EventStore.open(f"sqlite:///{tmp_path / 'e.db'}").close()
    with sqlite3.connect(tmp_path / "e.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
