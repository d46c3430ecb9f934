"""The sidebar's model card: what the chosen model is, how it scored against the model-free baselines where it was
evaluated, and a plain warning when a baseline scored as well or better (the dashboard must not oversell it).

model_card_panel(model)    # under the model pickers
"""

from __future__ import annotations

import streamlit as st

from vad_core import LoadedModel
from vad_core.training.evaluation import FIGURES, baseline_shortfalls


def _table(metrics: dict) -> str:
    """One recorded evaluation as a markdown table: the model, then each baseline, pooled and per-video AUC."""
    named = {"this model": metrics} | {k.replace("_", " "): v for k, v in (metrics.get("baselines") or {}).items()}
    lines = ["| detector | pooled | per-video |", "|---|---|---|"]
    for name, figures in named.items():
        values = [figures.get(key) for key in FIGURES.values()]
        lines.append(f"| {name} | " + " | ".join("–" if v is None else f"{v:.3f}" for v in values) + " |")
    return "\n".join(lines)


def model_card_panel(model: LoadedModel) -> None:
    card = model.card
    shortfalls = baseline_shortfalls(card.evaluation)
    if shortfalls:
        said = "; ".join(s.sentence() for s in shortfalls)
        st.sidebar.warning(f"**Not better than a baseline.** {said[0].upper()}{said[1:]}.", icon=":material/warning:")
    with st.sidebar.expander("Model card"):
        trained = card.training.data if card.training and card.training.data else "unknown data"
        st.caption(f"{card.detector} · {card.model.input_size} px · trained on {trained}")
        for dataset, metrics in card.evaluation.items():
            st.markdown(f"Frame AUC on **{dataset}**\n\n{_table(metrics)}")
        if not card.evaluation:
            st.caption("Not evaluated yet: `python -m vad_core evaluate --data DATASET --update-card`.")
        if card.scoring_selection and card.scoring_selection.verdict:
            st.caption(f"At training: {card.scoring_selection.verdict}.")
