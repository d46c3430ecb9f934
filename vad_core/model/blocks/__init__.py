"""Blocks of the autoencoder: per-frame spatial encoder and decoder, and the temporal block.

enc, tmp, dec = SpatialEncoder(cfg), TemporalBlock(cfg), SpatialDecoder(cfg)
recon = dec(tmp(enc(frames)))     # (B, T, 1, H, W) all along
"""

from vad_core.model.blocks.spatial import SpatialDecoder, SpatialEncoder
from vad_core.model.blocks.temporal import TemporalBlock

__all__ = ["SpatialDecoder", "SpatialEncoder", "TemporalBlock"]
