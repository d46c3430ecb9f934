"""Events: every finding (anomaly and camera-health segments) of every run, kept in one database for review.

store = EventStore.open()                 # VAD_EVENTS_URL, else an SQLite file in the tool's data folder
store.events(EventFilter(sources=["cam3"], reviews=["new"]))
"""

from vad_core.events.store import Event, EventFilter, EventRecord, EventStore, default_url

__all__ = ["Event", "EventFilter", "EventRecord", "EventStore", "default_url"]
