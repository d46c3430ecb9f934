"""One event opened on the Events page: its excerpt in the analysis view (synchronized player, heatmap, plot), and
review by button or key: Confirm (y), False alarm (f), Next (n), with a note.

    show_event(store, event_id, listed_ids)      # ?event=ID: the page's opened event

The excerpt is the stored analysis (vad_core.batch.stored) the producer wrote in the event's folder under the
store's media root: read, never rerun, and shown on its model-size frames (its clip.mp4 has the heatmap burnt in).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from app.models import available_models
from app.state import Clip, app_limits, checkpoint_stem, clip_store, load_model, store_analysis
from app.views.clip_view import show_clip
from app.views.event_grid import OPEN_PARAM, open_event
from app.views.event_timeline import REVIEW_LABELS
from vad_core import BadInput, LoadedModel
from vad_core.batch.stored import read_analysis
from vad_core.events import Event, EventStore

REVIEW_BUTTONS = {"confirmed": ("Confirm", "y"), "false_alarm": ("False alarm", "f")}  # Streamlit keeps C and R


def close_event() -> None:
    st.query_params.pop(OPEN_PARAM, None)


def model_stem_of(event: Event) -> str:
    """The stem of the model that found the event, when it is one of the app's models (by name), else the app's
    model: the stored scores are shown as they were scored either way."""
    known = {entry.stem.name: entry.stem for entry in available_models()}
    return str(known.get(event.model, checkpoint_stem()))


def excerpt_clip(store: EventStore, event: Event, model: LoadedModel) -> Clip:
    """The event's excerpt as the analysis view's Clip, kept in the clip store like any analysis."""
    folder = store.excerpt_folder(event)
    if folder is None:
        raise BadInput(f"event {event.id} has no excerpt on this server (its producer stored none, or it was removed)")
    key = hashlib.sha256(f"{folder.resolve()}|{event.key}".encode()).hexdigest()[:32]
    clips = clip_store()
    with clips.opening(key):
        clip = clips.get(key)
        if clip is None:
            analysis = read_analysis(folder, model, max_frames=app_limits().max_frames)
            clip = store_analysis(f"{event.source} #{event.id}", analysis, None, key, key)  # clip.mp4 has the heat
    return clip


def _review(store: EventStore, event_id: int, review: str, note_key: str) -> None:
    """Button callback: store the review and the note as typed."""
    store.set_review([event_id], review, note=st.session_state.get(note_key, ""))


def _next(listed: list[int], event_id: int) -> int | None:
    """The event after this one in the page's list (the newest first), else the first."""
    if not listed:
        return None
    return listed[(listed.index(event_id) + 1) % len(listed)] if event_id in listed else listed[0]


def _review_bar(store: EventStore, event: Event, listed: list[int]) -> None:
    note_key = f"event_note_{event.id}"
    st.session_state.setdefault(note_key, event.note)
    cols = st.columns([1.2, 1.4, 1, 1, 3], vertical_alignment="bottom")
    for col, (review, (label, key)) in zip(cols, REVIEW_BUTTONS.items(), strict=False):
        col.button(
            label,  # Streamlit shows the key on the button
            key=f"event_{review}",
            shortcut=key,
            type="primary" if event.review == review else "secondary",
            on_click=_review,
            args=(store, event.id, review, note_key),
        )
    following = _next(listed, event.id)
    cols[2].button("Next", key="event_next", shortcut="n", on_click=open_event, args=(following,),
                   disabled=following is None)  # fmt: skip
    cols[3].button("Close", key="event_close", on_click=close_event)
    cols[4].text_input("Note", key=note_key, placeholder="what it was (saved with a review)")


def show_event(store: EventStore, event_id: int, listed: list[int]) -> None:
    """The opened event: what and when, review, then its excerpt in the analysis view."""
    try:
        event = store.event(event_id)
    except BadInput as err:
        st.warning(f"{err}.", icon=":material/warning:")
        close_event()
        return
    end = event.end if event.end is not None else "(open)"
    st.subheader(f"#{event.id} · {event.source} · {event.kind} · frames {event.start}-{end}", anchor=False)
    st.caption(
        f"{REVIEW_LABELS.get(event.review, event.review)} · peak {event.peak:.2f} at frame {event.peak_frame} · "
        f"found by {event.origin} run `{event.run}` with model `{event.model}`"
        + (f" · video {Path(event.video).name}" if event.video else "")
        + (f" · learned as normal into `{event.learned_into}`" if event.learned_into else "")
    )
    _review_bar(store, event, listed)
    model = load_model(model_stem_of(event))
    try:
        clip = excerpt_clip(store, event, model)
    except BadInput as err:
        st.error(f"**This event's excerpt cannot be shown.** {err}", icon=":material/error:")
        return
    show_clip(clip, model)
