"""The Reconstruction lab: one frame as input | reconstruction | error, and how its scores are built from that error.

    st.navigation([..., st.Page(lab.render, title="Reconstruction lab", url_path="lab")]).run()

It shows the clip open on the analysis page (or analyzes the default sample through the same cache). A fused model
is taught with its autoencoder part, run alone on the same frames (app.views.clip_open.autoencoder_part_clip): the
part's steps, then its motion part's flow and the rule that joins the two. Every number comes from
vad_core.pipeline.explain; this module only lays out.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.state import Clip, ClipSource, clip_store, sample_paths
from app.views.clip_open import autoencoder_part_clip, chosen_model, open_with_progress
from app.views.controls import DEFAULT_SAMPLE
from app.views.detector_kind import FUSED_LAB_NOTE, LAB_NOTE, is_fused, is_motion
from app.views.lab_fused import fusion_steps
from app.views.lab_motion import motion_steps
from app.views.plot import CURVE_RGB, GRID_RGB, SEGMENT_FILL, THRESHOLD_RGB, dark_layout
from vad_core import Detector
from vad_core.pipeline.explain import FrameSteps, explain_frame, heat_rgb
from vad_core.scoring.scores import ERROR_KINDS, RECONSTRUCTION_KINDS

SLIDER_KEY = "lab_frame_slider"
NUMBER_KEY = "lab_frame_number"
FRAME_KEY = "lab_frame"  # survives a visit to another page, which drops the widgets' own state
CLIP_KEY = "lab_clip"
KIND_KEY = "lab_kind"
INTRO = (
    "The model reconstructs every frame from the frames around it; what it cannot reconstruct is the error. "
    "Pick a frame to see what the model saw, what it rebuilt, where it failed, and how that failure becomes "
    "the numbers on the analysis page."
)
KIND_LATEX = {
    "appearance": r"E_t(p) = \big(x_t(p) - r_t(p)\big)^2",
    "motion": r"E_t(p) = \big((x_t(p) - x_{t-1}(p)) - (r_t(p) - r_{t-1}(p))\big)^2",
    "missed_motion": r"E_t(p) = \max\big((x_t(p) - x_{t-1}(p))^2 - (r_t(p) - r_{t-1}(p))^2,\ 0\big)",
}
KIND_WORDS = {  # what the model scores, by error map
    "appearance": "the *appearance* error, the squared error of the reconstructed frame",
    "motion": "the *motion* error, the squared error of the reconstructed frame difference: static texture the "
    "model renders badly cancels out, moving things do not",
    "missed_motion": "the *motion it missed*, the input's frame-difference energy that the reconstruction did "
    "not reproduce. Static texture cancels out, and so does shimmer the model invents where nothing moves "
    "(calibration chose this form for this scene)",
}


def _num(value: float) -> str:
    """Four significant digits, without exponent noise for ordinary magnitudes."""
    return f"{value:.4g}" if 1e-3 <= abs(value) < 1e5 or value == 0 else f"{value:.3e}"


def _current_clip(model: Detector) -> Clip:
    """The analysis page's clip when it is still cached, else the default sample, analyzed the same way."""
    key = st.session_state.get("clip_key")
    clip = clip_store().get(key) if key else None
    if clip is not None:
        return clip
    wanted = st.query_params.get("sample", DEFAULT_SAMPLE)
    paths = sample_paths()
    path = next((p for p in paths if p.name == wanted), None) or next(p for p in paths if p.name == DEFAULT_SAMPLE)
    if key:
        st.info(
            "The clip from the analysis page is no longer cached; showing a bundled sample.", icon=":material/info:"
        )
    clip = open_with_progress(ClipSource.sample(path), model)
    st.session_state["clip_key"] = clip.key  # the analysis page keeps its own choice; this only remembers the clip
    return clip


def _sync(source: str, target: str) -> None:
    st.session_state[target] = st.session_state[source]
    st.session_state[FRAME_KEY] = st.session_state[source]


