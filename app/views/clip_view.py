"""One analyzed clip on a page: metrics, the player with its synchronized plot, segments, exports and what the
scores mean. The analysis page, the inject page, a live run's recorded part and a batch result all show their
clip through show_clip, so they look and act the same.

    show_clip(clip, model, *sample_truth(clip))       # a clip of a bundled sample gets its ground truth
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from app.components.player import PlayerView, finite_list, player
from app.state import Clip, sample_labels_for
from app.views.adapt import learned_runs
from app.views.controls import detection_controls, display_controls
from app.views.detector_kind import FUSED_RAW_ERROR, RAW_ERROR, is_fused, is_motion
from app.views.exports import export_buttons
from app.views.plot import score_figure
from app.views.segments import SEEK_KEY, segment_table
from vad_core import Analysis, Detector
from vad_core.io.labels import label_runs
from vad_core.pipeline.render import HEAT_RANGE, colormap_lut
from vad_core.scoring.health import HEALTH_LABELS
from vad_core.scoring.metrics import auc
from vad_core.scoring.scores import frame_labels_from_segments

KIND_TEXT = {
    "motion": "the *motion* error (the error of the reconstructed frame difference)",
    "appearance": "the *appearance* error (the error of the reconstructed frame itself)",
    "missed_motion": "the *motion* it missed (the input's frame-difference energy that the reconstruction did "
    "not reproduce)",
}


def _explanation(model: Detector) -> str:
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
    raw = (
        RAW_ERROR
        if is_motion(model)
        else FUSED_RAW_ERROR.format(rule=model.card.model.name)
        if is_fused(model)
        else f"how badly the model reconstructs frame t. This model scores \
{KIND_TEXT[cfg.error_map]}, {reduce}"
    )
    return f"""
- **Raw error e(t)**: {raw}, smoothed over time (σ = {cfg.smooth_sigma:g} frames).
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


def sample_truth(clip: Clip) -> tuple[np.ndarray | None, str]:
    """(frame labels, where they came from) when the clip's bytes are a bundled sample's, else (None, "")."""
    known = sample_labels_for(clip)
    if known:
        return known[1], f"UCSD Ped2 ground truth of {known[0]}"
    return None, ""


def _metrics(analysis: Analysis, segments: int, flags: np.ndarray, truth: np.ndarray | None, truth_note: str) -> None:
    peak = int(np.nanargmax(analysis.score))
    frame_auc = auc(analysis.score, truth) if truth is not None else None
    cols = st.columns(5)
    cols[0].metric("Frames", analysis.frame_count, help=f"{analysis.fps:g} frames per second of video")
    cols[1].metric("Anomalous segments", segments)
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


def show_clip(
    clip: Clip,
    model: Detector,
    truth: np.ndarray | None = None,
    truth_note: str = "",
    compared: Callable[[], tuple[str, Analysis] | None] | None = None,
) -> None:
    """Metrics, the player with its plot, segments, exports and what the scores mean, for one analyzed clip.

    The detection and display controls go in the sidebar; truth (frame labels) adds the band and the AUC.
    compared: the same frames analyzed by a second model (name, analysis), for the comparison curve; asked for
    once the sidebar controls are drawn (it may wait for a heavy slot, with its own progress bar)."""
    analysis = clip.analysis
    if st.session_state.get("clip_key") != clip.key:  # a new clip starts at frame 0, not at an old seek
        st.session_state["clip_key"] = clip.key
        st.session_state.pop(SEEK_KEY, None)
    detection = detection_controls(analysis)
    mode, style = display_controls(analysis, redrawn=not is_motion(model))
    rule = detection.rule(analysis)
    segments = analysis.segments(rule)
    flags = frame_labels_from_segments(segments, analysis.frame_count)
    other = compared() if compared is not None else None

    _health_notice(analysis)
    _metrics(analysis, len(segments), flags, truth, truth_note)
    player(
        PlayerView(
            media=clip.media,
            figure=score_figure(
                analysis,
                detection.curve,
                rule.threshold,
                segments,
                label_runs(truth) if truth is not None else None,
                compare=other,
                learned_runs=learned_runs(analysis, model),
                health=analysis.health_segments(),
            ),
            score=finite_list(analysis.score),
            regularity=finite_list(analysis.regularity),
            flags=flags.tolist(),
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
