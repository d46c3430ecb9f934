"""FusedModel: an autoencoder and a motion detector on the same frames, their calibrated scores combined by a rule.

model = load_checkpoint("models/ped2-fused")       # a FusedModel for a card of kind "fused"
frames = (model.prepare(gray) for gray in raw)     # uint8 gray at the motion part's flow size
result = analyze_frames(frames, model)             # the one engine: maps appearance, motion and fused; e(t) the rule's

Each part scores the frames as it does alone (the engine's detector_blocks, each in a thread of its own, fed from
the one stream: the motion part takes the frames at its flow size, the autoencoder resizes them to its input); their
blocks are lined up frame by frame and fused here:

    e(t) = rule(e_a(t) / tau_a, e_m(t) / tau_m)        (vad_core.scoring.fusion; tau_a, tau_m: each part's card's)

then smoothed and divided by the fused model's own tau (fitted on held-out normal frames, vad_core.training.fused_fit)
into c(t), as any detector's. The fused map is, per place, the larger of the parts' calibrated maps (the
autoencoder's patch means over its pixel tau, the motion ratios over theirs): where either part sees beyond normal,
whatever the frame rule. The analysis keeps the autoencoder's appearance map and reconstructions (its scene check and
camera health are the autoencoder's figures) and the motion part's ratio map as "motion".
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from vad_core.model.card import Calibration, ModelCard, Parts
from vad_core.model.config import ModelConfig
from vad_core.model.loaded import LoadedModel
from vad_core.model.motion.detector import MotionModel
from vad_core.model.preprocess import Normalizer
from vad_core.scoring.blocks import ScoredBlock
from vad_core.scoring.fusion import FusionConfig, fuse
from vad_core.scoring.latent import LatentProjection
from vad_core.scoring.scene import SceneReference
from vad_core.scoring.scores import ScoringConfig, patch_mean
from vad_core.scoring.zones import Zones

# The fused e(t) is the rule's value (its key "fused"); the fused map needs no more patch averaging (patch 1)
FUSED_SCORING = ScoringConfig(kind="fused", reduce="local_max", patch=1, per_place=False, smooth_sigma=3.0)
PART_ERRORS = ("autoencoder_error", "motion_error")  # each part's unsmoothed e(t), kept in the analysis
INBOX_FRAMES = 64  # frames a part may fall behind the stream before the stream waits for it

Part = LoadedModel | MotionModel
PartBlocks = Callable[[Part, Iterable[np.ndarray | None], np.ndarray | None], Iterator[ScoredBlock]]


@dataclass
class FusedModel:
    """A fused detector ready to score: its two parts (each with its own card, calibration and scoring), the rule
    (fusion), and the fused score's scoring and calibration. Fields named as LoadedModel's, so the engine, the
    commands and the views take it as any detector; the map size, window, device and latent view are the
    autoencoder part's."""

    autoencoder: LoadedModel
    motion: MotionModel
    fusion: FusionConfig
    scoring: ScoringConfig
    calibration: Calibration
    card: ModelCard
    name: str
    scene: SceneReference | None = None
    zones: Zones | None = None

    @classmethod
    def uncalibrated(
        cls, autoencoder: LoadedModel, motion: MotionModel, fusion: FusionConfig, name: str, quantile: float = 0.99
    ) -> FusedModel:
        """Two parts and a rule, not calibrated yet (tau 1: c(t) is e(t)), for choosing the rule and calibrating."""
        calibration = Calibration.uncalibrated(quantile)
        sigma = max(autoencoder.scoring.smooth_sigma, motion.scoring.smooth_sigma)
        scoring = replace(FUSED_SCORING, smooth_sigma=sigma)
        fusion = replace(fusion, input_size=autoencoder.cfg.input_size)
        parts = Parts(autoencoder.card, motion.card)
        card = ModelCard(model=fusion, calibration=calibration, kind="fused", scoring=scoring, name=name, parts=parts)
        return cls(autoencoder, motion, fusion, scoring, calibration, card, name)

    @property
    def cfg(self) -> ModelConfig:
        """The map size and window the engine works in: the autoencoder part's architecture."""
        return self.autoencoder.cfg

    @property
    def normalizer(self) -> Normalizer:
        return self.autoencoder.normalizer

    @property
    def projection(self) -> LatentProjection | None:
        return self.autoencoder.projection

    @property
    def device(self) -> torch.device:
        return self.autoencoder.device

    @property
    def window(self) -> int:
        """Frames a live source reads, and drops, as one: the autoencoder's T (the motion part's window is the same)."""
        return self.autoencoder.window

    def weights(self) -> dict[str, np.ndarray]:
        """What was fitted, by name: both parts' (prefixed with the part) and the rule chosen."""
        out = {f"autoencoder.{k}": v for k, v in self.autoencoder.weights().items()}
        out |= {f"motion.{k}": v for k, v in self.motion.weights().items()}
        return out | {"fusion.rule": np.frombuffer(self.fusion.name.encode(), np.uint8)}

    def prepare(self, gray: np.ndarray) -> np.ndarray:
        """A decoded uint8 gray frame at the motion part's flow size; the autoencoder part resizes it for itself."""
        return self.motion.prepare(gray)

    def with_rule(self, fusion: FusionConfig) -> FusedModel:
        """The same parts under another rule (uncalibrated: its tau is fitted again for it)."""
        return replace(self.uncalibrated(self.autoencoder, self.motion, fusion, self.name), zones=self.zones)

    def fused_error(self, errors: dict[str, np.ndarray]) -> np.ndarray:
        """The rule over the parts' calibrated errors, from a block's or an analysis's frame_errors (PART_ERRORS)."""
        a = errors["autoencoder_error"] / self.autoencoder.calibration.tau
        m = errors["motion_error"] / self.motion.calibration.tau
        return fuse(a, m, self.fusion)

    def fuse_blocks(self, autoencoder: ScoredBlock, motion: ScoredBlock) -> ScoredBlock:
        """Two parts' blocks of the same frames as one block: the autoencoder's appearance map, frames,
        reconstructions, latent states and health; the motion part's ratio map and its frame errors; each part's
        e(t) and the fused e(t) and map."""
        ae, flow, size = self.autoencoder, self.motion, self.cfg.input_size
        ratios = motion.maps["motion"]
        if ratios.shape[1:] != (size, size):  # a motion part fitted at another map size
            ratios = np.stack([cv2.resize(r, (size, size), interpolation=cv2.INTER_NEAREST) for r in ratios])
        ae_map = patch_mean(autoencoder.maps[ae.scoring.kind].astype(np.float32), ae.scoring.patch)
        flow_map = ratios.astype(np.float32) / flow.calibration.pixel_tau
        fused_map = np.maximum(ae_map / ae.calibration.pixel_tau, flow_map).astype(np.float16)
        errors = {k: v for k, v in autoencoder.errors.items() if k.startswith("appearance_")} | motion.errors
        errors |= {"autoencoder_error": autoencoder.errors[ae.scoring.error_key]}
        errors |= {"motion_error": motion.errors[flow.scoring.error_key]}
        errors["fused"] = self.fused_error(errors)
        return ScoredBlock(
            maps={"appearance": autoencoder.maps["appearance"], "motion": ratios, "fused": fused_map},
            errors=errors,
            inputs=autoencoder.inputs,
            recons=autoencoder.recons,
            first=None,
            last=None,
            latent=autoencoder.latent,
            health=autoencoder.health,
            start=autoencoder.start,
        )

    def score_blocks(
        self, frames: Iterable[np.ndarray | None], part_blocks: PartBlocks, mask: np.ndarray | None = None
    ) -> Iterator[ScoredBlock]:
        """Fused ScoredBlocks in frame order. part_blocks(part, frames, mask) scores one part's frames as the engine
        does (vad_core.pipeline.engine.detector_blocks); each part runs in a thread of its own, fed frame by frame
        (a None, a live source waiting, is passed on so that finished blocks come out). mask: the zones' (S, S)."""
        size = self.motion.cfg.input_size
        motion_mask = mask
        if mask is not None and mask.shape != (size, size):
            motion_mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)
        runs = (
            _PartRun("autoencoder", lambda f: part_blocks(self.autoencoder, f, mask), self.autoencoder.prepare),
            _PartRun("motion", lambda f: part_blocks(self.motion, f, motion_mask), None),
        )
        pending: tuple[deque[ScoredBlock], deque[ScoredBlock]] = (deque(), deque())
        try:
            for frame in frames:
                for run in runs:
                    run.send(frame)
                yield from self._aligned(runs, pending, wait=False)
            for run in runs:
                run.finish()
            yield from self._aligned(runs, pending, wait=True)
        finally:
            for run in runs:
                run.stop()
        if any(pending):
            raise RuntimeError("the fused detector's parts scored different numbers of frames")

    def _aligned(
        self, runs: tuple[_PartRun, _PartRun], pending: tuple[deque, deque], wait: bool
    ) -> Iterator[ScoredBlock]:
        """Fused blocks of the frames both parts have scored so far (with wait, of all they will score)."""
        for run, blocks in zip(runs, pending, strict=True):
            blocks.extend(run.take(wait))
        while all(pending):
            n = min(len(blocks[0].inputs) for blocks in pending)
            heads = []
            for blocks in pending:
                head, tail = blocks[0].split(n)
                if len(tail.inputs):
                    blocks[0] = tail
                else:
                    blocks.popleft()
                heads.append(head)
            yield self.fuse_blocks(*heads)


