"""Opening a clip for a page: the chosen model, the analysis in one of the server's heavy slots with a progress
bar, sub-range controls for a clip over the app's limit, a second model's analysis to compare with, and a fused
model's autoencoder part alone on an opened clip's frames.

    model, compare = sidebar_models()                 # the sidebar's pickers
    clip = open_with_progress(source, model)          # cached per (content, model, selection)
    show_clip(clip, model, compared=lambda: compared_analysis(source, clip, compare))
    taught = autoencoder_part_clip(clip, model)       # the lab teaches a fused model's score with its autoencoder

Shared by the pages that analyze a clip (analysis, lab, inject); the pages never import each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.models import ModelEntry
from app.state import (
    Clip,
    ClipSource,
    app_limits,
    clip_store,
    load_model,
    model_fingerprint,
    open_clip,
    store_analysis,
)
from app.views.controls import chosen_model_stem, model_controls
from app.views.model_card import model_card_panel
from app.work_queue import heavy_slot, session_id
from app.zones import with_app_zones
from vad_core import Analysis, BadInput, Detector
from vad_core.io.limits import FrameSelection, OverLimit, suggest_step
from vad_core.model.fused import FusedModel
from vad_core.pipeline.explain import autoencoder_part


def chosen_model() -> Detector:
    """The model picked in the sidebar (shared with the lab page), loaded once per process."""
    return load_or_stop(chosen_model_stem())


def sidebar_models() -> tuple[Detector, ModelEntry | None]:
    """The sidebar's model pickers: the chosen model, loaded, and the one to compare with, if any."""
    choice = model_controls()
    model = load_or_stop(str(choice.model.stem))
    model_card_panel(model)
    return model, choice.compare


def load_or_stop(stem: str) -> Detector:
    """The model at stem, with the app's zones for it (app.zones), or an error and the page stops."""
    try:
        return with_app_zones(load_model(stem))
    except BadInput as err:
        st.error(
            f"**No usable model.** {err}.\n\nTrain one on the *Train your scene* page or with `python -m vad_core "
            "train --data ../shared/data/ucsd_ped2 --out assets/models/ped2`, or point the `VAD_CHECKPOINT` "
            "environment variable at a checkpoint stem.",
            icon=":material/error:",
        )
        st.stop()


@dataclass(frozen=True)
class ProgressBar:
    """An analysis' progress bar: per-frame progress with an ETA, the 'preparing the player' notice, and its
    placeholder (slot), where a queue notice shows while the analysis waits for a heavy slot."""

    progress: Callable[[int, int], None]
    prepare: Callable[[], None]
    slot: DeltaGenerator

    def clear(self) -> None:
        self.slot.empty()


def _progress_bar(name: str) -> ProgressBar:
    slot = st.empty()
    bar = slot.progress(0.0, text=f"Analyzing {name}…")
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        if total and 0 < done <= total:  # past the total, the container's frame count was wrong: no estimate
            eta = elapsed / done * max(total - done, 0)
            bar.progress(
                min(done / total, 1.0), text=f"Analyzing {name}: {done} / {total} frames · about {eta:.0f} s left"
            )
        else:
            bar.progress(0.0, text=f"Analyzing {name}: {done} frames")

    def prepare() -> None:
        bar.progress(1.0, text="Preparing the player…")

    return ProgressBar(progress, prepare, slot)


def _selection_controls(source: ClipSource, over: OverLimit) -> FrameSelection:
    """Sidebar inputs for a sub-range and a stride, defaulting to every k-th frame so that the clip fits."""
    limit = app_limits().max_frames or 1
    total = over.total or 0
    key = source.digest[:16]  # fresh widgets, and fresh defaults, for every clip
    st.sidebar.subheader("Part of the clip to analyze", anchor=False)
    start = st.sidebar.number_input("First frame", 0, max(total - 1, 0) if total else None, 0, key=f"start_{key}")
    end = st.sidebar.number_input(
        "Stop before frame", 1, total or None, total or limit, key=f"end_{key}", help="Frames from First to here."
    )
    step = st.sidebar.number_input(
        "Every k-th frame", 1, None, suggest_step(total, limit) if total else 1, key=f"step_{key}"
    )
    try:
        return FrameSelection(int(start), int(end), int(step))
    except BadInput as err:
        st.error(f"**This video cannot be analyzed.** {err}", icon=":material/error:")
        st.stop()


