"""Temporal block: a stack of ConvLSTM layers (64, 32, 64 in the paper), or nothing for ablation.

block = TemporalBlock(ModelConfig(temporal="convlstm"))
y = block(z)               # (B, T, 64, H, W) -> (B, T, 64, H, W)
y, mid = block(z, return_bottleneck=True)   # mid: the middle layer's output
"""

from __future__ import annotations

from torch import Tensor, nn

from vad_core.model.config import ModelConfig
from vad_core.model.layers import ConvLSTM


class TemporalBlock(nn.Module):
    """ConvLSTM stack; with temporal="none" it is the identity, to measure what the LSTM adds."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        chans = (cfg.encoder_channels[-1], *cfg.lstm_channels)
        if cfg.temporal == "none":
            chans = chans[:1]
        elif cfg.temporal != "convlstm":
            raise ValueError(f"unknown temporal block {cfg.temporal!r}; use 'convlstm' or 'none'")
        self.layers = nn.ModuleList(ConvLSTM(chans[i], chans[i + 1], cfg.lstm_kernel) for i in range(len(chans) - 1))

    def forward(self, z: Tensor, return_bottleneck: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        outputs = [z]
        for layer in self.layers:
            outputs.append(layer(outputs[-1]))
        if return_bottleneck:
            return outputs[-1], outputs[len(outputs) // 2]
        return outputs[-1]
