"""The one engine: frames in, an Analysis out. A file (vad_core.pipeline.analysis), a live source
(vad_core.pipeline.live) and a batch worker all feed analyze_frames.

    result = analyze_frames(frames, load_checkpoint(), name="cam", fps=10.0, on_block=view.update)

The model runs on blocks of windows in worker threads (vad_core.model.inference.map_blocks); each block is scored
there (_score_block: maps, every frame error, 8-bit frames, camera-health figures) and stitched here in order.
The model's zones (vad_core.scoring.zones) mask every map here, before any frame error is taken from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch

from vad_core.io.framestore import DEFAULT_BUDGET_BYTES, FrameStore
from vad_core.model.checkpoint import Detector, LoadedModel
from vad_core.model.fused import FusedModel
from vad_core.model.inference import map_blocks, window_positions
from vad_core.model.motion.detector import BLOCK_FRAMES, MotionModel
from vad_core.model.preprocess import Normalizer
from vad_core.pipeline.frame_errors import error_keys, reductions
from vad_core.pipeline.result import Analysis
from vad_core.scoring.blocks import ScoredBlock
from vad_core.scoring.health import HEALTH_FIGURES, block_figures, borrow_first_change, change_between
from vad_core.scoring.latent import LATENT_GRID
from vad_core.scoring.scene import background_distance
from vad_core.scoring.scores import ERROR_KINDS, ScoringConfig, motion_error_map
from vad_core.stages import StageClock

Progress = Callable[[int, int], None]


def _to_u8(frames: torch.Tensor, norm: Normalizer) -> np.ndarray:
    """Normalized frames back to uint8 pixels: clip(x * std + mean, 0, 1) * 255, rounded."""
    mean = torch.from_numpy(norm.mean_frame)
    pixels = frames.mul(norm.std).add_(mean).clamp_(0.0, 1.0).mul_(255.0).add_(0.5)
    return pixels.to(torch.uint8).numpy()


def _score_block(
    x: np.ndarray,
    r: np.ndarray,
    z: np.ndarray,
    norm: Normalizer,
    scoring: ScoringConfig,
    place_scales: dict[str, np.ndarray],
    mask: torch.Tensor | None = None,
) -> ScoredBlock:
    """Maps, frame errors and 8-bit frames of a block; the formulas of vad_core.scoring.scores, in torch for speed.
    mask: (S, S), 0 where the zones mask a place (None: no zones)."""
    tx, tr = torch.from_numpy(x), torch.from_numpy(r)
    inputs = _to_u8(tx, norm)
    appearance = torch.square(tx - tr)  # appearance_error_map
    motion = torch.zeros(tx.shape)
    dx, dr = tx[1:] - tx[:-1], tr[1:] - tr[:-1]
    if scoring.motion == "missed":  # motion_error_map's forms
        motion[1:] = torch.clamp_min(torch.square(dx) - torch.square(dr), 0)
    else:
        motion[1:] = torch.square(dx - dr)
    if mask is not None:
        appearance.mul_(mask)
        motion.mul_(mask)
    appearance, motion = appearance.half().numpy(), motion.half().numpy()
    errors = reductions("appearance", appearance, scoring, place_scales.get("appearance"))
    errors |= reductions("motion", motion, scoring, place_scales.get("motion"))
    return ScoredBlock(
        maps={"appearance": appearance, "motion": motion},
        errors=errors,
        inputs=inputs,
        recons=_to_u8(tr, norm),
        first=(x[0], r[0]),
        last=(x[-1], r[-1]),
        latent=z,
        health=block_figures(inputs, norm.mean_frame),
    )


def _autoencoder_blocks(
    model: LoadedModel,
    frames: Iterable[np.ndarray | None],
    mask: np.ndarray | None,
    workers: int | None,
    batch_windows: int | None,
    clock: StageClock,
) -> Iterator[ScoredBlock]:
    """The autoencoder's scored blocks in order (map_blocks), each block's first motion map stitched to the
    previous block's last frame (frame 0 of the clip has no predecessor: it borrows frame 1's)."""
    norm, scoring = model.normalizer, model.scoring
    place_scales = model.scene.place_scale if model.scene else {}
    mask_tensor = torch.from_numpy(mask) if mask is not None else None
    blocks = map_blocks(
        model.net,
        norm,
        frames,
        lambda x, r, z: _score_block(x, r, z, norm, scoring, place_scales, mask_tensor),
        workers=workers,
        latent_grid=LATENT_GRID,
        batch_windows=batch_windows,
        clock=clock,
    )
    prev: tuple[np.ndarray, np.ndarray] | None = None
    for block in blocks:
        with clock.measure("stitching"):
            motion = block.maps["motion"]
            if prev is None:
                motion[0] = motion[1]
            else:
                motion[0] = _masked(motion_error_map(*block.first, *prev, scoring.motion), mask)
            for key, value in reductions("motion", motion[:1], scoring, place_scales.get("motion")).items():
                block.errors[key][0] = value[0]
            prev = block.last
        yield block


def detector_blocks(
    model: Detector,
    frames: Iterable[np.ndarray | None],
    mask: np.ndarray | None = None,
    workers: int | None = None,
    batch_windows: int | None = None,
    clock: StageClock | None = None,
) -> Iterator[ScoredBlock]:
    """The detector interface the engine calls: a detector turns the frames it prepared (Detector.prepare) into
    ScoredBlocks in frame order, each with its maps, every frame error, the uint8 frames at the map size and the
    camera-health figures. The autoencoder runs windows of T frames (above); a motion detector scores blocks of
    flow (vad_core.model.motion.detector); batch_windows (a live source's 1) sizes its blocks in windows too. A fused
    detector (vad_core.model.fused) runs each of its parts through this same function and fuses their blocks."""
    clock = clock or StageClock()
    if isinstance(model, FusedModel):

        def part_blocks(part: Detector, part_frames: Iterable[np.ndarray | None], part_mask: np.ndarray | None):
            return detector_blocks(part, part_frames, part_mask, workers, batch_windows, clock)

        return model.score_blocks(frames, part_blocks, mask)
    if isinstance(model, MotionModel):
        block_frames = batch_windows * model.window if batch_windows else BLOCK_FRAMES
        return model.score_blocks(frames, mask, clock, block_frames, workers)
    return _autoencoder_blocks(model, frames, mask, workers, batch_windows, clock)


def analyze_frames(
    frames: Iterable[np.ndarray | None],
    model: Detector,
    name: str = "clip",
    fps: float = 10.0,
    source_size: tuple[int, int] = (0, 0),
    total: int = 0,
    progress: Progress | None = None,
    workers: int | None = None,
    budget_bytes: int = DEFAULT_BUDGET_BYTES,
    batch_windows: int | None = None,
    on_block: Callable[[ScoredBlock], None] | None = None,
    clock: StageClock | None = None,
) -> Analysis:
    """Analyze frames as the model prepared them (Detector.prepare: for the autoencoder, resized to its input,
    float32 in [0, 1]; for a motion or fused detector, uint8 at the flow's own size).

    Frames stream through: the model and the scoring run on blocks in worker threads while the next
    frames decode; maps, inputs and reconstructions go to stores that spill to disk past budget_bytes each.
    This is the one engine: a file, a live stream and a batch worker all feed it. A live source passes
    batch_windows=1 (a window is scored as soon as its T frames are in), yields None while it waits for a
    frame (so that finished windows are passed on meanwhile), and passes on_block, which sees each scored
    block in frame order (the clip's frames block.start onwards) as soon as it is stitched.
    clock: where the CPU time of each stage is counted (Analysis.stage_seconds).
    """
    started = time.perf_counter()
    clock = clock or StageClock()
    norm = model.normalizer
    size = (model.cfg.input_size, model.cfg.input_size)
    stores: dict[str, FrameStore] = {}
    place_scales = model.scene.place_scale if model.scene else {}
    autoencoder = isinstance(model, LoadedModel)
    errors: dict[str, list[np.ndarray]] = {key: [] for key in error_keys(bool(place_scales))} if autoencoder else {}
    mask = model.zones.place_mask(source_size, size[0]) if model.zones else None
    health: dict[str, list[np.ndarray]] = {key: [] for key in HEALTH_FIGURES}
    prev_input: np.ndarray | None = None
    done = 0
    # This thread decodes and stitches blocks; its few torch ops would fork an OpenMP team whose idle thread
    # spins, after each, on a core the model workers need. One thread here (restored after).
    caller_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for block in detector_blocks(model, frames, mask, workers, batch_windows, clock):
            with clock.measure("stitching"):
                block.start = done
                if prev_input is None:  # frame 0 has no predecessor: borrow frame 1's change
                    borrow_first_change(block.health)
                else:
                    block.health["change"][0] = change_between(prev_input, block.inputs[0])
                prev_input = block.inputs[-1]
                for key, value in block.health.items():
                    health[key].append(value)
                arrays = block.maps | {"inputs": block.inputs, "recons": block.recons, "latent": block.latent}
                for key, value in arrays.items():
                    if value is None:
                        continue
                    if key not in stores:  # the latent's width (channels x grid cells) is known from the first block
                        stores[key] = FrameStore(value.shape[1:], value.dtype, budget_bytes)
                    stores[key].append(value)
                for key, value in block.errors.items():
                    errors.setdefault(key, []).append(value)
                done += len(block.inputs)
                if on_block is not None:
                    on_block(block)
                if progress:
                    progress(done, total)
        arrays = {key: store.finish() for key, store in stores.items()}
    finally:
        torch.set_num_threads(caller_threads)
        for store in stores.values():
            store.close()
    if progress:
        progress(done, done)
    with clock.measure("scoring"):  # the whole clip's background for the scene check
        background = background_distance(arrays["inputs"], norm.mean_frame, norm.std)
    latent = arrays.get("latent")
    return Analysis(
        name=name,
        fps=fps,
        source_size=source_size,
        scoring=model.scoring,
        tau=model.calibration.tau,
        pixel_tau=model.calibration.pixel_tau,
        frame_errors={key: np.concatenate(values) for key, values in errors.items()},
        maps={kind: arrays[kind] for kind in ERROR_KINDS if kind in arrays},
        inputs=arrays["inputs"],
        recons=arrays.get("recons", arrays["inputs"]),  # a motion detector redraws nothing: its frames as they are
        seconds=time.perf_counter() - started,
        stage_seconds=clock.seconds,
        model_name=model.name,
        latent=latent,
        latent_position=window_positions(done, model.cfg.time_steps) if latent is not None else None,
        latent_projection=model.projection,
        scene_reference=model.scene,
        background=background,
        health={key: np.concatenate(values) if values else np.empty(0) for key, values in health.items()},
        zones=model.zones or None,
    )


def _masked(error_map: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return error_map if mask is None else error_map * mask
