"""Ground-truth frame labels a user brings for one clip: a dataset labels.json or a CSV.

labels = parse_labels(data, "labels.json", clip="Test004", frames=180)   # int8 0/1 per frame
runs = label_runs(labels)                                                # [(start, end), ...]
values = label_array(doc["test"]["Test004"]["labels"], "labels.json: test.Test004.labels")
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pandas as pd

from vad_core.errors import BadInput, parse_json
from vad_core.runs import flag_runs

LABEL_COLUMNS = ("label", "labels", "anomalous", "anomaly", "gt", "y")


def _describe(value: object) -> str:
    """What a wrong label is, in the user's terms (JSON names: list, object, null, true)."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the string {value[:20]!r}"
    if isinstance(value, (list, tuple)):
        return "a list (labels are one flat list, one number per frame)"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, float) and math.isnan(value):
        return "NaN (an empty or missing value)"
    return repr(value)


def label_array(values: object, where: str) -> np.ndarray:
    """int8 0/1 labels from a list of numbers 0 or 1 (0.0 and 1.0 too); BadInput naming `where` and the first
    wrong entry otherwise: not a list, nested lists, strings, booleans, null, NaN or any other number."""
    if not isinstance(values, list):
        raise BadInput(f"{where} must be a list of 0/1 frame labels, not {_describe(values)}")
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in (0, 1):
            raise BadInput(f"{where}, frame {i}: {_describe(value)} is not a label; use 0 (normal) or 1 (anomalous)")
    return np.asarray(values, dtype=np.int8)


def _from_json(data: bytes, clip: str) -> np.ndarray:
    """Accept the dataset format (test.<clip>.labels), {"labels": [...]} or a bare list."""
    doc = parse_json(data, "labels file")
    where = "labels"
    if isinstance(doc, dict) and isinstance(doc.get("test"), dict):
        entries = doc["test"]
        if clip in entries:
            name = clip
        elif len(entries) == 1:
            name = next(iter(entries))
        else:
            names = ", ".join(sorted(entries))
            raise BadInput(f"labels.json has labels for {names} but none for {clip}; rename the video or the entry")
        doc, where = entries[name], f"test.{name}.labels"
    if isinstance(doc, dict):
        doc = doc.get("labels")
    if doc is None:
        raise BadInput("labels JSON holds no list of 0/1 frame labels (expected test.<clip>.labels or labels)")
    return label_array(doc, f"labels JSON {where}")


def _from_csv(data: bytes) -> np.ndarray:
    """One row per frame; the label column is named label/anomalous/gt/..., or is the only column."""
    try:
        table = pd.read_csv(io.BytesIO(data))
    except (ValueError, UnicodeDecodeError, csv.Error) as err:  # pandas' ParserError and EmptyDataError too
        raise BadInput(f"labels CSV cannot be read ({' '.join(str(err).split())})") from err
    columns = {str(c).strip().lower(): c for c in table.columns}
    name = next((columns[c] for c in LABEL_COLUMNS if c in columns), None)
    if name is None and len(table.columns) == 1:
        name = table.columns[0]
    if name is None:
        raise BadInput(f"labels CSV needs a column named one of {', '.join(LABEL_COLUMNS)}")
    column = table[name]
    if isinstance(column, pd.DataFrame):  # the name appears twice
        raise BadInput(f"labels CSV has more than one column named {name!r}")
    return label_array(column.tolist(), f"labels CSV column {name!r}")


def parse_labels(data: bytes, filename: str, clip: str, frames: int) -> np.ndarray:
    """0/1 labels for the clip's frames; the length must match the clip."""
    labels = _from_csv(data) if filename.lower().endswith(".csv") else _from_json(data, clip)
    if labels.size != frames:
        raise BadInput(f"labels cover {labels.size} frames but the clip has {frames}")
    return labels


def label_runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) frame runs labelled anomalous."""
    return flag_runs(np.asarray(labels, dtype=np.float64) > 0.5)
