"""The scoring stage: error maps to frame scores and segments (scores), the scene check and per-place scales
(scene), camera health (health), the latent view (latent), metrics, and the model-free baselines every evaluation
reports (baselines). Calibration and the choice of scoring are training's (vad_core.training); boxes are the
pipeline's (vad_core.pipeline.regions).

from vad_core.scoring.scores import ScoringConfig, find_segments
from vad_core.scoring.scene import check_scene
from vad_core.scoring.metrics import auc
"""
