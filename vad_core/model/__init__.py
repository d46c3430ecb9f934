"""The model stage: the autoencoder (layers, blocks, autoencoder) and its architecture (config), its weights and
typed card (checkpoint, card), its input (preprocess, windows) and running it over a stream of frames (inference).

model = SpatioTemporalAE(ModelConfig(input_size=131))     # from vad_core.model
loaded = load_autoencoder()                                # from vad_core.model.checkpoint
blocks = map_blocks(loaded.net, loaded.normalizer, frames, fn)   # from vad_core.model.inference

SpatioTemporalAE is imported on first use, so that reading a config or a card (the CLI checking --input-size)
does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from vad_core.model.config import ModelConfig

if TYPE_CHECKING:
    from vad_core.model.autoencoder import SpatioTemporalAE

__all__ = ["ModelConfig", "SpatioTemporalAE"]


def __getattr__(name: str) -> object:
    if name != "SpatioTemporalAE":
        raise AttributeError(f"module 'vad_core.model' has no attribute {name!r}")
    return importlib.import_module("vad_core.model.autoencoder").SpatioTemporalAE
