"""The train-your-scene page: pick normal clips and a detector kind, start a background training run, watch its
loss, use the model.

    st.navigation([..., st.Page(train.render, title="Train your scene", url_path="train")]).run()

The run lives in app.training (a worker thread per server); this page starts it and redraws its progress
every second in a fragment, so the rest of the page and the other pages stay usable while it trains. Every
session sees the run and whose it is; only the one that started it can cancel it. A folder on the server is a
source only when the operator names a data root (VAD_DATA_ROOT), and only folders under it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.data_root import ROOT_VARIABLE, data_root
from app.models import available_models, models_folder, session_label, session_token
from app.state import SAMPLES, VIDEO_TYPES
from app.training import ClipFile, JobSnapshot, TrainingRequest, training_runner
from app.views import analysis
from app.views.controls import MODEL_KEY
from app.views.training_status import LIVE_KEY, STATE_TEXT, job_status
from vad_core import BadInput
from vad_core.training.train import FAST_REFERENCE_ROWS, PRESETS

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
KINDS = {
    "autoencoder": "Autoencoder · learns to reconstruct the scene (minutes)",
    "motion": "Motion · each place's normal optical-flow speed (seconds)",
}
MOTION_TEXT = (
    "A motion detector measures the optical flow of the clips at their own resolution and learns each place's "
    "normal speed; it flags what moves faster than normal there. It is fitted in one pass, in seconds, and "
    "calibrated on held-out normal frames like an autoencoder."
)
PRESET_TEXT = {
    "fast": f"fast · {PRESETS['fast']} px (less for footage under {FAST_REFERENCE_ROWS} rows), minutes on a CPU",
    "paper": f"paper · {PRESETS['paper']} px, the paper's input, slower",
}


def _offer_model(snap: JobSnapshot) -> None:
    """A finished run: where it was saved, and a button that opens the analysis page with it."""
    st.success(
        f"**{STATE_TEXT[snap.state]}.** Saved as `{snap.checkpoint.with_suffix('')}`. Pick **{snap.name}** in the "
        "model picker of the analysis page.",
        icon=":material/check_circle:",
    )
    if st.button("Analyze with this model", icon=":material/query_stats:"):
        st.session_state[MODEL_KEY] = str(snap.checkpoint.with_suffix(""))
        st.switch_page(st.Page(analysis.render, url_path="analyze", default=True))


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
    root = data_root()
    if root is None:
        st.info(
            f"Folders on this server are off: the operator turns them on by setting `{ROOT_VARIABLE}` to the "
            "folder that holds the datasets.",
            icon=":material/folder_off:",
        )
        return (), None
    folder = st.text_input(
        "Dataset folder", placeholder="ucsd_ped2", key="train_folder",
        help=f"A folder under {root}: a folder of clips, or a dataset with a train/ folder of normal clips "
        "(videos or frame folders).",
    )  # fmt: skip
    return (), Path(folder.strip()) if folder.strip() else None  # checked against the root when the run starts


def _autoencoder_settings() -> dict:
    """What only an autoencoder's run takes (the model to start from, the preset, the budget), as
    TrainingRequest's fields."""
    models = {str(e.stem): e.label for e in available_models() if e.kind == "autoencoder"}  # fine-tuned: a network
    init = st.selectbox(
        "Start from",
        [None, *models],
        format_func=lambda s: "a new model (from scratch)" if s is None else f"model {models[s]}",
        key="train_init",
        help="Fine-tune an existing model on your clips: it keeps what it learned and adapts in minutes.",
    )
    preset = st.radio(
        "Preset", list(PRESETS), format_func=PRESET_TEXT.get, key="train_preset", disabled=init is not None,
        help="A fine-tuned model keeps the input size of the model it starts from.",
    )  # fmt: skip
    budget = st.radio("Budget", ["minutes", "epochs"], horizontal=True, key="train_budget")
    if budget == "minutes":
        amount = st.number_input("Minutes of training", 0.5, 600.0, 5.0, 0.5, key="train_minutes")
    else:
        amount = st.number_input("Epochs", 1, 1000, 3, 1, key="train_epochs")
    return {
        "preset": preset,
        "minutes": float(amount) if budget == "minutes" else None,
        "epochs": int(amount) if budget == "epochs" else None,
        "init": Path(init) if init else None,
    }


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
        kind = st.radio("Detector", list(KINDS), format_func=KINDS.get, key="train_kind")
        if kind == "motion":
            st.caption(MOTION_TEXT)
        settings = _autoencoder_settings() if kind == "autoencoder" else {}
        st.caption(f"Models are saved in `{models_folder()}` (set `VAD_MODELS_DIR` to change it).")
    if busy:
        owner = runner.job.request.owner
        whose = "Your training run" if owner == session_token() else f"A training run of {session_label(owner)}"
        st.info(f"{whose} is in progress on this server; start the next one when it ends.")
    if st.button(
        "Start training", type="primary", icon=":material/model_training:", disabled=busy, key="start_training"
    ):
        request = TrainingRequest(
            name=name.strip(), kind=kind, clips=clips, dataset=dataset, owner=session_token(), **settings
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
    st.fragment(job_status, run_every=1.0 if live else None)(on_finished=_offer_model)
    _form()