def _frame_controls(clip: Clip) -> tuple[int, str]:
    """(frame, error kind shown): a slider and a number input kept in step, and the kind switch."""
    analysis = clip.analysis
    last = analysis.frame_count - 1
    if st.session_state.get(CLIP_KEY) != clip.key:  # a new clip opens on its highest score
        st.session_state[CLIP_KEY] = clip.key
        st.session_state[FRAME_KEY] = int(np.nanargmax(analysis.score))
    frame = min(int(st.session_state.get(FRAME_KEY, 0)), last)
    for key in (SLIDER_KEY, NUMBER_KEY):
        if key not in st.session_state:
            st.session_state[key] = frame
    kinds = [kind for kind in ERROR_KINDS if kind in analysis.maps]  # a motion detector has its one map
    if st.session_state.get(KIND_KEY) not in kinds:
        st.session_state[KIND_KEY] = analysis.scoring.kind
    left, middle, right = st.columns([6, 1.4, 2.4], vertical_alignment="bottom")
    if last > 0:
        left.slider("Frame t", 0, last, key=SLIDER_KEY, on_change=_sync, args=(SLIDER_KEY, NUMBER_KEY))
    middle.number_input("Frame", 0, last, step=1, key=NUMBER_KEY, on_change=_sync, args=(NUMBER_KEY, SLIDER_KEY))
    kind = right.radio(
        "Error shown",
        kinds,
        key=KIND_KEY,
        horizontal=True,
        help="Only the picture changes: the scores below use the model's own kind.",
    )
    return int(st.session_state[NUMBER_KEY]), str(kind)


def _images(clip: Clip, t: int, kind: str, steps: FrameSteps, redrawn: bool) -> None:
    """Input | reconstruction | error map, and the frame's three scores beside them; without redrawn (a motion
    detector, which reconstructs nothing) no middle picture."""
    analysis = clip.analysis
    size = analysis.inputs.shape[1]
    cols = st.columns([1, 1, 1, 0.72] if redrawn else [1, 1, 0.72], gap="small")
    cols[0].image(analysis.inputs[t], caption=f"input x_t, {size}×{size} as the model sees it", width="stretch")
    if redrawn:
        cols[1].image(analysis.recons[t], caption="reconstruction r_t", width="stretch")
    cols[-2].image(
        heat_rgb(analysis.maps[kind][t], analysis.pixel_tau),
        caption=f"error E_t ({kind}), 0 … 4 τ_px",
        width="stretch",
    )
    with cols[-1]:
        st.metric("e(t) frame error", _num(steps.error), help="smoothed over time; see step 4")
        st.metric("s(t) regularity", f"{steps.regularity:.3f}", help="1 is the most regular frame of the clip")
        st.metric("c(t) calibrated score", f"{steps.score:.3f}", help="above 1: beyond normal footage")
        seg = steps.segment
        st.metric(
            "Anomalous segment",
            f"{seg.start}–{seg.end}" if seg else "none",
            help=f"the run of frames holding t with c(t) > {steps.threshold:g}, after merging gaps and dropping "
            "short runs",
        )


def _error_chart(clip: Clip, t: int, threshold: float) -> go.Figure:
    """e(t) over the clip (raw and smoothed), the level c = 1 (e = τ), anomalous segments, and frame t."""
    analysis = clip.analysis
    frames = np.arange(analysis.frame_count)
    tau = analysis.tau * threshold
    figure = go.Figure(
        [
            go.Scatter(x=frames, y=analysis.raw_error(), mode="lines", name="before smoothing",
                       line={"color": "rgba(250,250,250,0.35)", "width": 1}),
            go.Scatter(x=frames, y=analysis.error, mode="lines", name="e(t)", line={"color": CURVE_RGB, "width": 2}),
            go.Scatter(x=[t], y=[analysis.error[t]], mode="markers", name=f"frame {t}",
                       marker={"color": "#ffffff", "size": 10, "line": {"color": CURVE_RGB, "width": 2}}),
        ]
    )  # fmt: skip
    for seg in analysis.segments():
        figure.add_vrect(x0=seg.start - 0.5, x1=seg.end + 0.5, fillcolor=SEGMENT_FILL, line_width=0, layer="below")
    figure.add_hline(y=tau, line={"color": THRESHOLD_RGB, "dash": "dash", "width": 1.5})
    figure.add_vline(x=t, line={"color": "rgba(255,255,255,0.6)", "width": 1})
    figure.update_layout(
        **dark_layout(200, {"l": 48, "r": 8, "t": 26, "b": 34}),
        xaxis={"title": {"text": "frame", "standoff": 4}, "gridcolor": GRID_RGB, "zeroline": False},
        yaxis={"title": {"text": "e(t)"}, "gridcolor": GRID_RGB, "zeroline": False, "rangemode": "tozero"},
        annotations=[{"text": "e = τ (c = 1)", "x": 0, "xref": "paper", "y": tau, "yanchor": "bottom",
                      "xanchor": "left", "showarrow": False, "font": {"color": THRESHOLD_RGB, "size": 11}}],
    )  # fmt: skip
    return figure


