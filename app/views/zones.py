"""The Zones panel of the analysis page: draw ignore and only-count polygons on a frame of the clip, with a box or
lasso selection on a plotly image (no drawing component, nothing fetched), save them as the model's zones file,
and the clip is analyzed again with them.

    zones_panel(clip, model)   # below the player; a change saves <models folder>/<model>.zones.json and reruns

The zones belong to the model (app.zones): every clip and the live page use them until they are changed.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app.state import Clip
from app.zones import app_zones_path, save_app_zones, selection_polygons
from vad_core import BadInput, LoadedModel
from vad_core.errors import parse_json
from vad_core.scoring.zones import MAX_ZONES_BYTES, Zones, zones_from_dict

KINDS = {"ignore": "Ignore (a road, a swaying tree)", "only": "Only count here (a doorway)"}
COLORS = {"ignore": "rgba(220, 50, 50, 0.35)", "only": "rgba(40, 170, 90, 0.30)"}
GRID = 48  # selectable points across the frame's width: a box or lasso selection needs points to select


def _frame_uri(frame: np.ndarray) -> str:
    _, png = cv2.imencode(".png", frame)
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()


def zones_figure(frame: np.ndarray, size: tuple[int, int], zones: Zones) -> go.Figure:
    """The frame in source pixels (y down), the zones on it, and a grid of invisible points to select with."""
    width, height = size
    step = max(width / GRID, 1.0)
    xs, ys = np.meshgrid(np.arange(0, width, step), np.arange(0, height, step))
    fig = go.Figure(go.Scatter(x=xs.ravel(), y=ys.ravel(), mode="markers", marker={"opacity": 0}, hoverinfo="none"))
    for kind in KINDS:
        for index, polygon in enumerate(getattr(zones, kind), start=1):
            x, y = zip(*polygon, *polygon[:1], strict=False)
            fig.add_scatter(x=x, y=y, fill="toself", fillcolor=COLORS[kind], mode="lines", name=f"{kind} {index}",
                            line={"color": COLORS[kind].replace("0.3", "0.9")}, hoverinfo="name")  # fmt: skip
    fig.add_layout_image(source=_frame_uri(frame), xref="x", yref="y", x=0, y=0, sizex=width, sizey=height,
                         sizing="stretch", layer="below")  # fmt: skip
    fig.update_xaxes(range=[0, width], showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[height, 0], showgrid=False, zeroline=False, scaleanchor="x")
    fig.update_layout(dragmode="lasso", showlegend=False, margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=360)
    return fig


def _save(model: LoadedModel, zones: Zones) -> None:
    save_app_zones(model.name, zones)
    st.rerun()  # the model's fingerprint changed: the clip is analyzed again with the new zones


def _upload(model: LoadedModel) -> None:
    upload = st.file_uploader("…or load a zones file", type=["json"], key="zones_upload")
    if upload is None or st.session_state.get("zones_loaded") == upload.file_id:
        return
    st.session_state["zones_loaded"] = upload.file_id
    try:
        if upload.size > MAX_ZONES_BYTES:
            raise BadInput(f"{upload.name} is larger than {MAX_ZONES_BYTES >> 20} MB; a zones file is a few KB")
        zones = zones_from_dict(parse_json(upload.getvalue(), upload.name), upload.name)
    except BadInput as err:
        st.error(f"Zones not loaded: {err}", icon=":material/error:")
        return
    _save(model, zones)


def _zone_list(model: LoadedModel, zones: Zones) -> None:
    for kind in KINDS:
        for index, polygon in enumerate(getattr(zones, kind), start=1):
            left, right = st.columns([4, 1])
            left.write(f"**{kind} {index}**: {len(polygon)} points")
            if right.button("Remove", key=f"zone_remove_{kind}_{index}"):
                kept = [p for i, p in enumerate(getattr(zones, kind), start=1) if i != index]
                _save(model, Zones(**{"ignore": zones.ignore, "only": zones.only, kind: kept}))


def zones_panel(clip: Clip, model: LoadedModel) -> None:
    """Draw, list, remove, load and download the model's zones; each change is saved and the clip re-analyzed."""
    zones = model.zones or Zones()
    analysis = clip.analysis
    with st.expander(f"Zones ({len(zones.ignore)} ignore, {len(zones.only)} only-count)", expanded=bool(zones)):
        st.caption(
            "Select an area on the frame (lasso, or box from the chart's toolbar), choose what it is, and add it. "
            "Masked places count for nothing in the error maps, the scores and the boxes, on every clip and on the "
            "live page, for this model."
        )
        row = min(int(np.argmax(analysis.score)), len(clip.frames) - 1)  # the frame the model found least normal
        event = st.plotly_chart(
            zones_figure(np.asarray(clip.frames[row]), analysis.source_size, zones),
            on_select="rerun",
            selection_mode=("box", "lasso"),
            key=f"zones_chart_{clip.key}",
            config={"displaylogo": False},
        )
        drawn = selection_polygons(event.selection) if event else []
        kind = st.radio("The selected area is", list(KINDS), format_func=KINDS.get, key="zone_kind", horizontal=True)
        if st.button(f"Add {len(drawn)} drawn area(s) as zones", disabled=not drawn, key="zone_add"):
            added = zones.to_dict()
            added[kind] += [[list(point) for point in polygon] for polygon in drawn]
            try:
                _save(model, zones_from_dict(added, "the zones"))  # the file's own checks: at most 64 polygons
            except BadInput as err:
                st.error(f"Zones not saved: {err}", icon=":material/error:")
        _zone_list(model, zones)
        left, right = st.columns(2)
        if left.button("Clear all zones", disabled=not zones, key="zones_clear"):
            _save(model, Zones())
        right.download_button("Download the zones file", zones.to_json(), f"{model.name}.zones.json",
                              mime="application/json", key="zones_download")  # fmt: skip
        _upload(model)
        if app_zones_path(model.name).is_file():
            st.caption(f"Saved as `{app_zones_path(model.name)}`; `--zones FILE` takes the same file.")
