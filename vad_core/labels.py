"""Ground-truth frame labels a user brings for one clip: a dataset labels.json or a CSV.

labels = parse_labels(data, "labels.json", clip="Test004", frames=180)   # int8 0/1 per frame
runs = label_runs(labels)                                                # [(start, end), ...]
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from vad_core.errors import BadInput
from vad_core.scoring import find_segments

LABEL_COLUMNS = ("label", "labels", "anomalous", "anomaly", "gt", "y")


def _from_json(data: bytes, clip: str) -> np.ndarray:
    """Accept the dataset format (test.<clip>.labels), {"labels": [...]} or a bare list."""
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"labels file is not valid JSON ({err})") from err
    if isinstance(doc, dict) and isinstance(doc.get("test"), dict):
        entries = doc["test"]
        if clip in entries:
            doc = entries[clip]
        elif len(entries) == 1:
            doc = next(iter(entries.values()))
        else:
            names = ", ".join(sorted(entries))
            raise BadInput(f"labels.json has labels for {names} but none for {clip}; rename the video or the entry")
    if isinstance(doc, dict):
        doc = doc.get("labels")
    if not isinstance(doc, list):
        raise BadInput("labels JSON holds no list of 0/1 frame labels (expected test.<clip>.labels or labels)")
    return np.asarray(doc)


def _from_csv(data: bytes) -> np.ndarray:
    """One row per frame; the label column is named label/anomalous/gt/..., or is the only column."""
    try:
        table = pd.read_csv(io.BytesIO(data))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise BadInput(f"labels CSV cannot be read ({err})") from err
    columns = {c.strip().lower(): c for c in table.columns}
    name = next((columns[c] for c in LABEL_COLUMNS if c in columns), None)
    if name is None and len(table.columns) == 1:
        name = table.columns[0]
    if name is None:
        raise BadInput(f"labels CSV needs a column named one of {', '.join(LABEL_COLUMNS)}")
    return table[name].to_numpy()


def parse_labels(data: bytes, filename: str, clip: str, frames: int) -> np.ndarray:
    """0/1 labels for the clip's frames; the length must match the clip."""
    values = _from_csv(data) if filename.lower().endswith(".csv") else _from_json(data, clip)
    try:
        labels = values.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise BadInput("labels must be numbers 0 or 1, one per frame") from err
    if not np.isin(labels, (0, 1)).all():
        raise BadInput("labels must be 0 (normal) or 1 (anomalous), one per frame")
    if labels.size != frames:
        raise BadInput(f"labels cover {labels.size} frames but the clip has {frames}")
    return labels.astype(np.int8)


def label_runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) frame runs labelled anomalous."""
    return [(s.start, s.end) for s in find_segments(np.asarray(labels, dtype=np.float64), 0.5)]
