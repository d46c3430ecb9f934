"""The app's event store: opened once per process from VAD_EVENTS_URL (else the SQLite file in the data folder).

    store = events_store()        # an EventStore; BadInput (one sentence) for a corrupt or foreign database
    for event in store.events(EventFilter(reviews=["new"])): ...

A store that cannot be opened is tried again on the next rerun (a failure is never cached), so a fixed database
is picked up without a restart; the rest of the app never needs the store.
"""

from __future__ import annotations

import streamlit as st

from vad_core.events import EventStore, default_url


@st.cache_resource(show_spinner=False)
def _open(url: str) -> EventStore:
    return EventStore.open(url)


def events_store() -> EventStore:
    """The process's store for the current VAD_EVENTS_URL (a test's temp folder gets its own)."""
    return _open(default_url())
