"""The score plot under the player: one curve, its threshold, shaded segments, ground truth, the paper's events.

figure = score_figure(analysis, "score", rule.threshold, segments, truth_runs=[(30, 179)])
# a plotly figure as JSON; the player draws it with the bundled plotly.js and adds the cursor
"""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go

from vad_core.pipeline.curves import CURVE_LABELS, curve_threshold, curve_values
from vad_core.pipeline.result import Analysis
from vad_core.scoring.health import HEALTH_LABELS, HEALTH_RGB, HealthSegment
from vad_core.scoring.scores import Segment, regularity_events

CURVE_RGB = "#4cc9f0"
THRESHOLD_RGB = "#f0c850"
COMPARE_RGB = "#f77fbe"
SEGMENT_FILL = "rgba(255, 75, 75, 0.28)"
TRUTH_FILL = "rgba(255, 170, 0, 0.75)"
LEARNED_FILL = "rgba(80, 220, 120, 0.8)"
TEXT_RGB = "rgba(250, 250, 250, 0.85)"
GRID_RGB = "rgba(250, 250, 250, 0.08)"
SMALL = {"size": 11}
SHORT = {"score": "c(t)", "regularity": "s(t)", "error": "e(t)"}


def dark_layout(height: int, margin: dict, **layout: object) -> dict:
    """The dashboard's plot look: transparent on the dark theme, light text, the legend above at the right."""
    base = {
        "height": height,
        "margin": margin,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": TEXT_RGB, "size": 12},
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    }
    return base | layout


def _band(start: int, end: int, y0: float, y1: float, fill: str, name: str) -> dict:
    """A shaded run of frames, inclusive on both ends, in paper units vertically."""
    return {
        "type": "rect",
        "xref": "x",
        "yref": "paper",
        "x0": start - 0.5,
        "x1": end + 0.5,
        "y0": y0,
        "y1": y1,
        "fillcolor": fill,
        "line": {"width": 0},
        "layer": "below",
        "name": name,
    }


def _health_fill(kind: str, alpha: float = 0.35) -> str:
    red, green, blue = HEALTH_RGB[kind]
    return f"rgba({red}, {green}, {blue}, {alpha})"


def _legend_swatch(name: str, colour: str, dash: str | None = None) -> go.Scatter:
    """A legend entry for something drawn as a shape (shapes have no legend of their own)."""
    if dash:
        return go.Scatter(x=[None], y=[None], mode="lines", name=name, line={"color": colour, "dash": dash})
    return go.Scatter(
        x=[None], y=[None], mode="markers", name=name, marker={"symbol": "square", "size": 11, "color": colour}
    )


def _y_range(values: np.ndarray, line: float, curve: str) -> list[float]:
    if curve == "regularity":
        return [-0.02, 1.04]
    top = max(float(np.nanmax(values)) if values.size else 0.0, line)
    return [0.0, (top or 1.0) * 1.12]


def score_figure(
    analysis: Analysis,
    curve: str,
    score_cut: float,
    segments: list[Segment],
    truth_runs: list[tuple[int, int]] | None = None,
    height: int = 240,
    compare: tuple[str, Analysis] | None = None,
    learned_runs: list[tuple[int, int]] | None = None,
    health: list[HealthSegment] | None = None,
) -> dict:
    """The plot as plotly JSON. Segment rectangles are named "segment", ground truth "truth", the frames an
    adapted model learned as normal "learned", camera faults by their kind ("frozen", "covered", "moved").

    compare: (model name, its analysis of the same frames), drawn as a second dashed curve."""
    values = curve_values(analysis, curve)
    frames = np.arange(len(values))
    line = curve_threshold(analysis, curve, score_cut)
    top = 0.9 if truth_runs else 1.0  # leave a strip at the top for the ground-truth band
    shapes = [_band(s.start, s.end, 0.0, top, SEGMENT_FILL, "segment") for s in segments]
    shapes += [_band(start, end, 0.93, 1.0, TRUTH_FILL, "truth") for start, end in truth_runs or []]
    shapes += [_band(start, end, 0.0, 0.05, LEARNED_FILL, "learned") for start, end in learned_runs or []]
    shapes += [_band(f.start, f.end, 0.0, top, _health_fill(f.kind), f.kind) for f in health or []]
    shapes.append(
        {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": line, "y1": line,
         "line": {"color": THRESHOLD_RGB, "width": 1.5, "dash": "dash"}, "name": "threshold"}
    )  # fmt: skip
    seconds = frames / analysis.fps
    shown = values
    traces = [
        go.Scatter(
            x=frames,
            y=values,
            customdata=seconds,
            mode="lines",
            name=CURVE_LABELS[curve],
            line={"color": CURVE_RGB, "width": 2},
            hovertemplate=f"frame %{{x}} · %{{customdata:.2f}} s<br>{SHORT[curve]} = %{{y:.3f}}<extra></extra>",
        ),
        _legend_swatch("threshold", THRESHOLD_RGB, dash="dash"),
        _legend_swatch("anomalous segment", "rgba(255, 75, 75, 0.6)"),
    ]
    if compare is not None:
        other_name, other = compare
        other_values = curve_values(other, curve)
        shown = np.concatenate([values, other_values])  # the y range covers both
        traces.append(
            go.Scatter(
                x=frames,
                y=other_values,
                mode="lines",
                name=f"{SHORT[curve]} · {other_name}",
                line={"color": COMPARE_RGB, "width": 1.5, "dash": "dot"},
                hovertemplate=f"{other_name}: {SHORT[curve]} = %{{y:.3f}}<extra></extra>",
            )
        )
        traces[0].name = f"{SHORT[curve]} · {analysis.model_name}"
    if truth_runs is not None:
        traces.append(_legend_swatch("ground truth", TRUTH_FILL))
    if learned_runs:
        traces.append(_legend_swatch("learned as normal", LEARNED_FILL))
    for kind in dict.fromkeys(f.kind for f in health or []):
        traces.append(_legend_swatch(HEALTH_LABELS[kind], _health_fill(kind, 0.8)))
    if curve == "regularity":
        events = regularity_events(values)
        traces.append(
            go.Scatter(
                x=events,
                y=values[events],
                mode="markers",
                name="events (local minima)",
                marker={"color": "#ffffff", "size": 7, "symbol": "triangle-down"},
                hovertemplate="event at frame %{x}<extra></extra>",
            )
        )
    figure = go.Figure(traces)
    figure.update_layout(
        **dark_layout(
            height,
            {"l": 52, "r": 12, "t": 46, "b": 38},  # the player labels its cursor in the top margin
            legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.1, "yanchor": "bottom", "font": SMALL},
        ),
        shapes=shapes,
        showlegend=True,
        hovermode="x",
        dragmode=False,
        xaxis={"title": {"text": "frame", "standoff": 4}, "range": [-0.5, len(values) - 0.5], "fixedrange": True,
               "gridcolor": GRID_RGB, "zeroline": False},
        yaxis={"title": {"text": SHORT[curve]}, "range": _y_range(shown, line, curve), "fixedrange": True,
               "gridcolor": GRID_RGB, "zeroline": False},
    )  # fmt: skip
    return json.loads(figure.to_json())
