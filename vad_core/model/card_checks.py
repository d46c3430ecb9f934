"""The checks a model card's fields pass as it is read, before anything is built from them.

cfg = architecture(doc["model"])                  # ModelConfig, every field typed and within MODEL_BOUNDS
tau = number(doc, "calibration", "tau", 0.0, math.inf, above=True)

Each raises ValueError naming the field (section.key); the card reader turns it into one BadInput line.
"""

from __future__ import annotations

import math
from dataclasses import fields

from vad_core.model.config import ModelConfig

# Architecture bounds a card may ask for: (smallest, largest) per entry, and at most this many layers.
MODEL_BOUNDS: dict[str, tuple[int, int]] = {
    "input_size": (19, 1024),
    "time_steps": (2, 100),
    "lstm_kernel": (1, 15),
    "encoder_channels": (1, 1024),
    "kernel_sizes": (1, 31),
    "strides": (1, 8),
    "lstm_channels": (1, 1024),
}
MAX_LAYERS = {"encoder_channels": 4, "kernel_sizes": 4, "strides": 4, "lstm_channels": 8}


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def section(doc: object, name: str) -> dict:
    """doc itself when it is a JSON object; ValueError naming the section otherwise."""
    if not isinstance(doc, dict):
        raise ValueError(f"{name} must be an object")
    return doc


def number(doc: dict, name: str, key: str, low: float, high: float, *, above: bool = False) -> float:
    """doc[key], a finite number in [low, high] (above: > low); ValueError naming name.key otherwise."""
    value = doc.get(key)
    if value is None and key not in doc:
        raise ValueError(f"{name}.{key} is missing")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}.{key} must be a finite number, not {value!r}")
    if value < low or (above and value == low) or value > high:
        bounds = f"{'above' if above else 'at least'} {low:g} and at most {high:g}"
        raise ValueError(f"{name}.{key} is {value!r}; it must be {bounds}")
    return float(value)


def architecture(doc: object) -> ModelConfig:
    """The card's architecture, every field present, typed and within MODEL_BOUNDS; ValueError otherwise."""
    doc = section(doc, "model")
    names = [f.name for f in fields(ModelConfig)]
    unknown = sorted(set(doc) - set(names))
    if unknown:
        raise ValueError(f"unknown model config keys: {unknown}")
    for name in names:
        if name not in doc:
            raise ValueError(f"model.{name} is missing")
        _architecture_entry(name, doc[name])
    if doc["lstm_kernel"] % 2 == 0:
        raise ValueError(
            f"model.lstm_kernel is {doc['lstm_kernel']}; the ConvLSTM keeps the map size only with an odd one"
        )
    return ModelConfig.from_dict(doc)  # its own checks: layers that agree, an input size that inverts exactly


def _architecture_entry(name: str, value: object) -> None:
    if name in ("temporal", "activation"):
        if not isinstance(value, str):
            raise ValueError(f"model.{name} must be a string, not {value!r}")
        return
    low, high = MODEL_BOUNDS[name]
    if name in MAX_LAYERS:
        if not isinstance(value, list) or len(value) > MAX_LAYERS[name]:
            raise ValueError(f"model.{name} must be a list of at most {MAX_LAYERS[name]} integers")
        entries = value
    else:
        entries = [value]
    if not all(is_int(v) and low <= v <= high for v in entries):
        raise ValueError(f"model.{name} is {value!r}; each entry must be an integer from {low} to {high}")
