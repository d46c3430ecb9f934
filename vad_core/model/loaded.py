"""LoadedModel: the autoencoder ready for inference, with everything needed to score its output.

model = load_autoencoder()                    # vad_core.model.checkpoint: a LoadedModel for an autoencoder's card
frames = (model.prepare(gray) for gray in raw) # float32 at its square input size, in [0, 1]
model.weights()                               # the network's tensors by name (an event's model fingerprint)

It lives apart from the checkpoint code so that a fused detector (vad_core.model.fused), which holds one, and the
loader, which builds either, import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vad_core.io.video import resize_scale
from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.card import Calibration, ModelCard
from vad_core.model.config import ModelConfig
from vad_core.model.preprocess import Normalizer
from vad_core.scoring.latent import LatentProjection
from vad_core.scoring.scene import SceneReference
from vad_core.scoring.scores import ScoringConfig
from vad_core.scoring.zones import Zones


@dataclass
class LoadedModel:
    """A network ready for inference with everything needed to score its output.

    scoring and calibration are the card's unless a caller tries another scoring (replace(model, scoring=...));
    projection: the card's latent_projection (PCA of held-out normal frames' bottleneck states), or None
    for cards written before it existed; scene: the card's scene_reference (per-place error levels, the scene
    check's reference figures), or None likewise. zones: STEM.zones.json's (the camera's ignore and only-count
    polygons), or None; a command's --zones replaces them (replace(model, zones=...)).
    """

    net: SpatioTemporalAE
    normalizer: Normalizer
    scoring: ScoringConfig
    calibration: Calibration
    card: ModelCard
    name: str
    projection: LatentProjection | None = None
    scene: SceneReference | None = None
    zones: Zones | None = None

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def cfg(self) -> ModelConfig:
        return self.net.cfg

    @property
    def window(self) -> int:
        """Frames scored together: a live source reads, and drops, whole windows of T frames."""
        return self.cfg.time_steps

    def weights(self) -> dict[str, np.ndarray]:
        """What was fitted, by name: the network's tensors (a fingerprint of the model, wherever it was loaded)."""
        return {name: tensor.detach().cpu().numpy() for name, tensor in self.net.state_dict().items()}

    def prepare(self, gray: np.ndarray) -> np.ndarray:
        """A decoded uint8 gray frame as the model takes it: resized to its square input, float32 in [0, 1]."""
        return resize_scale(gray, self.cfg.input_size)

    @classmethod
    def uncalibrated(
        cls, net: SpatioTemporalAE, normalizer: Normalizer, scoring: ScoringConfig, name: str, quantile: float = 0.99
    ) -> LoadedModel:
        """A network not calibrated yet (tau 1: c(t) is e(t)), for calibration itself, benchmarks and tests."""
        calibration = Calibration.uncalibrated(quantile)
        card = ModelCard(model=net.cfg, calibration=calibration, scoring=scoring, name=name)
        return cls(net, normalizer, scoring, calibration, card, name)
