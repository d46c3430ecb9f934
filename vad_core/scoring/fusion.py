"""Fusing two detectors' calibrated scores: the rules a fused detector chooses among, and its settings as plain data.

cfg = FusionConfig(rule="product", input_size=131)     # the "model" section of a fused card (torch-free)
c = fuse(c_autoencoder, c_motion, cfg)                # per frame or per place; both already divided by their tau
[cfg.name for cfg in rule_candidates(131)]            # ["max", "mean", "product"]: what selection ranks

Both inputs are calibrated (e / tau of their own detector), so 1 means "the most its normal footage reached" on
either side and the rules compare like with like: max (either part alarms), mean, product (the geometric mean:
both parts must agree) and weighted (weight x autoencoder + (1 - weight) x motion).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal, get_args

import numpy as np

FusionRule = Literal["max", "mean", "product", "weighted"]
FUSION_RULES: tuple[str, ...] = get_args(FusionRule)
PLAIN_RULES = ("max", "mean", "product")  # what fused training ranks by default: no weight fitted to the proxies


@dataclass(frozen=True)
class FusionConfig:
    """How a fused detector combines its parts' calibrated scores. weight: the autoencoder's share under the
    weighted rule (the others ignore it). input_size: the square size of the maps the engine keeps, the
    autoencoder part's input size (its card says the same)."""

    rule: FusionRule = "max"
    weight: float = 0.5
    input_size: int = 131

    def __post_init__(self) -> None:
        if self.rule not in FUSION_RULES:
            raise ValueError(f"model.rule is {self.rule!r}; a fused rule is one of {', '.join(FUSION_RULES)}")
        weight, size = self.weight, self.input_size
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
            raise ValueError(f"model.weight is {weight!r}; it must be a number from 0 to 1")
        if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 1024:
            raise ValueError(f"model.input_size is {size!r}; it must be an integer from 8 to 1024")

    @property
    def name(self) -> str:
        """How the card's candidates name it: the rule, with its weight when weighted ("weighted 0.25")."""
        return f"weighted {self.weight:g}" if self.rule == "weighted" else self.rule

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FusionConfig:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown fused model keys: {unknown}; a fused card's model is rule, weight, input_size")
        return cls(**data)  # a NaN weight fails 0 <= weight <= 1 too


def fuse(autoencoder: np.ndarray, motion: np.ndarray, cfg: FusionConfig) -> np.ndarray:
    """The rule over two calibrated scores of the same shape (per frame, or per place of a map) -> float64."""
    a = np.maximum(np.asarray(autoencoder, np.float64), 0.0)
    m = np.maximum(np.asarray(motion, np.float64), 0.0)
    if cfg.rule == "max":
        return np.maximum(a, m)
    if cfg.rule == "mean":
        return (a + m) / 2
    if cfg.rule == "product":
        return np.sqrt(a * m)
    return cfg.weight * a + (1 - cfg.weight) * m


def rule_candidates(input_size: int, weights: tuple[float, ...] = ()) -> list[FusionConfig]:
    """The rules fused training ranks: max, mean and product, then weighted at each of weights (none by default:
    a weight is a fit to the injected anomalies, which DESIGN's probes found does not carry across scenes)."""
    plain = [FusionConfig(rule, input_size=input_size) for rule in PLAIN_RULES]
    return plain + [FusionConfig("weighted", w, input_size) for w in weights]
