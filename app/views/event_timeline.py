"""The Events page's timeline: one row per camera, each event a bar over its time, coloured by review state.

    st.plotly_chart(timeline_figure(events), key="events_timeline")

An event's time is its wall-clock start where the producer knew it (a live run, watch), else when it was stored
(an analysis of a file): either way, the bar is as long as the event lasted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import plotly.graph_objects as go

from vad_core.events import Event

REVIEW_COLOURS = {"new": "#4c9be8", "confirmed": "#e8574c", "false_alarm": "#9aa0a6"}
REVIEW_LABELS = {"new": "new", "confirmed": "confirmed", "false_alarm": "false alarm"}
KIND_SYMBOLS = {"anomaly": "diamond", "frozen": "square", "covered": "x", "moved": "triangle-up"}


def event_time(event: Event) -> datetime:
    """When an event began: its wall-clock start, else when it was stored."""
    return event.started_at or event.created_at or datetime.min


def event_seconds(event: Event) -> float:
    """How long an event lasted (an open one: a single frame so far)."""
    end = event.end if event.end is not None else event.start
    return (end - event.start + 1) / (event.fps or 1.0)


def timeline_figure(events: list[Event]) -> go.Figure:
    """Bars (start to end) with a marker at each start, so that a one-second event on a day's axis still shows."""
    fig = go.Figure()
    for review, colour in REVIEW_COLOURS.items():
        shown = [e for e in events if e.review == review]
        if not shown:
            continue
        starts = [event_time(e) for e in shown]
        text = [f"#{e.id} {e.kind} · frames {e.start}-{e.end} · peak {e.peak:.2f}" for e in shown]
        fig.add_bar(
            base=starts,
            x=[event_seconds(e) * 1000 for e in shown],  # a date axis' bar length is in milliseconds
            y=[e.source for e in shown],
            orientation="h",
            marker_color=colour,
            name=REVIEW_LABELS[review],
            hovertext=text,
            hoverinfo="text",
            showlegend=False,
        )
        fig.add_scatter(
            x=[s + timedelta(seconds=event_seconds(e) / 2) for s, e in zip(starts, shown, strict=True)],
            y=[e.source for e in shown],
            mode="markers",
            marker={"color": colour, "size": 9, "symbol": [KIND_SYMBOLS.get(e.kind, "circle") for e in shown]},
            name=REVIEW_LABELS[review],
            hovertext=text,
            hoverinfo="text",
        )
    sources = {e.source for e in events}
    fig.update_layout(
        height=90 + 32 * len(sources),
        margin={"l": 10, "r": 10, "t": 10, "b": 30},
        barmode="overlay",
        xaxis={"type": "date", "title": None},
        yaxis={"title": None, "type": "category"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )
    return fig
