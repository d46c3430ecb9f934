"""The autoencoder's architecture as plain data (no torch), so the CLI and the card can check it cheaply.

cfg = ModelConfig(input_size=131)                   # raises ValueError for a size the strides cannot invert
size = ModelConfig.nearest_valid_size(86.2)         # 83: the nearest 8n+19 size, at least 27
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal, get_args

Temporal = Literal["convlstm", "none"]
Activation = Literal["tanh", "relu", "sigmoid"]
TEMPORAL_KINDS: tuple[str, ...] = get_args(Temporal)
ACTIVATION_NAMES: tuple[str, ...] = get_args(Activation)
SMALLEST_INPUT = 27  # the smallest 8n+19 size the paper's encoder strides take


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
    temporal: Temporal = "convlstm"
    activation: Activation = "tanh"

    def __post_init__(self) -> None:
        if not len(self.encoder_channels) == len(self.kernel_sizes) == len(self.strides):
            raise ValueError("encoder_channels, kernel_sizes and strides need one entry per encoder layer")
        if self.temporal not in TEMPORAL_KINDS:
            raise ValueError(f"unknown temporal block {self.temporal!r}; use one of {TEMPORAL_KINDS}")
        if self.activation not in ACTIVATION_NAMES:
            raise ValueError(f"unknown activation {self.activation!r}; choose from {sorted(ACTIVATION_NAMES)}")
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

    @staticmethod
    def nearest_valid_size(target: float) -> int:
        """The input size of the form 8n+19 nearest to target px, at least SMALLEST_INPUT (the paper's strides)."""
        return max(SMALLEST_INPUT, 8 * round((target - 19) / 8) + 19)

    @property
    def latent_channels(self) -> int:
        """Channels of the layer the latent view pools: the middle of (encoder output, ConvLSTM outputs...)."""
        chans = (self.encoder_channels[-1], *(self.lstm_channels if self.temporal == "convlstm" else ()))
        return chans[len(chans) // 2]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
