"""The model stage: the autoencoder (layers, blocks, autoencoder), its weights and card (checkpoint, card_arrays),
its input (preprocess, windows) and running it over a stream of frames (inference).

model = SpatioTemporalAE(ModelConfig(input_size=131))     # from vad_core.model
loaded = load_checkpoint()                                 # from vad_core.model.checkpoint
blocks = map_blocks(loaded.net, loaded.normalizer, frames, fn)   # from vad_core.model.inference
"""

from vad_core.model.autoencoder import ModelConfig, SpatioTemporalAE

__all__ = ["ModelConfig", "SpatioTemporalAE"]
