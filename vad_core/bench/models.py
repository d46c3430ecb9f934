"""The models the benchmark runs: random weights at a size (seed 0), or the bundled Ped2 autoencoder where it fits.

net = random_model(227, torch.device("cpu"))
model = as_loaded(net, Normalizer.identity(227), "random-227")   # what analyze and LiveRun take
"""

from __future__ import annotations

import torch

from vad_core.errors import BadInput
from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.card import read_card
from vad_core.model.checkpoint import BUNDLED_AUTOENCODER, LoadedModel, load_checkpoint
from vad_core.model.config import ModelConfig
from vad_core.model.preprocess import Normalizer
from vad_core.scoring.scores import ScoringConfig


def random_model(size: int, device: torch.device, seed: int = 0) -> SpatioTemporalAE:
    """The paper's architecture at `size` px with seeded random weights, in eval mode."""
    torch.manual_seed(seed)
    return SpatioTemporalAE(ModelConfig(input_size=size)).eval().to(device)


def as_loaded(net: SpatioTemporalAE, normalizer: Normalizer, name: str) -> LoadedModel:
    """net as a loaded checkpoint with a unit calibration and no place scales, for the code that takes one."""
    return LoadedModel.uncalibrated(net, normalizer, ScoringConfig(per_place=False), name)


def bundled_size() -> int | None:
    """The bundled autoencoder's input size; None when it is missing or its card unreadable."""
    card = BUNDLED_AUTOENCODER.with_suffix(".json")
    if not card.is_file() or not BUNDLED_AUTOENCODER.with_suffix(".safetensors").is_file():
        return None
    try:
        return read_card(card).model.input_size
    except BadInput:
        return None


def bundled_or_random(size: int) -> LoadedModel:
    """The bundled autoencoder when it is `size` px, else a random one of that size (no place scales), on the CPU."""
    if bundled_size() == size:
        return load_checkpoint(BUNDLED_AUTOENCODER, device="cpu")
    return as_loaded(random_model(size, torch.device("cpu")), Normalizer.identity(size), f"random-{size}")
