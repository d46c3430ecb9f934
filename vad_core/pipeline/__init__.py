"""The pipeline stage: one engine (engine) from frames to an Analysis (result), fed by a file (analysis), a live
source (live, and the alert command beside it: alerts) or a batch worker, within limits; the files it writes
(writers), its rendering for the views (render, regions) and its explanations (curves, explain).

from vad_core.pipeline.analysis import analyze
from vad_core.pipeline.live import LiveRun
from vad_core.pipeline.render import PreviewFrames
"""
