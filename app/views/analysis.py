"""The analysis page: open a clip, watch it with its error heatmap and score plot in sync, tune, export.

    st.navigation([st.Page(analysis.render, title="Analyze a clip")]).run()

Every number drawn here comes from one vad_core Analysis; this module only lays out and calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.components.player import PlayerView, finite_list, player
from app.models import ModelEntry
from app.state import (
    Clip,
    ClipSource,
    app_limits,
    clip_store,
    load_model,
    model_fingerprint,
    open_clip,
    sample_labels_for,
    sample_paths,
)
from app.views.adapt import adapt_panel, learned_runs, scene_notice
from app.views.controls import (
    VideoChoice,
    chosen_model_stem,
    detection_controls,
    display_controls,
    model_controls,
    video_controls,
)
from app.views.exports import export_buttons
from app.views.plot import score_figure
from app.views.segments import SEEK_KEY, segment_table
from app.work_queue import heavy_slot, session_id
from vad_core import Analysis, BadInput, LoadedModel
from vad_core.io.labels import label_runs, parse_labels
from vad_core.io.limits import FrameSelection, OverLimit, suggest_step
from vad_core.pipeline.render import HEAT_RANGE, colormap_lut
from vad_core.scoring.health import HEALTH_LABELS
from vad_core.scoring.metrics import auc
from vad_core.scoring.scores import Segment, frame_labels_from_segments

INTRO = (
    "An autoencoder learned what normal footage of this scene looks like; where it cannot reconstruct the video, "
    "the error is high. The heatmap shows the error per pixel, the plot per frame: a **calibrated score** "
    "c(t) above 1 is beyond anything normal footage produced."
)
KIND_TEXT = {
    "motion": "the *motion* error (the error of the reconstructed frame difference)",
    "appearance": "the *appearance* error (the error of the reconstructed frame itself)",
    "missed_motion": "the *motion* it missed (the input's frame-difference energy that the reconstruction did "
    "not reproduce)",
}


def _explanation(model: LoadedModel) -> str:
    """What the scores mean, in the terms of this model's scoring and calibration."""
    cfg = model.scoring
    patches = f"{cfg.patch}×{cfg.patch} patch means"
    reduce = {
        "sum": "summed over the frame, as in the paper",
        "local_max": f"taken as the largest of the {patches}, so a small object is not diluted by a large frame",
        "local_top": f"taken as the mean of the top {100 * cfg.top_fraction:g} % of the {patches}: local enough "
        "for a small object, steadier than a single patch",
    }[cfg.reduce]
    quantile = 100 * model.calibration.quantile
    return f"""
- **Raw error e(t)**: how badly the model reconstructs frame t. This model scores {KIND_TEXT[cfg.error_map]},
  {reduce}, smoothed over time (σ = {cfg.smooth_sigma:g} frames).
- **Calibrated score c(t) = e(t) / τ**: τ is the {quantile:g}th percentile of e(t) on normal frames the model never
  trained on. c(t) > 1 means "beyond anything normal footage produced", and it means the same in every clip.
- **Regularity s(t) = 1 − (e(t) − min e) / max e**: the paper's score, scaled within one clip. It is good for
  teaching, but it always finds a least regular frame, even in an all-normal clip.
- **Segments** are runs of frames above the threshold: runs closer than the merge gap are joined, then runs
  shorter than the minimum duration are dropped.
- **Boxes** outline connected regions whose local (patch-mean) error is above the calibrated pixel
  threshold τ<sub>px</sub>: the anomaly candidates inside a frame. The heatmap colour scale runs from 0
  to {HEAT_RANGE:g} τ<sub>px</sub>.
"""


def chosen_model() -> LoadedModel:
    """The model picked in the sidebar (shared with the lab page), loaded once per process."""
    return load_or_stop(chosen_model_stem())


def sidebar_models() -> tuple[LoadedModel, ModelEntry | None]:
    """The sidebar's model pickers: the chosen model, loaded, and the one to compare with, if any."""
    choice = model_controls()
    return load_or_stop(str(choice.model.stem)), choice.compare


def load_or_stop(stem: str) -> LoadedModel:
    try:
        return load_model(stem)
    except BadInput as err:
        st.error(
            f"**No usable model.** {err}.\n\nTrain one on the *Train your scene* page or with `python -m vad_core "
            "train --data ../shared/data/ucsd_ped2 --out assets/models/ped2`, or point the `VAD_CHECKPOINT` "
            "environment variable at a checkpoint stem.",
            icon=":material/error:",
        )
        st.stop()


def _source(choice: VideoChoice) -> ClipSource:
    if choice.upload is not None:
        return ClipSource.upload(choice.upload.name, choice.upload.getvalue())
    return ClipSource.sample(next(p for p in sample_paths() if p.name == choice.sample))


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


def open_with_progress(source: ClipSource, model: LoadedModel) -> Clip:
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
    model: LoadedModel,
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
    try:
        with heavy_slot(f"analysis of {source.name}", place=bar.slot):
            clip = open_clip(source, model, bar.progress, bar.prepare, selection=selection)
    except BaseException:
        bar.clear()
        raise
    store.remember(recipe, clip.key)
    return clip


