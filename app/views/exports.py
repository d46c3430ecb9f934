"""Downloads: the scores CSV and segments JSON of the CLI contract, and the annotated H.264 video.

export_buttons(clip, rule, style)   # files are made when a button is clicked, not on every rerun
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import streamlit as st

from app.state import Clip
from vad_core.analysis import SegmentRule
from vad_core.render import HeatStyle, export_video


def _video_bytes(clip: Clip, style: HeatStyle, rule: SegmentRule) -> bytes:
    with tempfile.TemporaryDirectory(prefix="vad-export-") as folder:
        path = export_video(Path(folder) / "annotated.mp4", clip.analysis, clip.frames, style, rule)
        return path.read_bytes()


def export_buttons(clip: Clip, rule: SegmentRule, style: HeatStyle) -> None:
    """Scores CSV, segments JSON and the annotated video; each is built only when its button is pressed."""
    stem = Path(clip.name).stem
    analysis = clip.analysis
    downloads = [
        {
            "label": "Scores (CSV)",
            "data": lambda: analysis.scores_frame(rule).to_csv(index=False),
            "file_name": f"{stem}_scores.csv",
            "mime": "text/csv",
            "icon": ":material/table:",
            "key": "download_csv",
        },
        {
            "label": "Segments (JSON)",
            "data": lambda: json.dumps(analysis.segments_document(rule), indent=2) + "\n",
            "file_name": f"{stem}_segments.json",
            "mime": "application/json",
            "icon": ":material/data_object:",
            "key": "download_json",
        },
        {
            "label": "Annotated video",
            "data": lambda: _video_bytes(clip, style, rule),
            "file_name": f"{stem}_annotated.mp4",
            "mime": "video/mp4",
            "icon": ":material/movie:",
            "key": "download_mp4",
            "help": "H.264 with the heatmap overlay, anomaly boxes and marks, and a score strip; plays in a browser.",
        },
    ]
    for button in downloads:
        st.download_button(**button, on_click="ignore", width="stretch")
