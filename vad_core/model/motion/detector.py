"""MotionModel: a fitted motion detector, scoring blocks of frames for the one engine (vad_core.pipeline.engine).

model = load_checkpoint("models/ped2-motion")      # a MotionModel for a card of kind "motion"
frames = (model.prepare(gray) for gray in raw)      # uint8 gray at the flow's own size, not the 131-px square
for block in model.score_blocks(frames): ...        # ScoredBlock: the ratio map, e(t) reductions, inputs, health

A block's map is each cell's ratio to its normal scale (vad_core.model.motion.normal), nearest-resized to the
square input_size the engine keeps, so the max of the map is the max over cells; its frame errors come from the
same reductions as the autoencoder's (vad_core.pipeline.frame_errors' reduce_maps_all).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from vad_core.cpu import default_workers
from vad_core.model.card import Calibration, ModelCard
from vad_core.model.motion.config import MotionConfig
from vad_core.model.motion.features import clip_features, fit_frame
from vad_core.model.motion.normal import MotionNormal
from vad_core.model.preprocess import Normalizer
from vad_core.scoring.blocks import ScoredBlock
from vad_core.scoring.health import block_figures
from vad_core.scoring.scene import SceneReference
from vad_core.scoring.scores import ScoringConfig, reduce_maps_all
from vad_core.scoring.zones import Zones
from vad_core.stages import StageClock

WINDOW = 10  # frames a live source reads (and drops) as one, as the autoencoder's T; a block is whole windows
BLOCK_FRAMES = 4 * WINDOW  # frames a worker scores at a time (as the autoencoder's 4 windows of 10)
# e(t) is the largest cell ratio (the map nearest-resized: patch 1, no per-place division: the ratio is per place)
MOTION_SCORING = ScoringConfig(kind="motion", reduce="local_max", patch=1, per_place=False, smooth_sigma=2.0)


@dataclass
class MotionModel:
    """A motion detector ready to score: its settings, each place's normal motion, the scene's mean frame (for the
    scene check's background figure and camera health), and the card's calibration. Fields named as
    LoadedModel's, so the engine, the commands and the views take either."""

    cfg: MotionConfig
    normal: MotionNormal
    normalizer: Normalizer  # mean frame at cfg.input_size and the frames' std
    scoring: ScoringConfig
    calibration: Calibration
    card: ModelCard
    name: str
    scene: SceneReference | None = None
    zones: Zones | None = None
    projection: None = None  # no bottleneck, so no latent view

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def window(self) -> int:
        """Frames a live source reads, and drops, as one (LoadedModel.window's role; flow needs no window)."""
        return WINDOW

    def weights(self) -> dict[str, np.ndarray]:
        """What was fitted, by name: each place's normal scales and the mean frame."""
        return {"motion_scale": self.normal.scale, "mean_frame": self.normalizer.mean_frame}

    def prepare(self, gray: np.ndarray) -> np.ndarray:
        """A decoded uint8 gray frame as the detector takes it: at the flow's own size (cfg.frame_size)."""
        return fit_frame(gray, self.cfg.frame_size)

    def score_blocks(
        self,
        frames: Iterable[np.ndarray | None],
        mask: np.ndarray | None = None,
        clock: StageClock | None = None,
        block_frames: int = BLOCK_FRAMES,
        workers: int | None = None,
    ) -> Iterator[ScoredBlock]:
        """ScoredBlocks of consecutive frames, in order. Each block is scored in a worker thread from its own frames
        and the frame before it (so the flow at a block's first frame is there: nothing waits for the previous
        block); a None frame (a live source waiting) passes finished blocks on. mask: the zones' (S, S) place mask."""
        clock = clock or StageClock()
        workers = workers or default_workers("cpu")
        pool = ThreadPoolExecutor(workers, thread_name_prefix="vad-motion")
        pending: deque[Future] = deque()
        chunk: list[np.ndarray] = []
        previous: np.ndarray | None = None
        try:
            for frame in frames:
                if frame is not None:
                    chunk.append(frame)
                if len(chunk) == block_frames:
                    pending.append(pool.submit(self._score, previous, chunk, mask, clock))
                    previous, chunk = chunk[-1], []
                while pending and (len(pending) > workers or pending[0].done()):
                    yield pending.popleft().result()
            if chunk:
                pending.append(pool.submit(self._score, previous, chunk, mask, clock))
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _score(
        self, previous: np.ndarray | None, frames: list[np.ndarray], mask: np.ndarray | None, clock: StageClock
    ) -> ScoredBlock:
        size = (self.cfg.input_size,) * 2
        with clock.measure("model"):
            ratios = self.normal.ratio(clip_features(frames, self.cfg, previous))
        with clock.measure("scoring"):
            maps = np.stack([cv2.resize(r, size, interpolation=cv2.INTER_NEAREST) for r in ratios])
            if mask is not None:
                maps *= mask
            inputs = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
            errors = {f"motion_{k}": v for k, v in reduce_maps_all(maps, self.scoring).items()}
            health = block_figures(inputs, self.normalizer.mean_frame)
        return ScoredBlock({"motion": maps.astype(np.float16)}, errors, inputs, None, None, None, None, health)
