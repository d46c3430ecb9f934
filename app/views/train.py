"""The train-your-scene page: pick normal clips, start a background training run, watch its loss, use the model.

    st.navigation([..., st.Page(train.render, title="Train your scene", url_path="train")]).run()

The run lives in app.training (a worker thread per server); this page starts it and redraws its progress
every second in a fragment, so the rest of the page and the other pages stay usable while it trains.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.models import models_folder
from app.state import SAMPLES, VIDEO_TYPES
from app.training import ClipFile, JobSnapshot, TrainingRequest, training_runner
from app.views import analysis
from app.views.controls import MODEL_KEY
from app.views.plot import CURVE_RGB, GRID_RGB, dark_layout
from vad_core import BadInput
from vad_core.train import PRESETS

INTRO = (
    "A model knows only the scene it was trained on: footage of another camera looks anomalous everywhere. "
    "Give it a few minutes of **normal** footage of your scene. It learns to reconstruct that, is calibrated on "
    "held-out normal frames (so c(t) = 1 means *beyond anything normal*), and appears in the model picker of the "
    "analysis page."
)
SOURCES = {
    "samples": "Bundled normal clips (UCSD Ped2 training)",
    "upload": "Upload normal clips",
    "folder": "A dataset folder on this server",
}
PRESET_TEXT = {
    "fast": f"fast · {PRESETS['fast']} px, usable in minutes on a laptop CPU",
    "paper": f"paper · {PRESETS['paper']} px, the paper's input, slower",
}
STATE_TEXT = {
    "running": "Training",
    "calibrating": "Calibrating on held-out normal frames",
    "done": "Finished",
    "cancelled": "Cancelled: the model learned so far was calibrated and saved",
    "failed": "Failed",
}
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


def _job_status() -> None:
    """The run's progress; redrawn every second while it runs (see render). The run does not depend on it."""
    job = training_runner().job
    if job is None:
        return
    snap = job.snapshot()
    if snap.finished and st.session_state.get(LIVE_KEY):
        st.session_state[LIVE_KEY] = False
        st.rerun()  # the whole page again: the form is enabled, and the one-second refresh stops
    st.subheader(f"Model “{snap.name}”", anchor=False)
    text = f"{STATE_TEXT[snap.state]} · step {len(snap.steps)} · {snap.frames_seen} frames seen"
    text += f" · {_duration(snap.elapsed_s)}"
    if snap.eta_s is not None:
        text += f" · about {_duration(snap.eta_s)} left"
    if snap.losses:
        text += f" · loss {snap.losses[-1]:.4f}"
    st.progress(min(snap.fraction, 1.0), text=text)
    if snap.state == "failed":
        st.error(f"**Training failed.** {snap.message}", icon=":material/error:")
    elif snap.checkpoint is None and snap.finished:
        st.info(f"**Cancelled.** {snap.message}", icon=":material/info:")
    elif snap.finished:
        st.success(
            f"**{STATE_TEXT[snap.state]}.** Saved as `{snap.checkpoint.with_suffix('')}`. Pick **{snap.name}** in the "
            "model picker of the analysis page.",
            icon=":material/check_circle:",
        )
        if st.button("Analyze with this model", icon=":material/query_stats:"):
            st.session_state[MODEL_KEY] = str(snap.checkpoint.with_suffix(""))
            st.switch_page(st.Page(analysis.render, url_path="analyze", default=True))
    elif st.button("Cancel training", icon=":material/stop_circle:", key="cancel_training"):
        job.cancel()
    if snap.losses:
        st.plotly_chart(_loss_figure(snap), key="loss_curve")


def _clips(source: str) -> tuple[tuple[ClipFile, ...], Path | None]:
    """The chosen clips (or dataset folder) from the source's widgets."""
    if source == "samples":
        paths = sorted((SAMPLES / "train").glob("*.mp4"))
        names = st.multiselect(
            "Normal clips", [p.name for p in paths], default=[p.name for p in paths], key="train_samples"
        )
        return tuple(ClipFile(p.name, path=p) for p in paths if p.name in names), None
    if source == "upload":
        uploads = st.file_uploader(
            "Normal clips of your scene (no anomalies in them)",
            type=list(VIDEO_TYPES),
            accept_multiple_files=True,
            key="train_uploads",
        )
        return tuple(ClipFile(u.name, data=u.getvalue()) for u in uploads or []), None
    folder = st.text_input(
        "Dataset folder", placeholder="../shared/data/ucsd_ped2", key="train_folder",
        help="A folder of clips, or a dataset with a train/ folder of normal clips (videos or frame folders).",
    )  # fmt: skip
    return (), Path(folder).expanduser() if folder.strip() else None


def _form() -> None:
    runner = training_runner()
    busy = runner.busy()
    st.subheader("New model", anchor=False)
    left, right = st.columns(2, gap="large")
    with left:
        name = st.text_input("Model name", value="my-scene", key="train_name", max_chars=64)
        source = st.radio("Training clips", list(SOURCES), format_func=SOURCES.get, key="train_source")
        clips, dataset = _clips(source)
    with right:
        preset = st.radio("Preset", list(PRESETS), format_func=PRESET_TEXT.get, key="train_preset")
        budget = st.radio("Budget", ["minutes", "epochs"], horizontal=True, key="train_budget")
        if budget == "minutes":
            amount = st.number_input("Minutes of training", 0.5, 600.0, 5.0, 0.5, key="train_minutes")
        else:
            amount = st.number_input("Epochs", 1, 1000, 3, 1, key="train_epochs")
        st.caption(f"Models are saved in `{models_folder()}` (set `VAD_MODELS_DIR` to change it).")
    if busy:
        st.info("A training run is in progress on this server; start the next one when it ends.")
    if st.button(
        "Start training", type="primary", icon=":material/model_training:", disabled=busy, key="start_training"
    ):
        request = TrainingRequest(
            name=name.strip(),
            preset=preset,
            minutes=float(amount) if budget == "minutes" else None,
            epochs=int(amount) if budget == "epochs" else None,
            clips=clips,
            dataset=dataset,
        )
        try:
            runner.start(request)
        except BadInput as err:
            st.error(f"**Cannot start.** {err}", icon=":material/error:")
            return
        st.rerun()


def render() -> None:
    st.title("Train your scene", anchor=False)
    st.caption(INTRO)
    job = training_runner().job
    live = job is not None and not job.snapshot().finished
    st.session_state[LIVE_KEY] = live
    # Only a running job refreshes itself: a timer left behind would keep rerunning whatever page comes next.
    st.fragment(_job_status, run_every=1.0 if live else None)()
    _form()
