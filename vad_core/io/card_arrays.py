"""Arrays inside a JSON model card: exact float32, one line each (here in io: scoring and the card both use it).

doc = encode_array(np.eye(2))            # {"shape": [2, 2], "float32_base64": "..."}
values = decode_array(doc, "place_scale.motion")
"""

from __future__ import annotations

import base64
import math

import numpy as np

MAX_DIMS = 8


def encode_array(values: np.ndarray) -> dict:
    """A float32 array as JSON: shape and little-endian bytes in base64."""
    data = np.ascontiguousarray(values, dtype="<f4")
    return {"shape": list(data.shape), "float32_base64": base64.b64encode(data.tobytes()).decode("ascii")}


def decode_array(doc: object, name: str) -> np.ndarray:
    """encode_array's output back; ValueError naming the entry when it is malformed.

    The shape must be a list of whole numbers whose product is the number of values: nothing is inferred
    (no -1), so the array is exactly as large as the base64 text that carries it.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("shape"), list) or "float32_base64" not in doc:
        raise ValueError(f"{name} needs 'shape' and 'float32_base64'")
    shape, data = doc["shape"], doc["float32_base64"]
    if len(shape) > MAX_DIMS or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ValueError(f"{name}.shape must be a list of at most {MAX_DIMS} whole numbers, not {shape!r}")
    if not isinstance(data, str):
        raise ValueError(f"{name}.float32_base64 must be a string")
    try:
        values = np.frombuffer(base64.b64decode(data, validate=True), dtype="<f4")
    except (ValueError, TypeError) as err:  # binascii.Error is a ValueError
        raise ValueError(f"{name} is not valid base64 float32 data ({err})") from err
    if values.size != math.prod(shape):
        raise ValueError(f"{name} holds {values.size} values, which do not fill its shape {shape}")
    return values.reshape(shape).astype(np.float32)