_END = object()  # the end of a part's frames, or of its blocks


class _PartRun:
    """One part's block stream, run in a thread of its own on frames handed to it one at a time (prepare: how the
    part takes a frame; None: as it comes). Its blocks wait in an unbounded outbox; its inbox holds at most
    INBOX_FRAMES frames, so a slow part holds the stream back instead of letting frames pile up."""

    def __init__(
        self,
        name: str,
        blocks: Callable[[Iterator[np.ndarray | None]], Iterator[ScoredBlock]],
        prepare: Callable[[np.ndarray], np.ndarray] | None,
    ) -> None:
        self.prepare = prepare
        self.inbox: queue.Queue = queue.Queue(maxsize=INBOX_FRAMES)
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()
        self.ended = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(blocks,), name=f"vad-fused-{name}", daemon=True)
        self._thread.start()

    def _frames(self) -> Iterator[np.ndarray | None]:
        while True:
            try:
                item = self.inbox.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if item is _END:
                return
            yield item

    def _run(self, blocks: Callable[[Iterator[np.ndarray | None]], Iterator[ScoredBlock]]) -> None:
        try:
            for block in blocks(self._frames()):
                self.outbox.put(block)
        except BaseException as err:  # handed to the stream's thread, which raises it
            self.outbox.put(err)
        finally:
            self.outbox.put(_END)

    def _put(self, item: object) -> None:
        """Into the inbox, waiting while it is full; nothing once the thread has ended (its error is in the outbox)."""
        while self._thread.is_alive():
            try:
                self.inbox.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def send(self, frame: np.ndarray | None) -> None:
        """A frame to score; None (a live source waiting) only when the part has nothing else to read, as a tick."""
        if frame is not None:
            self._put(self.prepare(frame) if self.prepare else frame)
        elif self.inbox.empty():
            with contextlib.suppress(queue.Full):
                self.inbox.put_nowait(None)

    def finish(self) -> None:
        self._put(_END)

    def take(self, wait: bool) -> list[ScoredBlock]:
        """The blocks finished so far (with wait: every block, until the part ends); a part's error is raised."""
        out = []
        while not self.ended:
            try:
                item = self.outbox.get(block=wait)
            except queue.Empty:
                break
            if item is _END:
                self.ended = True
            elif isinstance(item, BaseException):
                raise item
            else:
                out.append(item)
        return out

    def stop(self) -> None:
        """Let the thread end (the stream closed early or failed) and wait for it."""
        self._stop.set()
        self._thread.join()
