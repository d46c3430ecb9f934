"""The spatiotemporal autoencoder of Chong & Tay (2017) and its config (paper defaults).

model = SpatioTemporalAE(ModelConfig())           # 227 px, T=10
recon = model(x)                                  # (B, 10, 1, 227, 227) -> same shape
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from torch import Tensor, nn

from vad_core.model.blocks import SpatialDecoder, SpatialEncoder, TemporalBlock
from vad_core.model.layers.conv import ACTIVATIONS

TEMPORAL_KINDS = ("convlstm", "none")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture; the defaults are the paper's. Input sizes of the form 8n+19 invert exactly."""

    input_size: int = 227
    time_steps: int = 10
    encoder_channels: tuple[int, ...] = (128, 64)
    kernel_sizes: tuple[int, ...] = (11, 5)
    strides: tuple[int, ...] = (4, 2)
    lstm_channels: tuple[int, ...] = (64, 32, 64)
    lstm_kernel: int = 3
    temporal: str = "convlstm"
    activation: str = "tanh"

    def __post_init__(self) -> None:
        if not len(self.encoder_channels) == len(self.kernel_sizes) == len(self.strides):
            raise ValueError("encoder_channels, kernel_sizes and strides need one entry per encoder layer")
        if self.temporal not in TEMPORAL_KINDS:
            raise ValueError(f"unknown temporal block {self.temporal!r}; use one of {TEMPORAL_KINDS}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; choose from {sorted(ACTIVATIONS)}")
        lstm = self.lstm_channels
        if self.temporal == "convlstm" and (not lstm or lstm[-1] != self.encoder_channels[-1]):
            raise ValueError("lstm_channels must be non-empty and end with encoder_channels[-1] for the decoder")
        size = self.input_size
        for k, s in zip(self.kernel_sizes, self.strides, strict=True):
            if size < k or (size - k) % s:
                raise ValueError(
                    f"input_size {self.input_size} does not invert exactly through the strided convolutions; "
                    "use a size of the form 8n+19, such as 131 or 227"
                )
            size = (size - k) // s + 1
        if self.time_steps < 2:
            raise ValueError("time_steps must be at least 2")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


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
