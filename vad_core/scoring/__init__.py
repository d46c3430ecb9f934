"""The scoring stage: error maps to frame scores and segments (scores), calibration against normal footage, the
scene check, camera health, the latent view, regions, metrics and the choice of scoring.

from vad_core.scoring.scores import ScoringConfig, find_segments
from vad_core.scoring.scene import check_scene
from vad_core.scoring.metrics import auc
"""
