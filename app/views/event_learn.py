""" "Learn these as normal" on the Events page: the selected false alarms of one camera adapt that camera's model.

    learn_panel(store, selected_events)

The excerpts' frames become one lossless clip (vad_core.events.learning) that the server's training runner adapts
the model on, as the analysis page's "Adapt the model to this camera" does; when the run ends, the new card lists
the events it learned and the store marks them learned into the new model.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from app.models import session_token
from app.training import ClipFile, JobSnapshot, TrainingRequest, training_runner
from app.views.event_view import model_stem_of
from app.views.training_status import LIVE_KEY, job_status
from vad_core import BadInput
from vad_core.events import Event, EventStore
from vad_core.events.learning import check_learnable, normal_footage, record_learning
from vad_core.io.tempdirs import owned_prefix

JOB_KEY = "learn_job"  # (model name, event ids) of the learning run this session started
RECORDED_KEY = "learn_recorded"  # the model whose learning has been recorded already


def _start(store: EventStore, events: list[Event], name: str, minutes: float) -> None:
    with tempfile.TemporaryDirectory(prefix=owned_prefix("vad-learn-")) as folder:
        clip = Path(folder) / "false-alarms.mkv"
        ranges = normal_footage(store, events, clip)
        request = TrainingRequest(
            name=name,
            minutes=minutes,
            clips=(ClipFile(f"{events[0].source}-false-alarms.mkv", data=clip.read_bytes()),),
            init=Path(model_stem_of(events[0])),
            normal_ranges=tuple(ranges),
            owner=session_token(),
        )
    training_runner().start(request)
    st.session_state[JOB_KEY] = (name, [e.id for e in events])


def _recorder(store: EventStore):
    """on_finished for the run's status: record once what the new model learned, and say so."""

    def finished(snap: JobSnapshot) -> None:
        name, ids = st.session_state[JOB_KEY]
        if snap.checkpoint is None or snap.state != "done":
            return
        stem = snap.checkpoint.with_suffix("")
        if st.session_state.get(RECORDED_KEY) != name:
            record_learning(store, ids, stem)
            st.session_state[RECORDED_KEY] = name
        listed = ", ".join(f"#{i}" for i in ids)
        st.success(f"**Learned.** `{name}` learned {listed} as normal; pick it in the sidebar of the analysis page.")

    return finished


def learn_panel(store: EventStore, selected: list[Event]) -> None:
    """The form for the selected false alarms, then the run's live status and its outcome."""
    runner = training_runner()
    job = runner.job
    started = st.session_state.get(JOB_KEY)
    mine = job is not None and started is not None and job.request.name == started[0] and job.is_owner(session_token())
    with st.expander("Learn these as normal", expanded=mine, icon=":material/school:"):
        st.markdown(
            "Adapt the camera's model on the **selected false alarms**: their excerpts' frames are learned as normal "
            "footage (the same adapting as *Adapt the model to this camera*), and the new model records which "
            "events it learned."
        )
        try:
            source = check_learnable(selected, store)
        except BadInput as err:
            st.caption(f"{err}.")
            source = None
        left, right = st.columns([3, 1])
        name = left.text_input("New model name", f"{(source or 'camera')[:40]}-learned", key="learn_name")
        minutes = right.number_input("Minutes", 0.1, 30.0, 1.0, 0.5, key="learn_minutes")
        if st.button("Learn these as normal", type="primary", disabled=source is None or runner.busy()):
            try:
                _start(store, selected, name.strip(), float(minutes))
            except BadInput as err:
                st.error(f"**Cannot learn.** {err}", icon=":material/error:")
            else:
                st.rerun()
        if mine:
            live = not job.snapshot().finished
            st.session_state[LIVE_KEY] = live
            st.fragment(job_status, run_every=1.0 if live else None)(on_finished=_recorder(store))
