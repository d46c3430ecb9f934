"""The spatiotemporal autoencoder of Chong & Tay (2017); its config (paper defaults) is model/config.py.

model = SpatioTemporalAE(ModelConfig())           # 227 px, T=10
recon = model(x)                                  # (B, 10, 1, 227, 227) -> same shape
"""

from __future__ import annotations

from torch import Tensor, nn

from vad_core.model.blocks import SpatialDecoder, SpatialEncoder, TemporalBlock
from vad_core.model.config import ModelConfig


class SpatioTemporalAE(nn.Module):
    """Conv encoder -> ConvLSTM stack -> deconv decoder; the reconstruction error is the anomaly signal."""

    def __init__(self, cfg: ModelConfig | None = None):
        super().__init__()
        self.cfg = cfg or ModelConfig()
        self.encoder = SpatialEncoder(self.cfg)
        self.temporal = TemporalBlock(self.cfg)
        self.decoder = SpatialDecoder(self.cfg)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.temporal(self.encoder(x)))  # (B, T, 1, H, W) throughout

    def set_fast_path(self, enabled: bool = True) -> SpatioTemporalAE:
        """Use the optimized inference forms (on by default; they apply only without autograd).

        Off, inference runs the plain eager layers: the fp32 reference that bench and the tests compare
        against. The weights and the state dict are the same either way.
        """
        for module in self.modules():
            if hasattr(module, "fast"):
                module.fast = enabled
        return self

    def forward_with_bottleneck(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Reconstruction plus the middle temporal layer's output, for the latent view."""
        y, mid = self.temporal(self.encoder(x), return_bottleneck=True)
        return self.decoder(y), mid
