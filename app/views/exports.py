"""Downloads: the scores CSV and segments JSON of the CLI contract, and the annotated H.264 video.

export_buttons(clip, rule, style)   # files are made when a button is clicked, not on every rerun

The annotated video is heavy work: "Annotated video" makes it in the page, in one of the server's heavy slots
(app.work_queue: the page shows its place in the queue while it waits), then offers it for download.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import streamlit as st

from app.state import Clip
from app.work_queue import heavy_slot
from vad_core.io.tempdirs import owned_prefix
from vad_core.pipeline.render import HeatStyle, export_video
from vad_core.pipeline.result import SegmentRule

VIDEO_KEY = "annotated_video"  # session state: (what it shows, the MP4 bytes) of the last video made


def _video_bytes(clip: Clip, style: HeatStyle, rule: SegmentRule) -> bytes:
    with tempfile.TemporaryDirectory(prefix=owned_prefix("vad-export-")) as folder:
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
    ]
    for button in downloads:
        st.download_button(**button, on_click="ignore", width="stretch")
    _annotated_video(clip, rule, style)


def _annotated_video(clip: Clip, rule: SegmentRule, style: HeatStyle) -> None:
    """A button that makes the video (queued, with a spinner), then a download button for what it made."""
    shows = (clip.key, rule, style)  # a threshold or style moved since: the video is made again
    made = st.session_state.get(VIDEO_KEY)
    if made is None or made[0] != shows:
        help_text = "H.264 with the heatmap overlay, anomaly boxes and marks, and a score strip; plays in a browser."
        if not st.button("Annotated video", icon=":material/movie:", key="make_mp4", help=help_text, width="stretch"):
            return
        st.session_state.pop(VIDEO_KEY, None)  # one video per session in memory
        with heavy_slot(f"annotated video of {clip.name}", requested=True), st.spinner("Making the annotated video…"):
            made = (shows, _video_bytes(clip, style, rule))
        st.session_state[VIDEO_KEY] = made
    st.download_button(
        "Download the annotated video",
        data=made[1],
        file_name=f"{Path(clip.name).stem}_annotated.mp4",
        mime="video/mp4",
        icon=":material/download:",
        key="download_mp4",
        on_click="ignore",
        width="stretch",
    )
