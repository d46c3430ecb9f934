"""The model stage: the autoencoder (layers, blocks, autoencoder), its weights and card (checkpoint, card_arrays),
its input (preprocess, windows) and running it over a stream of frames (inference).

from vad_core.model.autoencoder import ModelConfig, SpatioTemporalAE
from vad_core.model.checkpoint import load_checkpoint
from vad_core.model.inference import map_blocks
"""
