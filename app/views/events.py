"""The Events page: every finding of every run (app analyses, live runs, watch, batch) from the event store, to
review: filters, a timeline per camera, a grid of thumbnails, an opened event in the analysis view, export, and
"learn these as normal".

    st.navigation([st.Page(events.render, title="Events", url_path="events")]).run()

Everything is read from the store on each rerun, so the page shows the same after a server restart; ?event=ID
opens an event (alerts link to it).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta

import streamlit as st

from app.event_store import events_store
from app.views.event_actions import selection_actions
from app.views.event_grid import OPEN_PARAM, event_grid
from app.views.event_timeline import REVIEW_LABELS, timeline_figure
from app.views.event_view import show_event
from vad_core import BadInput
from vad_core.events import EventFilter, EventStore
from vad_core.events.schema import REVIEW_STATES
from vad_core.scoring.health import HEALTH_LABELS

KINDS = ("anomaly", *HEALTH_LABELS)
GRID_LIMIT = 200  # cards drawn; the timeline and the count cover every matching event


def _dates(picked: object) -> tuple[datetime | None, datetime | None]:
    """A date range's (since, until) in the store's naive UTC; a half-picked or empty range filters nothing."""
    if isinstance(picked, tuple | list) and len(picked) == 2 and all(isinstance(d, date) for d in picked):
        return datetime.combine(picked[0], time.min), datetime.combine(picked[1], time.min) + timedelta(days=1)
    return None, None


def _filters(store: EventStore) -> EventFilter:
    cols = st.columns([3, 2, 2, 2])
    sources = cols[0].multiselect("Camera / clip", store.sources(), key="events_sources", placeholder="all")
    kinds = cols[1].multiselect("Kind", KINDS, key="events_kinds", placeholder="all")
    reviews = cols[2].multiselect(
        "Review", REVIEW_STATES, format_func=REVIEW_LABELS.get, key="events_reviews", placeholder="all"
    )
    since, until = _dates(cols[3].date_input("Dates (UTC)", value=(), key="events_dates"))
    return EventFilter(sources=sources, kinds=kinds, reviews=reviews, since=since, until=until)


def _opened() -> int | None:
    text = st.query_params.get(OPEN_PARAM)
    return int(text) if text and text.isdigit() else None


def render() -> None:
    st.title("Events", anchor=False)
    st.caption(
        "Every anomaly and camera fault any run found, kept in the event store: review them (confirm, false alarm), "
        "export them as clips with a CSV, or teach the model that false alarms are normal."
    )
    try:
        store = events_store()
    except BadInput as err:
        st.error(f"**The event store cannot be used.** {err}.", icon=":material/error:")
        return
    which = _filters(store)
    events = store.events(which)
    opened = _opened()
    if opened is not None:
        show_event(store, opened, [e.id for e in events])
        st.divider()
    if not events:
        st.info("No events match. Analyze a clip, watch a live source or run a batch: their findings appear here.")
        return
    st.plotly_chart(timeline_figure(events), key="events_timeline", config={"displayModeBar": False})
    shown = store.events(dataclasses.replace(which, limit=GRID_LIMIT), thumbnails=True)
    st.caption(f"{len(events)} events" + (f"; the newest {len(shown)} below" if len(shown) < len(events) else ""))
    selected = event_grid(shown)
    selection_actions(store, [e for e in shown if e.id in set(selected)])
