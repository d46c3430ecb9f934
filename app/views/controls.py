"""Sidebar controls of the analysis view. Widgets only set values; the view turns them into results.

models = model_controls()                 # the model, and optionally a second one to compare with
choice = video_controls()                 # sample name, upload, labels upload
detection = detection_controls(analysis)  # curve, threshold, min duration, merge gap
mode, style = display_controls(analysis)  # overlay or side by side, heatmap style
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from app.models import ModelEntry, available_models
from app.state import VIDEO_TYPES, sample_paths
from vad_core.pipeline.curves import CURVE_LABELS, CURVES, curve_threshold, score_threshold
from vad_core.pipeline.render import COLORMAPS, HeatStyle
from vad_core.pipeline.result import Analysis, SegmentRule
from vad_core.scoring.scores import ERROR_KINDS

DEFAULT_SAMPLE = "Test004.mp4"  # the bundled model's clearest case: a cart crosses the walkway
VIEW_MODES = {"overlay": "Overlay", "side": "Input | reconstruction | error"}
MODEL_KEY = "model_stem"  # the chosen model's stem, kept across pages (a widget's own state is not)
PICKER_KEY = "model_picker"
COMPARE_KEY = "compare_picker"


@dataclass(frozen=True)
class ModelChoice:
    model: ModelEntry
    compare: ModelEntry | None


@dataclass(frozen=True)
class VideoChoice:
    sample: str
    upload: UploadedFile | None
    labels: UploadedFile | None


@dataclass(frozen=True)
class Detection:
    """The threshold is in c(t) units, or in s(t) units when the regularity curve is shown."""

    curve: str
    threshold: float
    min_duration: int
    merge_gap: int

    @property
    def threshold_curve(self) -> str:
        return "regularity" if self.curve == "regularity" else "score"

    def rule(self, analysis: Analysis) -> SegmentRule:
        """The same cut as a rule on c(t), which segments and exports are made on."""
        cut = score_threshold(analysis, self.threshold_curve, self.threshold)
        return SegmentRule(cut, self.min_duration, self.merge_gap)


def chosen_model_stem(stems: list[str] | None = None) -> str:
    """The model picked on the analysis page (or sent there by the training page), else the default.

    stems: the models on offer, when the caller has listed them already."""
    stems = stems or [str(e.stem) for e in available_models()]
    wanted = st.session_state.get(MODEL_KEY)
    return wanted if wanted in stems else stems[0]


def model_controls() -> ModelChoice:
    entries = {str(e.stem): e for e in available_models()}
    stems = list(entries)
    if st.session_state.get(PICKER_KEY) not in entries:
        st.session_state[PICKER_KEY] = chosen_model_stem(stems)
    st.sidebar.subheader("Model")
    stem = st.sidebar.selectbox(
        "Model",
        stems,
        format_func=lambda s: entries[s].label,
        key=PICKER_KEY,
        help="The bundled Ped2 models (the fused default, and the autoencoder the Reconstruction lab teaches with), "
        "or one you trained on the Train your scene page.",
    )
    st.session_state[MODEL_KEY] = stem
    others: list[str | None] = [None, *(s for s in stems if s != stem)]
    if st.session_state.get(COMPARE_KEY) not in others:
        st.session_state[COMPARE_KEY] = None
    compare = st.sidebar.selectbox(
        "Compare with",
        others,
        format_func=lambda s: "no second model" if s is None else entries[s].label,
        key=COMPARE_KEY,
        help="Analyze the clip with a second model too, and draw both curves on one plot.",
    )
    return ModelChoice(entries[stem], entries[compare] if compare else None)


def video_controls() -> VideoChoice:
    st.sidebar.subheader("Video")
    names = [p.name for p in sample_paths()]
    first = st.query_params.get("sample", DEFAULT_SAMPLE)  # a link can open another sample: ?sample=Test001.mp4
    sample = st.sidebar.selectbox(
        "Sample clip (UCSD Ped2)",
        names,
        index=names.index(first) if first in names else 0,
        key="sample",
    )
    upload = st.sidebar.file_uploader(
        "…or upload a video",
        type=list(VIDEO_TYPES),
        key="upload",
        help="The bundled model knows the Ped2 walkway only: footage of another scene looks anomalous everywhere.",
    )
    labels = st.sidebar.file_uploader(
        "Ground-truth labels (optional)",
        type=["json", "csv"],
        key="labels_upload",
        help="labels.json in the Ped2 format (test.<clip>.labels) or a CSV with one 0/1 `label` per frame. "
        "The bundled samples have labels already.",
    )
    return VideoChoice(sample, upload, labels)


def _score_slider(analysis: Analysis) -> float:
    top = float(max(3, math.ceil(float(np.nanmax(analysis.score)) + 0.5)))
    st.session_state.setdefault("score_threshold", 1.0)
    st.session_state["score_threshold"] = min(st.session_state["score_threshold"], top)
    return st.sidebar.slider(
        "Threshold on c(t)",
        min_value=0.0,
        max_value=top,
        step=0.05,
        key="score_threshold",
        help="1.0 is the calibration threshold: c(t) = e(t) / τ above 1 is beyond what normal footage produced.",
    )


def _regularity_slider(analysis: Analysis) -> float:
    if "regularity_threshold" not in st.session_state:  # start at the cut c(t) = 1 makes on this clip
        start = curve_threshold(analysis, "regularity", 1.0)
        st.session_state["regularity_threshold"] = round(min(max(start, 0.0), 1.0), 2)
    return st.sidebar.slider(
        "Threshold on s(t) (anomalous below)",
        min_value=0.0,
        max_value=1.0,
        step=0.01,
        key="regularity_threshold",
        help="The paper's regularity is scaled per clip, so it always finds a least regular frame, "
        "even in an all-normal clip.",
    )


def detection_controls(analysis: Analysis) -> Detection:
    st.sidebar.subheader("Detection")
    curve = st.sidebar.radio(
        "Curve", CURVES, format_func=lambda c: CURVE_LABELS[c].capitalize(), key="curve", horizontal=False
    )
    threshold = _regularity_slider(analysis) if curve == "regularity" else _score_slider(analysis)
    left, right = st.sidebar.columns(2)
    min_duration = left.number_input(
        "Min. duration", min_value=1, max_value=100, value=3, step=1, key="min_duration", help="frames"
    )
    merge_gap = right.number_input(
        "Merge gap", min_value=0, max_value=100, value=5, step=1, key="merge_gap", help="frames"
    )
    return Detection(curve, float(threshold), int(min_duration), int(merge_gap))


def start_detection_at(rule: SegmentRule) -> None:
    """Start the detection controls at a rule (a live run's, when its recorded part opens): the c(t) curve at the
    rule's threshold; duration and gap set only where they differ from the widgets' own defaults (Streamlit
    warns about a widget given both)."""
    st.session_state.update(score_threshold=rule.threshold, curve="score")
    for key, value in (("min_duration", rule.min_duration), ("merge_gap", rule.merge_gap)):
        if value == getattr(SegmentRule(), key):
            st.session_state.pop(key, None)
        else:
            st.session_state[key] = value


def display_controls(analysis: Analysis, redrawn: bool = True) -> tuple[str, HeatStyle]:
    """The view and the heatmap's style; without redrawn (a motion detector: nothing reconstructed) no
    side-by-side view, and only the maps the analysis has."""
    st.sidebar.subheader("Display")
    modes = list(VIEW_MODES) if redrawn else ["overlay"]
    kinds = [kind for kind in ERROR_KINDS if kind in analysis.maps]
    for key, offered in (("view_mode", modes), ("heat_kind", kinds)):
        if st.session_state.get(key, offered[0]) not in offered:  # left over from another model's analysis
            del st.session_state[key]
    mode = st.sidebar.radio("View", modes, format_func=VIEW_MODES.get, key="view_mode")
    kind = st.sidebar.selectbox(
        "Heatmap error",
        kinds,
        index=kinds.index(analysis.scoring.kind),
        key="heat_kind",
        help="motion: error of the reconstructed frame difference (what the model scores by default); "
        "appearance: error of the frame itself.",
    )
    left, right = st.sidebar.columns(2)
    colormap = left.selectbox("Colormap", list(COLORMAPS), key="colormap")
    opacity = right.slider("Opacity", 0.0, 1.0, 0.7, 0.05, key="opacity")
    boxes = st.sidebar.toggle(
        "Anomaly boxes", value=True, key="boxes", help="Outline connected regions above the calibrated pixel threshold."
    )
    return str(mode), HeatStyle(colormap=str(colormap), opacity=float(opacity), kind=str(kind), boxes=bool(boxes))