def _reduction_latex(steps: FrameSteps) -> str:
    raw = _num(steps.raw)
    if steps.reduce == "sum":
        return rf"e_{{raw}}(t) = S_t = \sum_p E_t(p) = {raw}"
    if steps.reduce == "local_max":
        return rf"e_{{raw}}(t) = \max_p \bar E_t(p) = {raw}"
    return (
        rf"e_{{raw}}(t) = \frac{{1}}{{k}} \sum_{{p \in \mathrm{{top}}_k}} \bar E_t(p), \quad "
        rf"k = {steps.top_fraction:g} \times {steps.pixels} = {steps.top_count} \quad \Rightarrow \quad "
        rf"e_{{raw}}(t) = {raw}"
    )


def _variants_table(steps: FrameSteps) -> str:
    """Every kind × reduction of this frame as a markdown table; the model's own one in bold."""
    reductions = ("sum", "local_max", "local_top")
    rows = ["| error | " + " | ".join(reductions) + " |", "|---|" + "---:|" * len(reductions)]
    for kind in RECONSTRUCTION_KINDS:  # an autoencoder's maps (the steps of a fused or motion score are their own)
        cells = []
        for reduce in reductions:
            text = _num(steps.variants[f"{kind}_{reduce}"])
            cells.append(f"**{text}** ◀" if (kind, reduce) == (steps.kind, steps.reduce) else text)
        rows.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _steps(clip: Clip, model: Detector, steps: FrameSteps, part: bool = False) -> None:
    """The six steps from frame t's error map to its segment; part: the model is a fused model's autoencoder part."""
    analysis = clip.analysis
    t = steps.frame
    whose = "the autoencoder part's" if part else "the"
    st.subheader(f"How {whose} numbers of frame {t} are built", anchor=False)
    text, picture = st.columns([3, 1], gap="large")
    with text:
        form = analysis.scoring.error_map
        st.markdown(f"**1 · Error map.** This model scores {KIND_WORDS[form]}:")
        st.latex(KIND_LATEX[form])
        st.latex(
            rf"S_t = \sum_p E_t(p) = {_num(steps.reductions['sum'])}, \quad \max_p E_t(p) = {_num(steps.map_max)}"
            rf"\quad ({steps.pixels} \text{{ pixels}})"
        )
        st.caption(
            "S_t, the frame-wide sum, is the paper's frame error."
            + (
                " Frame 0 has no previous frame: its motion map is frame 1's."
                if t == 0 and steps.kind == "motion"
                else ""
            )
        )
        st.markdown(
            f"**2 · Patch means.** Each pixel's error is averaged over the {steps.patch}×{steps.patch} patch around "
            "it (mirrored at the border), so a small object is not diluted by a large frame:"
        )
        st.latex(
            rf"\bar E_t(p) = \frac{{1}}{{{steps.patch}^2}} \sum_{{q \in N_{{{steps.patch}}}(p)}} E_t(q), "
            rf"\quad \max_p \bar E_t(p) = {_num(steps.reductions['local_max'])}"
        )
    with picture:
        shown = heat_rgb(steps.local_map, analysis.tau / 2)
        dimmed = np.where(steps.top_mask[..., None], shown, shown // 3) if steps.reduce == "local_top" else shown
        note = f"; the top {100 * steps.top_fraction:g} % bright" if steps.reduce == "local_top" else ""
        st.image(dimmed, caption=f"patch means Ē_t, 0 … 2τ{note}", width="stretch")

    st.markdown(
        {
            "sum": "**3 · Reduction.** The model sums the map over the frame, as in the paper:",
            "local_max": "**3 · Reduction.** The model takes the largest patch mean:",
            "local_top": f"**3 · Reduction.** The model averages the top {100 * steps.top_fraction:g} % of the "
            "patch means: local enough for a small object, steadier than a single patch:",
        }[steps.reduce]
    )
    st.latex(_reduction_latex(steps))
    with st.expander("Every error kind and reduction of this frame (the model's own in bold)"):
        st.markdown(_variants_table(steps))

    st.markdown(
        f"**4 · Smoothing over time.** A Gaussian of σ = {steps.smooth_sigma:g} frames over its neighbours "
        f"t−{steps.radius} … t+{steps.radius} (the first and last frames repeat past the clip's ends):"
    )
    st.latex(
        rf"e(t) = \sum_{{k=-{steps.radius}}}^{{{steps.radius}}} w_k\, e_{{raw}}(t+k), \quad "
        rf"w_k \propto e^{{-k^2 / 2\sigma^2}} \quad \Rightarrow \quad "
        rf"e_{{raw}}(t) = {_num(steps.raw)} \;\to\; e(t) = {_num(steps.error)}"
    )

    st.markdown("**5 · Regularity**, the paper's score, scaled within this clip (min and max of e over its frames):")
    st.latex(
        rf"s(t) = 1 - \frac{{e(t) - \min e}}{{\max e}} = 1 - \frac{{{_num(steps.error)} - {_num(steps.error_min)}}}"
        rf"{{{_num(steps.error_max)}}} = {steps.regularity:.4f}"
    )

    quantile = 100 * model.calibration.quantile
    st.markdown(
        f"**6 · Calibrated score.** τ is the {quantile:g}th percentile of e on held-out normal frames "
        "(stored with the model), so c(t) means the same in every clip:"
    )
    st.latex(rf"c(t) = \frac{{e(t)}}{{\tau}} = \frac{{{_num(steps.error)}}}{{{_num(steps.tau)}}} = {steps.score:.4f}")
    verdict = "above" if steps.score > steps.threshold else "not above"
    seg = steps.segment
    where = (
        f"it lies in the anomalous segment of frames {seg.start}–{seg.end} (peak c = {seg.peak:.2f} at frame "
        f"{seg.peak_frame})"
        if seg
        else "it lies in no anomalous segment"
    )
    rule = analysis.rule
    st.markdown(
        f"c({t}) is **{verdict} {steps.threshold:g}**, and at threshold {steps.threshold:g} {where}. Segments are "
        f"runs above the threshold with gaps of up to {rule.merge_gap} frames merged and runs shorter than "
        f"{rule.min_duration} frames dropped, so a frame can be in a segment with c ≤ 1, or outside one with c > 1."
    )


def _taught(clip: Clip, model: Detector) -> tuple[Clip, Detector]:
    """The clip and model the reconstruction steps teach with: a fused model's autoencoder part alone on the same
    frames (its scores are the part's own), else the model itself."""
    if is_fused(model):
        return autoencoder_part_clip(clip, model), model.autoencoder
    return clip, model


def render() -> None:
    st.title("Reconstruction lab", anchor=False)
    st.caption(INTRO)
    model = chosen_model()
    clip = _current_clip(model)
    fused = is_fused(model)
    if fused:
        st.info(FUSED_LAB_NOTE, icon=":material/info:")
    taught, teacher = _taught(clip, model)
    analysis = taught.analysis
    t, kind = _frame_controls(taught)
    steps = explain_frame(analysis, t)
    _images(taught, t, kind, steps, redrawn=not is_motion(model))
    st.plotly_chart(
        _error_chart(taught, t, steps.threshold), config={"displayModeBar": False, "staticPlot": False}, key="lab_chart"
    )
    st.caption(
        f"{clip.name} · model `{model.name}`{', its autoencoder part' if fused else ''} · {analysis.frame_count} "
        f"frames · τ = {_num(analysis.tau)}"
        + ("" if analysis.rows_are_frames else f" · frame {t} is source frame {analysis.source_frame(t)}")
    )
    if is_motion(model):
        st.info(LAB_NOTE, icon=":material/info:")
        motion_steps(clip, model, t)
        return
    _steps(taught, teacher, steps, part=fused)
    if fused:
        motion_steps(clip, model.motion, t, part=True)
        fusion_steps(clip, model, t, steps.raw)
