"""The event store: every finding of every run in one database, reviewed later; SQLite by default, PostgreSQL by URL.

store = EventStore.open()                           # VAD_EVENTS_URL, else an SQLite file in the tool's data folder
event_id = store.add(EventRecord(key="run7/anomaly/120", source="cam3", kind="anomaly", start=120, ...))
store.set_review([event_id], "false_alarm", note="a delivery van")

Opening migrates the database to this version (Alembic), so a file written by an older version opens. A file that
is not a database, or a database of something else, is one sentence (BadInput), never a traceback. SQLite runs in
WAL mode with a busy timeout, so several processes (batch workers, a live run, the app) write at once; `add` is
idempotent by the record's key, so a retried or restarted producer never writes a finding twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, defer

from vad_core.errors import BadInput
from vad_core.events.schema import REVIEW_STATES, EventRow
from vad_core.io.paths import data_home

URL_VARIABLE = "VAD_EVENTS_URL"
MEDIA_VARIABLE = "VAD_EVENTS_MEDIA"
MIGRATIONS = Path(__file__).with_name("migrations")
BUSY_MS = 30_000  # how long a writer waits for another's lock before it fails
MAX_LIST = 10_000


def default_url() -> str:
    """VAD_EVENTS_URL, else the SQLite file events.db in the tool's data folder."""
    return os.environ.get(URL_VARIABLE) or f"sqlite:///{data_home() / 'events' / 'events.db'}"


@dataclass(frozen=True)
class EventRecord:
    """A finding as a producer reports it; frames are source frame numbers, end inclusive (None: still open)."""

    key: str
    source: str
    run: str
    origin: str
    kind: str
    start: int
    end: int | None
    peak: float
    peak_frame: int
    fps: float
    model: str = ""
    model_hash: str = ""
    model_kind: str = "autoencoder"
    video: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    zone: str | None = None
    thumbnail: bytes | None = None
    excerpt: str | None = None