def open_with_progress(source: ClipSource, model: Detector) -> Clip:
    """The analyzed clip; a clip over the app's frame limit gets sub-range and stride controls instead of failing."""
    selection = None
    over = st.session_state.get("over_limit", {}).get(source.digest)
    while True:
        if over is not None:
            st.warning(f"{over}. Choose the part to analyze in the sidebar.", icon=":material/timer:")
            selection = _selection_controls(source, over)
        bar = _progress_bar(source.name)
        try:
            clip = _open_queued(source, model, bar, selection, pin=True)
        except OverLimit as err:
            bar.clear()
            if over is None:  # first time: remember it for this clip and offer the controls
                over = err
                st.session_state.setdefault("over_limit", {})[source.digest] = err
                continue
            st.error(f"**This video cannot be analyzed.** {err}", icon=":material/error:")
            st.stop()
        except BadInput as err:
            bar.clear()
            st.error(f"**This video cannot be analyzed.** {err}", icon=":material/error:")
            st.stop()
        bar.clear()
        clip_store().pin(session_id(), clip.key)  # kept, with its player media, while this session shows it
        for warning in clip.analysis.warnings:
            st.warning(warning, icon=":material/warning:")
        return clip


def _open_queued(
    source: ClipSource,
    model: Detector,
    bar: ProgressBar,
    selection: FrameSelection | None,
    pin: bool = False,
) -> Clip:
    """open_clip, in one of the server's heavy slots (app.work_queue) unless the clip is already stored.

    bar: cleared when the analysis does not finish (an error, a left queue). pin: the clip is this session's
    shown one, pinned as soon as it is found."""
    store = clip_store()
    recipe = (source.digest, source.name, model_fingerprint(model), selection or FrameSelection(), app_limits())
    if store.known(recipe, session_id() if pin else None) is not None:
        return open_clip(source, model, bar.progress, bar.prepare, selection=selection)
    opened = partial(open_clip, source, model, bar.progress, bar.prepare, selection=selection)
    clip = _in_slot(f"analysis of {source.name}", bar, opened)
    store.remember(recipe, clip.key)
    return clip


def _in_slot(label: str, bar: ProgressBar, work: Callable[[], Clip]) -> Clip:
    """work() in one of the server's heavy slots (app.work_queue), its queue notice in the bar's place; the bar is
    cleared when it does not finish (an error, a left queue)."""
    try:
        with heavy_slot(label, place=bar.slot):
            return work()
    except BaseException:
        bar.clear()
        raise


def compared_analysis(source: ClipSource, clip: Clip, entry: ModelEntry | None) -> tuple[str, Analysis] | None:
    """The same frames analyzed by a second model, for the comparison curve (cached like any analysis)."""
    if entry is None:
        return None
    other = load_or_stop(str(entry.stem))
    bar = _progress_bar(f"{source.name} with {other.name}")
    try:
        compared = _open_queued(source, other, bar, clip.selection)
    except BadInput as err:
        st.warning(f"Comparison with {other.name} skipped: {err}", icon=":material/warning:")
        return None
    finally:
        bar.clear()
    return other.name, compared.analysis


def autoencoder_part_clip(clip: Clip, model: FusedModel) -> Clip:
    """The clip's frames scored by the fused model's autoencoder part alone (vad_core.pipeline.explain's
    autoencoder_part), for the lab to teach the part's steps: stored beside the clip like any analysis, and made in
    a heavy slot with a progress bar. Nothing is decoded again: the part reads the frames the clip keeps."""
    key = f"{clip.key}-{model_fingerprint(model.autoencoder)}"  # the clip's key holds the fused model's zones
    store = clip_store()
    found = store.get(key)
    if found is not None:
        return found
    bar = _progress_bar(f"{clip.name} with the autoencoder part")

    def analyze_part() -> Clip:
        with store.opening(key):  # sessions asking at once: one analysis, the rest find it stored
            stored = store.get(key)
            if stored is not None:
                return stored
            analysis = autoencoder_part(clip.frames, model, clip.analysis, bar.progress)
            bar.prepare()
            return store_analysis(clip.name, analysis, clip.frames, clip.digest, key)

    part = _in_slot(f"analysis of {clip.name} with the autoencoder part", bar, analyze_part)
    bar.clear()
    return part
