"""The event store's table, as SQLAlchemy declares it; the migrations under migrations/ create and change it.

    select(EventRow).where(EventRow.source == "cam3", EventRow.review == "new")

One row per finding (an anomaly segment or a camera-health fault) of any run: an app analysis, a live run,
`watch` or `batch`. `key` is the producer's own name for the finding, so that writing it twice (a retry, a
restarted run) leaves one row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

REVIEW_STATES = ("new", "confirmed", "false_alarm")


class Base(DeclarativeBase):
    pass


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    source: Mapped[str] = mapped_column(String(300), index=True)  # the camera or clip
    run: Mapped[str] = mapped_column(String(200))  # the run that found it
    origin: Mapped[str] = mapped_column(String(20))  # app, live, watch, batch
    video: Mapped[str | None] = mapped_column(Text)  # the file it was found in, where there is one
    model: Mapped[str] = mapped_column(String(200))
    model_hash: Mapped[str] = mapped_column(String(64))
    model_kind: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20), index=True)  # anomaly, frozen, covered, moved
    start: Mapped[int] = mapped_column(Integer)  # source frames, end inclusive; None while a live event is open
    end: Mapped[int | None] = mapped_column(Integer)
    fps: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)  # UTC wall clock
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    peak: Mapped[float] = mapped_column(Float)
    peak_frame: Mapped[int] = mapped_column(Integer)
    zone: Mapped[str | None] = mapped_column(String(40))
    thumbnail: Mapped[bytes | None] = mapped_column(LargeBinary)  # PNG: the peak frame with its heatmap
    excerpt: Mapped[str | None] = mapped_column(Text)  # folder under the store's media root
    review: Mapped[str] = mapped_column(String(20), default="new", index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    learned_into: Mapped[str | None] = mapped_column(String(300))  # the model that learned it as normal
    created_at: Mapped[datetime] = mapped_column(DateTime)