@dataclass(frozen=True)
class Event(EventRecord):
    """A stored finding: the record plus its id, review state and what was learned from it."""

    id: int = 0
    review: str = "new"
    note: str = ""
    learned_into: str | None = None
    created_at: datetime | None = None

    def to_dict(self) -> dict:
        """JSON-ready: times as ISO strings; no thumbnail (its bytes are the store's to serve)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "thumbnail"}
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in out.items()}


@dataclass(frozen=True)
class EventFilter:
    """Which events to list; None or empty means any."""

    sources: Sequence[str] = ()
    kinds: Sequence[str] = ()
    reviews: Sequence[str] = ()
    since: datetime | None = None  # by started_at, else created_at
    until: datetime | None = None
    limit: int = 1000


def check_review(review: str) -> str:
    """A review state, or BadInput naming the states."""
    if review not in REVIEW_STATES:
        raise BadInput(f"a review is one of {', '.join(REVIEW_STATES)}, not {review!r}")
    return review


def utc_now() -> datetime:
    """Naive UTC: what the store keeps (SQLite has no time zones)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _describe(url: str) -> str:
    """The database a URL names, without its password."""
    parsed = make_url(url)
    return parsed.database if parsed.get_backend_name() == "sqlite" else parsed.render_as_string(hide_password=True)


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError):
        raise BadInput(f"{url!r} is not a database URL (sqlite:///PATH or postgresql+psycopg://…)") from None
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": BUSY_MS / 1000})

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record) -> None:  # every connection: WAL survives, the rest is per connection
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # in WAL mode a killed process loses no commit
        cursor.close()

    return engine


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """One process migrates at a time: a file lock beside an SQLite file, an advisory lock on PostgreSQL."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        with open(f"{database}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
    elif engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT pg_advisory_lock(4157)")  # the store's own number
            try:
                yield
            finally:
                connection.exec_driver_sql("SELECT pg_advisory_unlock(4157)")
    else:
        yield


def _migrate(engine: Engine, where: str) -> None:
    """Bring the database to this version's schema; refuse a database that holds other things."""
    tables = set(inspect(engine).get_table_names())
    if tables and not ({"events", "alembic_version"} & tables):
        names = ", ".join(sorted(tables)[:3])
        raise BadInput(f"{where} holds other tables ({names}), not events: name another database")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class EventStore:
    """The events of one database, and the folder that holds their excerpts (media_root)."""

    def __init__(self, engine: Engine, media_root: Path) -> None:
        self.engine = engine
        self.media_root = media_root

    @classmethod
    def open(cls, url: str | None = None, media_root: str | Path | None = None) -> EventStore:
        """The store at url (default_url()), migrated; media beside an SQLite file, else VAD_EVENTS_MEDIA or the
        data folder's events/media."""
        url = url or default_url()
        engine = _engine(url)
        where = _describe(url)
        try:
            with _migration_lock(engine):
                _migrate(engine, where)
        except (DatabaseError, OperationalError) as err:
            engine.dispose()
            reason = str(err.orig) if getattr(err, "orig", None) is not None else str(err)
            raise BadInput(f"the event store {where} cannot be opened ({reason.splitlines()[0]})") from None
        return cls(engine, Path(media_root or cls._default_media(engine)))

    @staticmethod
    def _default_media(engine: Engine) -> Path:
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
            return Path(database).expanduser().with_name("media")
        return Path(os.environ.get(MEDIA_VARIABLE) or data_home() / "events" / "media")

    def close(self) -> None:
        self.engine.dispose()

    def add(self, record: EventRecord) -> int:
        """Store a finding once: a record whose key is already stored changes nothing. Returns its id."""
        values = dataclasses.asdict(record) | {"created_at": utc_now()}
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(EventRow).values(**values).on_conflict_do_nothing(index_elements=["key"])
        with Session(self.engine) as session, session.begin():
            session.execute(statement)
            return session.scalar(select(EventRow.id).where(EventRow.key == record.key))

    def finish(self, key: str, **changes: object) -> None:
        """Fill in what a live event learns when it closes: end, peak, peak_frame, ended_at, thumbnail, excerpt."""
        allowed = {"end", "peak", "peak_frame", "ended_at", "thumbnail", "excerpt", "zone"}
        if unknown := set(changes) - allowed:
            raise ValueError(f"cannot change {sorted(unknown)} of a stored event")
        with Session(self.engine) as session, session.begin():
            session.execute(update(EventRow).where(EventRow.key == key).values(**changes))

    def events(self, which: EventFilter | None = None, thumbnails: bool = False) -> list[Event]:
        """Events matching the filter, newest first (by wall-clock start, else when stored); their thumbnails
        only when asked (a grid), since a list for the CLI or a timeline needs none."""
        which = which or EventFilter()
        when = func.coalesce(EventRow.started_at, EventRow.created_at)
        query = select(EventRow).order_by(when.desc(), EventRow.source, EventRow.start.desc(), EventRow.id.desc())
        for column, values in ((EventRow.source, which.sources), (EventRow.kind, which.kinds)):
            if values:
                query = query.where(column.in_(list(values)))
        if which.reviews:
            query = query.where(EventRow.review.in_(list(which.reviews)))
        if which.since is not None:
            query = query.where(when >= which.since)
        if which.until is not None:
            query = query.where(when < which.until)
        with Session(self.engine) as session:
            if not thumbnails:
                query = query.options(defer(EventRow.thumbnail))
            rows = session.scalars(query.limit(min(which.limit, MAX_LIST))).all()
            return [_event(row, thumbnails) for row in rows]

    def lacking_media(self, keys: Sequence[str]) -> set[str]:
        """The keys among these of stored events with no excerpt yet (a producer's media still to write)."""
        with Session(self.engine) as session:
            query = select(EventRow.key).where(EventRow.key.in_(list(keys)), EventRow.excerpt.is_(None))
            return set(session.scalars(query))

    def event(self, event_id: int) -> Event:
        """One event with its thumbnail; BadInput when there is none of that id."""
        with Session(self.engine) as session:
            row = session.get(EventRow, event_id)
            if row is None:
                raise BadInput(f"there is no event {event_id} in this store")
            return _event(row, thumbnail=True)

    def sources(self) -> list[str]:
        with Session(self.engine) as session:
            return list(session.scalars(select(EventRow.source).distinct().order_by(EventRow.source)))

    def set_review(self, ids: Sequence[int], review: str, note: str | None = None) -> int:
        """Mark events new, confirmed or false_alarm (and replace their note, if given); returns how many changed."""
        values: dict[str, object] = {"review": check_review(review)} | ({"note": note} if note is not None else {})
        return self._update(ids, values)

    def set_learned(self, ids: Sequence[int], model: str) -> int:
        """Record that a model learned these events as normal."""
        return self._update(ids, {"learned_into": model})

    def _update(self, ids: Sequence[int], values: dict[str, object]) -> int:
        with Session(self.engine) as session, session.begin():
            result = session.execute(update(EventRow).where(EventRow.id.in_(list(ids))).values(**values))
            return result.rowcount

    def excerpt_folder(self, event: Event) -> Path | None:
        """The folder holding an event's excerpt (a stored analysis and its clip), if it has one on disk."""
        if not event.excerpt:
            return None
        folder = (self.media_root / event.excerpt).resolve()
        return folder if folder.is_dir() and folder.is_relative_to(self.media_root.resolve()) else None


def _event(row: EventRow, thumbnail: bool) -> Event:
    values = {f.name: getattr(row, f.name) for f in dataclasses.fields(Event)}
    return Event(**(values | ({} if thumbnail else {"thumbnail": None})))
