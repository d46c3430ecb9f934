"""The pipeline stage: one engine from frames to an Analysis (analysis), fed by a file, a live source (live, and
the alert command beside it: alerts) or a batch worker, within limits; its rendering for the views (render)
and its timing (stages, cpu).

from vad_core.pipeline.analysis import analyze
from vad_core.pipeline.live import LiveRun
from vad_core.pipeline.render import PreviewFrames
"""
