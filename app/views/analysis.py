"""The analysis page: open a clip, watch it with its error heatmap and score plot in sync, tune, export.

    st.navigation([st.Page(analysis.render, title="Analyze a clip")]).run()

Every number drawn here comes from one vad_core Analysis; this module only picks the clip and its labels. Opening
is app.views.clip_open's, the view app.views.clip_view's: the pages share them and never import each other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from app.event_store import publish_clip
from app.state import Clip, ClipSource, sample_paths
from app.views.adapt import adapt_panel, scene_notice
from app.views.clip_open import compared_analysis, open_with_progress, sidebar_models
from app.views.clip_view import sample_truth, show_clip
from app.views.controls import VideoChoice, chosen_model_stem, video_controls
from app.views.detector_kind import analysis_intro
from app.views.zones import zones_panel
from vad_core import BadInput
from vad_core.io.labels import parse_labels


def _source(choice: VideoChoice) -> ClipSource:
    if choice.upload is not None:
        return ClipSource.upload(choice.upload.name, choice.upload.getvalue())
    return ClipSource.sample(next(p for p in sample_paths() if p.name == choice.sample))


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
    return sample_truth(clip)


def render() -> None:
    st.title("Video anomaly detection", anchor=False)
    model, compare = sidebar_models()
    st.caption(analysis_intro(model))
    choice = video_controls()
    source = _source(choice)
    clip = open_with_progress(source, model)
    publish_clip(clip, model)  # its segments on the Events page
    scene_notice(clip, model)
    truth, truth_note = _truth(clip, choice)
    show_clip(clip, model, truth, truth_note, lambda: compared_analysis(source, clip, compare))
    zones_panel(clip, model)
    adapt_panel(source, clip, model, chosen_model_stem())  # below the player: the title, player and plot fit the screen
