"""vad_core: reconstruction-based video anomaly detection (Chong & Tay 2017).

from vad_core import analyze, load_checkpoint
model = load_checkpoint()            # the bundled default: Ped2's fused model (the autoencoder: BUNDLED_AUTOENCODER)
result = analyze("clip.mp4", model)  # per-frame scores, error maps, segments

The names below are imported on first use, so that a process that needs only part of the library (the
decoder child, a CLI command that never touches the model) does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from vad_core.errors import BadInput
from vad_core.version import __version__

if TYPE_CHECKING:
    from vad_core.model.checkpoint import (  # noqa: F401
        BUNDLED_AUTOENCODER,
        DEFAULT_CHECKPOINT,
        Detector,
        LoadedModel,
        load_checkpoint,
        save_checkpoint,
    )
    from vad_core.pipeline.analysis import analyze  # noqa: F401
    from vad_core.pipeline.result import Analysis  # noqa: F401


_LAZY = {
    "Analysis": "vad_core.pipeline.result",
    "analyze": "vad_core.pipeline.analysis",
    "BUNDLED_AUTOENCODER": "vad_core.model.checkpoint",
    "DEFAULT_CHECKPOINT": "vad_core.model.checkpoint",
    "Detector": "vad_core.model.checkpoint",
    "LoadedModel": "vad_core.model.checkpoint",
    "load_checkpoint": "vad_core.model.checkpoint",
    "save_checkpoint": "vad_core.model.checkpoint",
}

__all__ = ["BadInput", "__version__", *_LAZY]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'vad_core' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
