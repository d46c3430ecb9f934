"""The Reconstruction lab for a motion detector: frame t's optical flow, and its peak place's speed against that
place's normal speed, the numbers its e(t) is built from.

    motion_steps(clip, model, t)   # in the lab: a motion model's steps, or a fused model's motion part's

Every number comes from vad_core.model.motion.explain.explain_motion (the flow computed again from the player's
frames around t with the model's own functions); this module only lays out.
"""

from __future__ import annotations

import streamlit as st

from app.state import Clip
from vad_core.model.motion.detector import MotionModel
from vad_core.model.motion.explain import MotionSteps, explain_motion, flow_rgb
from vad_core.pipeline.explain import heat_rgb

FIGURE_WORDS = {
    "speed_mean": "mean speed",
    "speed_p90": "90th-percentile speed",
    "moving": "moving fraction",
}


def _peak_table(steps: MotionSteps, names: tuple[str, ...]) -> str:
    """The peak place's figures at this frame against its normal ones, as a markdown table."""
    row, col = steps.peak
    rows = ["| figure | at this frame | normal here | ratio |", "|---|---:|---:|---:|"]
    for i, name in enumerate(names):
        value, normal = float(steps.features[i, row, col]), float(steps.scale[i, row, col])
        ratio = f"**{value / normal:.3f}** ◀" if name == steps.peak_feature else f"{value / normal:.3f}"
        rows.append(f"| {FIGURE_WORDS[name]} | {value:.3f} | {normal:.3f} | {ratio} |")
    return "\n".join(rows)


def motion_steps(clip: Clip, model: MotionModel, t: int, part: bool = False) -> None:
    """The flow field and the place ratio of frame t (frame 0, which has no predecessor, shows frame 1's); part: the
    model is a fused model's motion part, whose e_raw(t) goes into the fused rule before any smoothing."""
    shown = max(t, 1) if len(clip.frames) > 1 else 0
    if shown == 0:
        return
    steps = explain_motion(model, clip.frames, shown)
    row, col = steps.peak
    top = float(steps.scale[:, row, col].max())
    whose = "the motion part's" if part else "the motion"
    st.subheader(f"How {whose} map of frame {shown} is built", anchor=False)
    left, middle, right = st.columns(3, gap="small")
    left.image(clip.frames[shown], caption=f"frame {shown}", width="stretch")
    middle.image(
        flow_rgb(steps.flow, 2 * top),
        caption=f"optical flow {shown - 1} → {shown}: hue the direction, brightness the speed (full at {2 * top:.2g} "
        "px a frame)",
        width="stretch",
    )
    right.image(
        heat_rgb(steps.now, 1.0), caption="each place's ratio to its normal at this frame, 0 … 4", width="stretch"
    )
    cell = model.cfg.cell
    st.markdown(
        f"**Each place** is a {cell}×{cell}-pixel cell of the flow at {model.cfg.frame_size[0]}×"
        f"{model.cfg.frame_size[1]} px. Its figures at this frame are divided by the same figures' "
        f"{100 * model.cfg.quantile:g}th percentile on normal footage of that place; the largest ratio is the "
        f"place's value, averaged over the {model.cfg.persistence} frames around this one (so a one-frame flow glitch "
        "does not count and an object that keeps moving does). The frame's e_raw(t) is log(1 + the largest place "
        f"value). Here the peak is the place at row {row}, column {col}:"
    )
    st.markdown(_peak_table(steps, steps.names))
    stored = clip.analysis.frame_errors["motion_local_max"][shown]
    st.latex(
        rf"e_{{raw}}({shown}) = \log\Big(1 + \max_p \operatorname{{mean}}_{{t\pm{model.cfg.persistence // 2}}}"
        rf"\max_f \frac{{v_f(p)}}{{n_f(p)}}\Big) = \log(1 + {steps.peak_ratio:.4g}) = {steps.peak_score:.4g}"
        rf"\quad (\text{{scored: }} {stored:.4g})"
    )
    st.caption(
        "The flow is computed again from the player's frames; a clip larger than the player's 360-px frames, or "
        "one with zones, can differ slightly from what was scored. "
        + (
            "Divided by the motion part's own τ, this e_raw(t) is c_m in the rule below."
            if part
            else "e(t) then smooths these values over time and c(t) divides by τ, as for an autoencoder."
        )
    )
