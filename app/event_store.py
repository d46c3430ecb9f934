"""The app's event store: opened once per process from VAD_EVENTS_URL (else the SQLite file in the data folder).

    store = events_store()        # an EventStore; BadInput (one sentence) for a corrupt or foreign database
    for event in store.events(EventFilter(reviews=["new"])): ...
    publish_clip(clip, model)     # the analysis page: its segments as events, once per (content, model)

A store that cannot be opened is tried again on the next rerun (a failure is never cached), so a fixed database
is picked up without a restart; the rest of the app never needs the store.
"""

from __future__ import annotations

import logging

import streamlit as st

from app.state import Clip, model_fingerprint
from vad_core import Detector
from vad_core.events import EventStore, default_url
from vad_core.events.record import publish_analysis

LOG = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def _open(url: str) -> EventStore:
    return EventStore.open(url)


def events_store() -> EventStore:
    """The process's store for the current VAD_EVENTS_URL (a test's temp folder gets its own)."""
    return _open(default_url())


@st.cache_resource(show_spinner=False)
def _published() -> set[tuple[str, str]]:
    """(store URL, run) pairs this process has published: a rerun (a slider moved) writes nothing again."""
    return set()


def app_run(clip: Clip, model: Detector) -> str:
    """The run id of an app analysis: the video's content and the model's card (and the part analyzed, where
    it is not the whole clip), so opening the same clip again, in any session or after a restart, is one run."""
    chosen = clip.selection
    part = [] if chosen.is_all else [str(n) for n in (chosen.start, chosen.end, chosen.step)]
    return "-".join(["app", clip.digest[:16], model_fingerprint(model), *part])


def publish_clip(clip: Clip, model: Detector) -> None:
    """Store an analysis' segments (at the model's default rule) as events, once; a store fault is one warning
    line, never a broken analysis."""
    url = default_url()
    run = app_run(clip, model)
    if (url, run) in _published():
        return
    try:
        publish_analysis(
            events_store(), clip.analysis, source=clip.name, run=run, origin="app", model=model, frames=clip.frames
        )
    except Exception as err:  # the store is a convenience here: the analysis is shown whatever it says
        LOG.warning("events of %s not stored", clip.name, exc_info=True)
        st.warning(f"This clip's events were not stored ({err}).", icon=":material/warning:")
        return
    _published().add((url, run))
