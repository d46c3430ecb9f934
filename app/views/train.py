"""The train-your-scene page: pick normal clips and a detector kind (by default the best of three: motion,
autoencoder, fused), start a background training run, watch its phases and loss, use the model.

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
from app.training import MAX_MINUTES, ClipFile, JobSnapshot, TrainingRequest, training_runner
from app.views import analysis
from app.views.controls import MODEL_KEY
from app.views.training_status import LIVE_KEY, job_status, state_text
from vad_core import BadInput
from vad_core.model.card import DETECTOR_KINDS
from vad_core.training.best_fit import BEST_MINUTES, MIN_BEST_MINUTES, candidate_stem
from vad_core.training.train import FAST_REFERENCE_ROWS, PRESETS

INTRO = (
    "A model knows only the scene it was trained on: footage of another camera looks anomalous everywhere. "
    "Give it a few minutes of **normal** footage of your scene. The model learns what is normal there, is "
    "calibrated on held-out normal frames (so c(t) = 1 means *beyond anything normal*), and appears in the model "
    "picker of the analysis page."
)
SOURCES = {
    "samples": "Bundled normal clips (UCSD Ped2 training)",
    "upload": "Upload normal clips",
    "folder": "A dataset folder on this server",
}
KINDS = {
    "best": "Best of three · motion, autoencoder and their fusion; the best is kept (minutes)",
    "autoencoder": "Autoencoder · learns to reconstruct the scene (minutes)",
    "motion": "Motion · each place's normal optical-flow speed (seconds)",
}
MOTION_TEXT = (
    "A motion detector measures the optical flow of the clips at their own resolution and learns each place's "
    "normal speed; it flags what moves faster than normal there. It is fitted in one pass, in seconds, and "
    "calibrated on held-out normal frames like an autoencoder."
)
BEST_TEXT = (
    "Fits a motion detector, trains an autoencoder for the rest of the budget and fuses the two; the one of the three "
    "that best finds anomalies injected into held-out normal frames is kept under the model's name, the others "
    "beside it (NAME-autoencoder, NAME-motion, NAME-fused). No test labels are needed to choose."
)
PRESET_TEXT = {
    "fast": f"fast · {PRESETS['fast']} px (less for footage under {FAST_REFERENCE_ROWS} rows), minutes on a CPU",
    "paper": f"paper · {PRESETS['paper']} px, the paper's input, slower",
}


def _offer_model(snap: JobSnapshot) -> None:
    """A finished run: where it was saved (a best-of-three run: which kind won, and its candidates), how it fares
    against the model-free baselines, and a button that opens the analysis page with it."""
    text = f"**{state_text(snap)}.** Saved as `{snap.checkpoint.with_suffix('')}`. "
    if snap.chosen:
        candidates = ", ".join(f"**{candidate_stem(snap.name, kind)}**" for kind in DETECTOR_KINDS)
        text += (
            f"The **{snap.chosen}** detector ranked first of the three on anomalies injected into held-out normal "
            f"frames and is kept as **{snap.name}**; the candidates ({candidates}) are in the model picker too."
        )
    else:
        text += f"Pick **{snap.name}** in the model picker of the analysis page."
    if snap.verdict:
        text += f"\n\n{snap.verdict[:1].upper()}{snap.verdict[1:]}."
    st.success(text, icon=":material/check_circle:")
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


def _preset(disabled: bool = False) -> str:
    """The autoencoder's input size (a best-of-three run trains one too)."""
    return st.radio(
        "Preset", list(PRESETS), format_func=PRESET_TEXT.get, key="train_preset", disabled=disabled,
        help="A fine-tuned model keeps the input size of the model it starts from.",
    )  # fmt: skip


def _best_settings() -> dict:
    """A best-of-three run's preset and budget, as TrainingRequest's fields: minutes for the whole run, as `train`
    takes them."""
    st.caption(BEST_TEXT)
    preset = _preset()
    minutes = st.number_input(
        "Minutes for the whole run", MIN_BEST_MINUTES, MAX_MINUTES, BEST_MINUTES, 0.5, key="train_best_minutes",
        help="The motion detector and the fusion take their share; the autoencoder trains for the rest.",
    )  # fmt: skip
    return {"preset": preset, "minutes": float(minutes)}


def _autoencoder_settings() -> dict:
    """What an autoencoder's run takes (the model to start from, the preset, the budget), as
    TrainingRequest's fields."""
    models = {str(e.stem): e.label for e in available_models() if e.kind == "autoencoder"}  # fine-tuned: a network
    init = st.selectbox(
        "Start from",
        [None, *models],
        format_func=lambda s: "a new model (from scratch)" if s is None else f"model {models[s]}",
        key="train_init",
        help="Fine-tune an existing model on your clips: it keeps what it learned and adapts in minutes.",
    )
    preset = _preset(disabled=init is not None)
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
        settings = {"best": _best_settings, "autoencoder": _autoencoder_settings}.get(kind, dict)()
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
