"""The segment table: one row per anomalous segment; choosing a row jumps the player to its start.

segment_table(clip, segments, style)
seek = st.session_state.get(SEEK_KEY)   # {"frame": start, "id": n}, read by the player
"""

from __future__ import annotations

import cv2
import pandas as pd
import streamlit as st

from app.components.images import data_url
from app.state import Clip
from vad_core.pipeline.render import HeatStyle, render_frame
from vad_core.scoring.health import HEALTH_LABELS, HealthSegment
from vad_core.scoring.scores import Segment

TABLE_KEY = "segment_table"
STARTS_KEY = "segment_starts"
SEEK_KEY = "seek"
THUMB_WIDTH = 96


def _jump_to_selected() -> None:
    """Selection callback: ask the player to seek; a fresh id makes it jump even to the same frame again."""
    rows = st.session_state[TABLE_KEY].selection.rows
    starts = st.session_state.get(STARTS_KEY, [])
    if rows and rows[0] < len(starts):
        previous = st.session_state.get(SEEK_KEY) or {"id": 0}
        st.session_state[SEEK_KEY] = {"frame": starts[rows[0]], "id": previous["id"] + 1}


def _thumbnail(clip: Clip, frame: int, style: HeatStyle) -> str:
    image = render_frame(clip.analysis, clip.frames, frame, style)
    height = round(image.shape[0] * THUMB_WIDTH / image.shape[1])
    return data_url(cv2.resize(image, (THUMB_WIDTH, height), interpolation=cv2.INTER_AREA), quality=80)


def segment_table(clip: Clip, segments: list[Segment], style: HeatStyle, health: list[HealthSegment] = ()) -> None:
    """Anomalous segments and camera faults, one row each in order of start, with their kind."""
    fps = clip.analysis.fps
    rows = sorted(
        [("anomaly", s.start, s.end, s.peak_frame, s.peak) for s in segments]
        + [(HEALTH_LABELS[f.kind], f.start, f.end, f.start, None) for f in health],
        key=lambda row: row[1],
    )
    st.session_state[STARTS_KEY] = [row[1] for row in rows]
    if not rows:
        st.info("No anomalous segments at this threshold. Lower it, or shorten the minimum duration.")
        return
    table = pd.DataFrame(
        {
            "peak frame": [_thumbnail(clip, row[3], style) for row in rows],
            "kind": [row[0] for row in rows],
            "start": [row[1] for row in rows],
            "end": [row[2] for row in rows],
            "duration (s)": [(row[2] - row[1] + 1) / fps for row in rows],
            "peak c(t)": [row[4] for row in rows],
        }
    )
    st.dataframe(
        table,
        key=TABLE_KEY,
        on_select=_jump_to_selected,
        selection_mode="single-row",
        hide_index=True,
        row_height=68,
        height=min(40 + 68 * len(rows), 320),
        column_config={
            "peak frame": st.column_config.ImageColumn("peak frame", width="small"),
            "kind": st.column_config.TextColumn("kind", help="an anomaly, or a camera fault (not an anomaly)"),
            "start": st.column_config.NumberColumn("start", help="first frame (0-based)"),
            "end": st.column_config.NumberColumn("end", help="last frame, inclusive"),
            "duration (s)": st.column_config.NumberColumn("duration", format="%.1f s"),
            "peak c(t)": st.column_config.NumberColumn("peak c(t)", format="%.2f"),
        },
    )
    st.caption("Choose a row to jump the player to the segment's first frame.")
