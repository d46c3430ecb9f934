"""MotionModel: a fitted motion detector, scoring blocks of frames for the one engine (vad_core.pipeline.engine).

model = load_checkpoint("models/ped2-motion")      # a MotionModel for a card of kind "motion"
frames = (model.prepare(gray) for gray in raw)      # uint8 gray at the flow's own size, not the 131-px square
for block in model.score_blocks(frames): ...        # ScoredBlock: the ratio map, e(t) reductions, inputs, health

A block's map is log(1 + each cell's ratio to its normal scale), held over a few frames (vad_core.model.motion
.normal), nearest-resized to the square input_size the engine keeps, so the max of the map is the max over cells;
its frame errors come from the same reductions as the autoencoder's (vad_core.pipeline.frame_errors' reduce_maps_all).
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
from vad_core.model.motion.features import clip_features
from vad_core.model.motion.normal import MotionNormal
from vad_core.model.preprocess import Normalizer
from vad_core.scoring.blocks import ScoredBlock
from vad_core.scoring.flow import fit_frame
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
        and the frames around it that its places' persistence reads (cfg.persistence // 2 each side, and one more
        before for the flow), so nothing waits for another block and a frame scores the same in any block; a block
        is scored once the frames after it are read (or the source ends). A None frame (a live source waiting)
        passes finished blocks on. mask: the zones' (S, S) place mask."""
        clock = clock or StageClock()
        workers = workers or default_workers("cpu")
        half = self.cfg.persistence // 2
        pool = ThreadPoolExecutor(workers, thread_name_prefix="vad-motion")
        pending: deque[Future] = deque()
        kept: list[np.ndarray] = []  # the frames from clip index `offset` on: a block, its context, what follows
        offset = start = 0  # start: clip index of the next block's first frame

        def submit(first: int) -> None:  # first: the block's index in kept
            lo, count = max(0, first - half - 1), min(block_frames, len(kept) - first)
            window = kept[lo : first + count + half]
            pending.append(pool.submit(self._score, window, first - lo, count, mask, clock))

        try:
            for frame in frames:
                if frame is not None:
                    kept.append(frame)
                while offset + len(kept) >= start + block_frames + half:
                    submit(start - offset)
                    start += block_frames
                    drop = max(0, start - half - 1 - offset)
                    kept, offset = kept[drop:], offset + drop
                while pending and (len(pending) > workers or pending[0].done()):
                    yield pending.popleft().result()
            for first in range(start - offset, len(kept), block_frames):  # the source ended: no frames follow
                submit(first)
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def log_ratios(self, frames: list[np.ndarray], first: int, count: int) -> np.ndarray:
        """float32 (n, rows, cols), the detector's map at its own cells for frames[first : first + count] (n of them
        when fewer follow), read from as many frames around them as there are (frames[first - 1] is the flow's
        start when there is one)."""
        half = self.cfg.persistence // 2
        lo, hi = max(0, first - half), min(len(frames), first + count + half)
        previous = frames[lo - 1] if lo > 0 else None
        scores = self.normal.place_scores(clip_features(frames[lo:hi], self.cfg, previous), self.cfg.persistence)
        return scores[first - lo : first - lo + count]

    def _score(
        self, window: list[np.ndarray], first: int, count: int, mask: np.ndarray | None, clock: StageClock
    ) -> ScoredBlock:
        """The block of count frames from window[first]; the window holds what persistence reads around it."""
        size = (self.cfg.input_size,) * 2
        with clock.measure("model"):
            cells = self.log_ratios(window, first, count)
        with clock.measure("scoring"):
            maps = np.stack([cv2.resize(r, size, interpolation=cv2.INTER_NEAREST) for r in cells])
            if mask is not None:
                maps *= mask
            block = window[first : first + count]
            inputs = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in block])
            errors = {f"motion_{k}": v for k, v in reduce_maps_all(maps, self.scoring).items()}
            health = block_figures(inputs, self.normalizer.mean_frame)
        return ScoredBlock({"motion": maps.astype(np.float16)}, errors, inputs, None, None, None, None, health)
