"""What the Events page does with the selected events: review them at once, export them, learn them as normal.

selection_actions(store, selected_events)
"""

from __future__ import annotations

import streamlit as st

from app.views.event_export import export_panel
from app.views.event_grid import pick_key
from app.views.event_learn import learn_panel
from app.views.event_timeline import REVIEW_LABELS
from vad_core.events import Event, EventStore
from vad_core.events.schema import REVIEW_STATES


def _review_all(store: EventStore, ids: list[int], review: str) -> None:
    store.set_review(ids, review)


def _clear(ids: list[int]) -> None:
    for event_id in ids:
        st.session_state[pick_key(event_id)] = False


def selection_actions(store: EventStore, selected: list[Event]) -> None:
    """A bar for the selection (mark, clear), then export and "learn these as normal"."""
    ids = [e.id for e in selected]
    st.subheader(f"Selected: {len(ids)}", anchor=False)
    cols = st.columns(len(REVIEW_STATES) + 1)
    for col, review in zip(cols, REVIEW_STATES, strict=False):
        col.button(f"Mark {REVIEW_LABELS[review]}", key=f"events_mark_{review}", disabled=not ids,
                   on_click=_review_all, args=(store, ids, review))  # fmt: skip
    cols[-1].button("Clear selection", key="events_clear", disabled=not ids, on_click=_clear, args=(ids,))
    export_panel(store, ids)
    learn_panel(store, selected)
