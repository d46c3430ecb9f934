"""The keys of an Analysis' frame_errors and the reductions that fill them, shared by the engine (which computes
them block by block) and the Analysis (which picks its scoring's key, and rescores per place)."""

from __future__ import annotations

import numpy as np
import torch

from vad_core.scoring.scores import LOCAL_REDUCTIONS, RECONSTRUCTION_KINDS, REDUCTIONS, ScoringConfig, reduce_maps_all


def error_keys(per_place: bool) -> list[str]:
    """The frame_errors keys an autoencoder's analysis holds: every kind and reduction, and their per-place
    variants."""
    keys = [f"{kind}_{reduce}" for kind in RECONSTRUCTION_KINDS for reduce in REDUCTIONS]
    return keys + [f"{kind}_{reduce}_place" for kind in RECONSTRUCTION_KINDS for reduce in LOCAL_REDUCTIONS] * per_place


def error_key(scoring: ScoringConfig) -> str:
    """The frame_errors key of a scoring config (ScoringConfig.error_key)."""
    return scoring.error_key


def reductions(
    kind: str, maps: np.ndarray, scoring: ScoringConfig, place_scale: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Every frame reduction of float16 maps (taken in float32, whose values they are exactly); with a place
    scale, the local ones again on the place-normalized patch means (keys ending in _place)."""
    as_float = torch.from_numpy(maps).float().numpy()  # torch converts float16 several times faster than numpy
    return {f"{kind}_{key}": v for key, v in reduce_maps_all(as_float, scoring, place_scale).items()}
