"""The Events page's grid: a card per event with its thumbnail (the peak frame with its heatmap, as stored), what
it is, its review state, a box to select it and a button to open it.

    selected = event_grid(events)           # the ids whose boxes are ticked, in the grid's order

A box's state lives in the session under pick_key(id), so a selection survives reruns and filter changes.
"""

from __future__ import annotations

import streamlit as st

from app.views.event_timeline import REVIEW_LABELS, event_time
from vad_core.events import Event

COLUMNS = 4
OPEN_PARAM = "event"  # ?event=ID opens an event (alerts link to it)


def pick_key(event_id: int) -> str:
    return f"event_pick_{event_id}"


def open_event(event_id: int) -> None:
    """Button callback: open an event, in the URL too, so that the link can be shared or reloaded."""
    st.query_params[OPEN_PARAM] = str(event_id)


def _card(event: Event) -> None:
    with st.container(border=True):
        if event.thumbnail:
            st.image(event.thumbnail, width="stretch")
        else:
            st.caption("no thumbnail")
        frames = f"{event.start}-{event.end}" if event.end is not None else f"{event.start}- (open)"
        st.markdown(f"**{event.source}** · {event.kind} · #{event.id}")
        learned = f" · learned into `{event.learned_into}`" if event.learned_into else ""
        st.caption(
            f"frames {frames} · peak {event.peak:.2f} · {REVIEW_LABELS.get(event.review, event.review)}{learned}"
            f" · {event.origin} · {event_time(event):%Y-%m-%d %H:%M:%S}"
        )
        st.checkbox(f"Select #{event.id}", key=pick_key(event.id))
        st.button(
            "Open", key=f"event_open_{event.id}", on_click=open_event, args=(event.id,), icon=":material/play_arrow:"
        )


def event_grid(events: list[Event]) -> list[int]:
    """Cards in rows of COLUMNS, newest first; the ids of the selected ones."""
    for i, event in enumerate(events):
        if i % COLUMNS == 0:
            columns = st.columns(COLUMNS)
        with columns[i % COLUMNS]:
            _card(event)
    return [e.id for e in events if st.session_state.get(pick_key(e.id))]
