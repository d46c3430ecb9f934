"""Smallest building blocks: conv and deconv blocks and the ConvLSTM.

cell = ConvLSTMCell(64, 32, kernel_size=3)
layer = ConvLSTM(64, 32)           # runs the cell over (B, T, C, H, W)
"""

from vad_core.model.layers.conv import ConvBlock, DeconvBlock
from vad_core.model.layers.convlstm import ConvLSTM, ConvLSTMCell

__all__ = ["ConvBlock", "ConvLSTM", "ConvLSTMCell", "DeconvBlock"]
