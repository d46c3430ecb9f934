"""A training run's live status, shared by the train page and the adapt panel of the analysis page.

    st.fragment(job_status, run_every=1.0)(on_finished=lambda snap: ...)

Progress bar with the current phase (a best-of-three run's), steps, frames, time and ETA, whose run it is, the
loss curve; for the session that started it a Cancel button (a second one stops it at once), and when the run has
ended, on_finished(snapshot) draws what comes next (a button, or a re-analysis with the new model). Other sessions
watch; they cannot cancel it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.models import session_token
from app.training import JobSnapshot, TrainingJob, training_runner
from app.views.plot import CURVE_RGB, GRID_RGB, dark_layout

STATE_TEXT = {
    "running": "Training",
    "calibrating": "Calibrating on held-out normal frames",
    "stopping": "Stopping at once",
    "done": "Finished",
    "cancelled": "Cancelled: the model learned so far was calibrated and saved",
    "failed": "Failed",
}
CANCELLING = (
    "Stopping after the current step; what it learned is then calibrated and saved. Cancel again to stop at once "
    "and save nothing."
)
# A best-of-three run: a cancel cuts the autoencoder's training short, but the three kinds are still compared.
BEST_CANCELLED = "Cancelled: the autoencoder's training was cut short; the best of the three kinds was still kept"
BEST_CANCELLING = (
    "Stopping the autoencoder's training after the current step; the run then calibrates it, fuses it with the "
    "motion detector and keeps the best of the three. Cancel again to stop at once and save nothing."
)
MAX_PLOTTED = 1500
LIVE_KEY = "training_live"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _loss_figure(snap: JobSnapshot) -> go.Figure:
    """Loss per step, thinned to at most MAX_PLOTTED points, with a running mean to read the trend."""
    steps, losses = np.asarray(snap.steps), np.asarray(snap.losses)
    keep = slice(None, None, max(1, len(steps) // MAX_PLOTTED))
    window = max(1, min(25, len(losses) // 5))
    trend = np.convolve(losses, np.ones(window) / window, mode="valid") if len(losses) else losses
    figure = go.Figure(
        [
            go.Scatter(x=steps[keep], y=losses[keep], mode="lines", name="loss per step",
                       line={"color": "rgba(76, 201, 240, 0.35)", "width": 1}),
            go.Scatter(x=steps[window - 1 :][keep], y=trend[keep], mode="lines", name=f"mean of {window}",
                       line={"color": CURVE_RGB, "width": 2}),
        ]
    )  # fmt: skip
    figure.update_layout(
        **dark_layout(280, {"l": 56, "r": 12, "t": 30, "b": 40}),
        xaxis={"title": {"text": "step"}, "gridcolor": GRID_RGB},
        yaxis={"title": {"text": "reconstruction loss (MSE)"}, "type": "log", "gridcolor": GRID_RGB},
    )
    return figure


def job_status(on_finished: Callable[[JobSnapshot], None]) -> None:
    """The run's progress; redrawn every second while it runs (run it in a fragment). The run does not depend on
    it: leaving the page leaves the run going."""
    job = training_runner().job
    if job is None:
        return
    snap = job.snapshot()
    if snap.finished and st.session_state.get(LIVE_KEY):
        st.session_state[LIVE_KEY] = False
        st.rerun()  # the whole page again: the form is enabled, and the one-second refresh stops
    session = session_token()
    mine = job.is_owner(session)
    st.subheader(f"Model “{snap.name}” " + ("(yours)" if mine else f"· started by {snap.owner_label}"), anchor=False)
    st.progress(min(snap.fraction, 1.0), text=_progress_text(snap))
    if snap.stages and not snap.finished:
        st.caption(" → ".join([*snap.stages[:-1], f"**{snap.stages[-1]}**"]))
    if snap.losses:  # right under the progress: the notices and buttons below come and go, and a chart that
        st.plotly_chart(_loss_figure(snap), key="loss_curve")  # moves in the page is remounted with its old figure
    if snap.queued and not snap.finished:
        st.info(snap.queued, icon=":material/hourglass_top:")
    if snap.finished:
        _outcome(snap, mine, on_finished)
    elif not mine:
        st.caption(f"Only {snap.owner_label}, which started this run, can cancel it.")
    else:
        _cancel_buttons(job, snap, session)


def state_text(snap: JobSnapshot) -> str:
    """What the run is doing, or how it ended: a best-of-three run's current phase while it runs."""
    if snap.state == "cancelled" and snap.checkpoint is None:
        return "Cancelled"
    if snap.state == "cancelled" and snap.kind == "best":
        return BEST_CANCELLED
    if snap.state == "running" and snap.stages:
        return snap.stages[-1][:1].upper() + snap.stages[-1][1:]
    return STATE_TEXT[snap.state]


def _progress_text(snap: JobSnapshot) -> str:
    text = state_text(snap)
    if not snap.steps and snap.stages:  # a phase without steps (fitting the motion detector): no counts yet
        return text
    text += f" · step {len(snap.steps)} · {snap.frames_seen} frames seen · {_duration(snap.elapsed_s)}"
    if snap.eta_s is not None:
        text += f" · about {_duration(snap.eta_s)} left"
    if snap.losses:
        text += f" · loss {snap.losses[-1]:.4f}"
    return text


def _outcome(snap: JobSnapshot, mine: bool, on_finished: Callable[[JobSnapshot], None]) -> None:
    """A finished run: failed, cancelled, or saved (its owner gets the next steps, the others where to find it)."""
    if snap.state == "failed":
        st.error(f"**Training failed.** {snap.message}", icon=":material/error:")
    elif snap.checkpoint is None:
        st.info(f"**Cancelled.** {snap.message}", icon=":material/info:")
    elif mine:
        on_finished(snap)
    else:
        st.caption(f"Saved as **{snap.name}**: it is in the model picker of the analysis page.")


def _cancel_buttons(job: TrainingJob, snap: JobSnapshot, session: str) -> None:
    """The owner's cancel, then, while the run is saving before it stops, a way to stop at once."""
    if not snap.cancel_requested:
        if st.button("Cancel training", icon=":material/stop_circle:", key="cancel_training"):
            job.cancel(session)
    elif snap.state != "stopping":
        st.info(BEST_CANCELLING if snap.kind == "best" else CANCELLING, icon=":material/hourglass_top:")
        if st.button("Stop at once, save nothing", icon=":material/cancel:", key="kill_training"):
            job.cancel(session)
