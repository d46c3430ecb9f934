"""The scene check's warning and "adapt the model to this camera", on the analysis page.

    scene_notice(clip, model)                  # at the top: the model does not know this scene, and why
    adapt_panel(source, clip, model_stem)      # mark normal frames, fine-tune for minutes, re-analyze

Adapting is `python -m vad_core adapt` run by the server's training runner: the current model is fine-tuned
from its own weights on the marked frames, calibrated on their held-out tail, saved among the user's models,
and the clip is analyzed again with it. An autoencoder can be adapted into a fused detector (`adapt --kind fused`:
a motion detector fitted on the same frames, the two fused by a rule chosen on them); a fused model is adapted
as one.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.models import session_label, session_token
from app.state import Clip, ClipSource
from app.training import ClipFile, JobSnapshot, TrainingRequest, training_runner
from app.views.controls import MODEL_KEY, PICKER_KEY
from app.views.detector_kind import ADAPT_KINDS, ADAPT_NOTE, is_fused, is_motion
from app.views.training_status import LIVE_KEY, job_status
from vad_core import BadInput, Detector
from vad_core.io.frame_ranges import format_ranges, parse_ranges
from vad_core.pipeline.result import Analysis
from vad_core.scoring.scene import FAMILIAR_LIMIT
from vad_core.training.train import default_normal_range

OPEN_KEY = "adapt_open"  # the digest of the clip whose adapt panel the warning's button opened
JOB_KEY = "adapt_job"  # the name of the adapt run this session started
DONE_KEY = "adapt_done"  # the checkpoint this session has switched to already
KIND_KEY = "adapt_kind"  # what adapting an autoencoder makes: an autoencoder or a fused detector


def scene_notice(clip: Clip, model: Detector) -> None:
    """A warning above everything else when the clip is unlike the model's scene, with a button to adapt."""
    check = clip.analysis.scene_check()
    if check is None or check.familiar:
        return
    learned = model.scene.scene if model.scene else "its training footage"
    st.warning(
        f"**This model does not know this scene.** Model `{model.name}` learned {learned}; this clip is unlike it "
        f"(scene score **{check.score:.1f}**: footage of its own scene scores about 1 or less, and above "
        f"{FAMILIAR_LIMIT:g} counts as another scene). "
        "Its anomaly scores are **not meaningful here**: almost everything can look anomalous, or nothing. "
        + (
            ADAPT_NOTE
            if is_motion(model)
            else "Adapt the model to this camera from the clip's own normal frames (about two minutes; the panel "
            "opens below the player)."
        ),
        icon=":material/report:",
    )
    adaptable = not is_motion(model)
    if adaptable and st.button("Adapt the model to this camera", icon=":material/tune:", key="adapt_open_button"):
        st.session_state[OPEN_KEY] = clip.digest


def learned_runs(analysis: Analysis, model: Detector) -> list[tuple[int, int]]:
    """The rows of this analysis that the model was adapted on ("learned as normal"), as inclusive runs."""
    adaptation = model.card.adaptation
    if adaptation is None or adaptation.clip != analysis.name:
        return []
    runs = []
    for start, end in adaptation.ranges or []:
        rows = analysis.rows_in(start, end)
        if rows:
            runs.append((rows[0], rows[-1]))
    return runs


def _use_adapted(snap: JobSnapshot) -> None:
    """A finished adapt run: switch this session to the new model once, which analyzes the clip again."""
    stem = str(snap.checkpoint.with_suffix(""))
    st.success(f"**Adapted.** Saved as `{stem}` and analyzing the clip with it.", icon=":material/check_circle:")
    if st.session_state.get(DONE_KEY) != stem:
        st.session_state[DONE_KEY] = stem
        st.session_state[MODEL_KEY] = stem
        st.session_state.pop(PICKER_KEY, None)  # the sidebar picker follows MODEL_KEY again
        st.session_state.pop(OPEN_KEY, None)
        st.rerun()


def _kind(model: Detector) -> str:
    """What adapting makes: a fused model stays fused; an autoencoder becomes what the user picks (the CLI's default,
    an autoencoder, first)."""
    if is_fused(model):
        st.caption(
            "A fused model is adapted as one: its autoencoder part is fine-tuned, its motion part fitted again on "
            "the same frames, and the rule chosen again."
        )
        return "fused"
    kinds = list(ADAPT_KINDS)
    return str(st.radio("Adapted model", kinds, format_func=ADAPT_KINDS.get, key=KIND_KEY, horizontal=True))


def adapt_panel(source: ClipSource, clip: Clip, model: Detector, model_stem: str) -> None:
    """Mark normal frames (default: the first 30 s, or the first half of a shorter clip), choose minutes, start;
    then the run's live loss and Cancel, and the re-analysis when it ends. None for a motion detector, which
    is fitted afresh rather than fine-tuned (the scene notice says so)."""
    if is_motion(model):
        return
    analysis = clip.analysis
    runner = training_runner()
    job = runner.job
    session = session_token()
    mine = job is not None and job.is_owner(session) and job.request.name == st.session_state.get(JOB_KEY)
    live = mine and not job.snapshot().finished
    frames = analysis.source_end
    opened = st.session_state.get(OPEN_KEY) == clip.digest or live
    with st.expander("Adapt the model to this camera", expanded=opened, icon=":material/tune:"):
        st.markdown(
            "Mark frames of this clip that show **normal** activity. The current model is fine-tuned on them from "
            "its own weights, calibrated on their last quarter (held out), saved among your models, and this clip "
            "is analyzed again with it. The marked frames are drawn on the plot as *learned as normal*."
        )
        kind = _kind(model)
        default = default_normal_range(frames, analysis.fps * analysis.frame_step)
        left, middle, right = st.columns([2, 1, 2])
        text = left.text_input(
            "Normal frames", format_ranges([default]), key=f"adapt_ranges_{clip.digest[:16]}",
            help=f"START:END frame numbers (0 to {frames}), END exclusive, as `adapt --normal` takes them; "
            "separate ranges with commas.",
        )  # fmt: skip
        minutes = middle.number_input("Minutes", 0.5, 30.0, 2.0, 0.5, key="adapt_minutes")
        name = right.text_input(
            "New model name", f"{Path(clip.name).stem[:40]}-adapted", key=f"adapt_name_{clip.digest[:16]}"
        )
        if st.button("Adapt", type="primary", icon=":material/model_training:", disabled=runner.busy()):
            try:
                request = TrainingRequest(
                    name=name.strip(),
                    minutes=float(minutes),
                    clips=(ClipFile(source.name, path=source.path, data=source.data),),
                    init=Path(model_stem),
                    normal_ranges=parse_ranges(text, frames),
                    kind=kind,
                    owner=session,
                )
                runner.start(request)
            except BadInput as err:
                st.error(f"**Cannot adapt.** {err}", icon=":material/error:")
            else:
                st.session_state[JOB_KEY] = request.name
                st.rerun()
        current = runner.job
        if current is not None and runner.busy() and not mine:
            whose = "yours" if current.is_owner(session) else f"started by {session_label(current.request.owner)}"
            st.info(f"A training run is in progress on this server ({whose}); adapt when it ends.")
        if mine:
            st.session_state[LIVE_KEY] = live
            st.fragment(job_status, run_every=1.0 if live else None)(on_finished=_use_adapted)