def _compared(source: ClipSource, clip: Clip, entry: ModelEntry | None) -> tuple[str, Analysis] | None:
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


def _truth(clip: Clip, choice: VideoChoice) -> tuple[np.ndarray | None, str]:
    """Frame labels and where they came from: the user's labels file, else the bundled sample's."""
    if choice.labels is not None:
        try:
            labels = parse_labels(
                choice.labels.getvalue(), choice.labels.name, Path(clip.name).stem, clip.analysis.frame_count
            )
            return labels, f"labels from {choice.labels.name}"
        except BadInput as err:
            st.sidebar.error(f"Labels not used: {err}")
    known = sample_labels_for(clip)
    if known:
        return known[1], f"UCSD Ped2 ground truth of {known[0]}"
    return None, ""


def _metrics(clip: Clip, segments: list[Segment], truth: np.ndarray | None, truth_note: str) -> None:
    analysis = clip.analysis
    flags = frame_labels_from_segments(segments, analysis.frame_count)
    peak = int(np.nanargmax(analysis.score))
    frame_auc = auc(analysis.score, truth) if truth is not None else None
    cols = st.columns(5)
    cols[0].metric("Frames", analysis.frame_count, help=f"{analysis.fps:g} frames per second of video")
    cols[1].metric("Anomalous segments", len(segments))
    cols[2].metric("Flagged frames", f"{100 * flags.mean():.0f} %")
    cols[3].metric("Peak c(t)", f"{analysis.score[peak]:.2f}", help=f"at frame {peak}")
    cols[4].metric(
        "Frame AUC",
        f"{frame_auc:.3f}" if frame_auc is not None else "–",
        help=f"ROC AUC of c(t) against the {truth_note}" if truth is not None else "Needs ground-truth labels.",
    )


def _health_notice(analysis: Analysis) -> None:
    """Camera faults, said before the metrics: they are not anomalies, and the score means nothing there."""
    faults = analysis.health_segments()
    if faults:
        listed = "; ".join(f"{HEALTH_LABELS[f.kind]} at frames {f.start}-{f.end}" for f in faults)
        st.warning(
            f"**Camera health:** {listed}. These are camera faults, not anomalies: the anomaly score is not "
            "meaningful while the camera is unhealthy.",
            icon=":material/videocam_off:",
        )


def render() -> None:
    st.title("Video anomaly detection", anchor=False)
    st.caption(INTRO)
    model, compare = sidebar_models()
    choice = video_controls()
    source = _source(choice)
    clip = open_with_progress(source, model)
    scene_notice(clip, model)
    truth, truth_note = _truth(clip, choice)
    show_clip(source, clip, model, truth, truth_note, compare)
    adapt_panel(source, clip, chosen_model_stem())  # below the player: the title, player and plot fit the screen


def show_clip(
    source: ClipSource,
    clip: Clip,
    model: LoadedModel,
    truth: np.ndarray | None,
    truth_note: str,
    compare: ModelEntry | None = None,
) -> None:
    """Metrics, the player with its plot, segments, exports and what the scores mean, for one analyzed clip.

    The detection and display controls go in the sidebar; truth (frame labels) adds the band and the AUC."""
    analysis = clip.analysis
    if st.session_state.get("clip_key") != clip.key:  # a new clip starts at frame 0, not at an old seek
        st.session_state["clip_key"] = clip.key
        st.session_state.pop(SEEK_KEY, None)
    detection = detection_controls(analysis)
    mode, style = display_controls(analysis)
    rule = detection.rule(analysis)
    segments = analysis.segments(rule)
    compared = _compared(source, clip, compare)

    _health_notice(analysis)
    _metrics(clip, segments, truth, truth_note)
    player(
        PlayerView(
            media=clip.media,
            figure=score_figure(
                analysis,
                detection.curve,
                rule.threshold,
                segments,
                label_runs(truth) if truth is not None else None,
                compare=compared,
                learned_runs=learned_runs(analysis, model),
                health=analysis.health_segments(),
            ),
            score=finite_list(analysis.score),
            regularity=finite_list(analysis.regularity),
            flags=frame_labels_from_segments(segments, analysis.frame_count).tolist(),
            truth=truth.tolist() if truth is not None else None,
            mode=mode,
            kind=style.kind or analysis.scoring.kind,
            lut=colormap_lut(style.colormap).ravel().tolist(),
            opacity=style.opacity,
            boxes=style.boxes,
            seek=st.session_state.get(SEEK_KEY),
            latent=analysis.latent_trajectory(),
        )
    )
    st.caption(
        f"{clip.name} · model `{model.name}` on {model.device.type} · analyzed {analysis.frame_count} frames in "
        f"{analysis.seconds:.1f} s ({analysis.frames_per_second:.0f} frames/s)"
        + (f" · {truth_note}" if truth_note else "")
    )
    left, right = st.columns([3, 1], gap="large")
    with left:
        st.subheader("Anomalous segments", anchor=False)
        segment_table(clip, segments, style, analysis.health_segments())
    with right:
        st.subheader("Export", anchor=False)
        export_buttons(clip, rule, style)
    with st.expander("What do the scores mean?"):
        st.markdown(_explanation(model), unsafe_allow_html=True)
