"""Arrays inside a JSON model card: exact float32, one line each.

doc = encode_array(np.eye(2))            # {"shape": [2, 2], "float32_base64": "..."}
values = decode_array(doc, "place_scale.motion")
"""

from __future__ import annotations

import base64

import numpy as np


def encode_array(values: np.ndarray) -> dict:
    """A float32 array as JSON: shape and little-endian bytes in base64."""
    data = np.ascontiguousarray(values, dtype="<f4")
    return {"shape": list(data.shape), "float32_base64": base64.b64encode(data.tobytes()).decode("ascii")}


def decode_array(doc: object, name: str) -> np.ndarray:
    """encode_array's output back; ValueError naming the entry when it is malformed."""
    if not isinstance(doc, dict) or not isinstance(doc.get("shape"), list) or "float32_base64" not in doc:
        raise ValueError(f"{name} needs 'shape' and 'float32_base64'")
    try:
        values = np.frombuffer(base64.b64decode(doc["float32_base64"], validate=True), dtype="<f4")
        return values.reshape(doc["shape"]).astype(np.float32)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} does not decode to its shape {doc['shape']} ({err})") from err
