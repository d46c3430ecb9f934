"""Events: every finding (anomaly and camera-health segments) of every run, kept in one database for review.

store = EventStore.open()                 # VAD_EVENTS_URL, else an SQLite file in the tool's data folder
store.events(EventFilter(sources=["cam3"], reviews=["new"]))

The names load on first use (SQLAlchemy and Alembic take half a second), so that a command module can import a
constant of this package (vad_core.events.notify.LINK_BASE) without slowing `python -m vad_core --help`.
"""

from __future__ import annotations

import importlib

__all__ = ["Event", "EventFilter", "EventRecord", "EventStore", "default_url"]


def __getattr__(name: str) -> object:
    if name in __all__:
        return getattr(importlib.import_module("vad_core.events.store"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
