"""The Reconstruction lab for a fused detector: frame t's two part errors, each over its own τ, and the rule that
makes them one e(t).

    fusion_steps(clip, model, t, taught)   # in the lab, after its autoencoder part's steps (taught: their e_raw(t))

Every number comes from vad_core.pipeline.explain.explain_fusion (the rule applied again to the part errors the
analysis keeps, with the model's own function); this module only lays out.
"""

from __future__ import annotations

import math

import streamlit as st

from app.state import Clip
from vad_core.model.fused import FusedModel
from vad_core.pipeline.explain import FusionSteps, explain_fusion

RULE_LATEX = {
    "max": r"\max(c_a, c_m)",
    "mean": r"\tfrac{1}{2}(c_a + c_m)",
    "product": r"\sqrt{c_a\, c_m}",
}


def _num(value: float) -> str:
    return f"{value:.4g}"


def _rule_latex(steps: FusionSteps, model: FusedModel) -> str:
    if model.fusion.rule == "weighted":
        w = model.fusion.weight
        return rf"{w:g}\, c_a + {1 - w:g}\, c_m"
    return RULE_LATEX[model.fusion.rule]


def fusion_steps(clip: Clip, model: FusedModel, t: int, taught: float) -> None:
    """The parts' calibrated errors at frame t, the rule, and the fused e(t) and c(t). taught: the e_raw(t) of the
    autoencoder part's steps above, named where the player's frames it ran on again make it differ."""
    steps = explain_fusion(clip.analysis, model, t)
    st.subheader(f"How the fused score of frame {t} is built", anchor=False)
    st.markdown(
        "| part | e_raw(t) | its τ | calibrated |\n|---|---:|---:|---:|\n"
        f"| autoencoder `{model.autoencoder.card.name or model.name}` | {_num(steps.autoencoder_raw)} | "
        f"{_num(steps.autoencoder_tau)} | c_a = **{steps.autoencoder_score:.3f}** |\n"
        f"| motion detector | {_num(steps.motion_raw)} | {_num(steps.motion_tau)} | "
        f"c_m = **{steps.motion_score:.3f}** |"
    )
    again = ""
    if not math.isclose(taught, steps.autoencoder_raw, rel_tol=1e-4):
        again = f" (step 3: {_num(taught)}, from the player's frames, resized from the decoded ones)"
    st.caption(
        f"The parts' errors enter the rule before smoothing: the autoencoder's is step 3's e_raw(t){again}, the "
        "motion part's the e_raw(t) of its flow above."
    )
    selection = model.card.scoring_selection
    chosen = f"chosen for this scene: {selection.method}" if selection and selection.method else "the card's rule"
    st.markdown(f"**The rule** is *{steps.rule}* ({chosen}):")
    st.latex(rf"e_{{raw}}({t}) = {_rule_latex(steps, model)} = {_num(steps.raw)}")
    st.latex(
        rf"e({t}) = {_num(steps.error)} \text{{ (smoothed over time)}}, \quad "
        rf"c({t}) = \frac{{e({t})}}{{\tau}} = \frac{{{_num(steps.error)}}}{{{_num(steps.tau)}}} = {steps.score:.4f}"
    )
    st.caption(
        "τ here is the fused score's own: the "
        f"{100 * model.calibration.quantile:g}th percentile of the fused e(t) on held-out normal frames."
    )
