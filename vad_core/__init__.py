"""vad_core: reconstruction-based video anomaly detection (Chong & Tay 2017).

from vad_core import analyze, load_checkpoint
model = load_checkpoint()            # the bundled Ped2 model
result = analyze("clip.mp4", model)  # per-frame scores, error maps, segments
"""

from vad_core.analysis import Analysis, analyze
from vad_core.checkpoint import DEFAULT_CHECKPOINT, LoadedModel, load_checkpoint, save_checkpoint
from vad_core.errors import BadInput

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_CHECKPOINT",
    "Analysis",
    "BadInput",
    "LoadedModel",
    "__version__",
    "analyze",
    "load_checkpoint",
    "save_checkpoint",
]
