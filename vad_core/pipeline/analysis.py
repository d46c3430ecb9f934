"""analyze(video, model) -> Analysis: every number the CLI and the app show comes from here.

result = analyze("Test004.mp4", load_checkpoint(), progress=lambda done, total: ...)
result.score          # calibrated c(t) per frame; > 1 is beyond normal
result.segments()     # runs above the threshold
result.latent_trajectory().points    # (N, 2): the latent view, each frame's bottleneck state in 2-D
"""

from __future__ import annotations

import csv
import json
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from vad_core.cpu import decode_threads
from vad_core.errors import BadInput
from vad_core.io.framestore import DEFAULT_BUDGET_BYTES, FrameStore, iter_chunks
from vad_core.io.limits import (
    AnalysisLimits,
    FrameSelection,
    OverLimit,
    check_size,
    limited,
    over_limit_message,
    select,
)
from vad_core.io.video import IN_PROCESS, Decoder, resize_scale
from vad_core.model.checkpoint import LoadedModel
from vad_core.model.inference import map_blocks, model_device, window_positions
from vad_core.model.preprocess import Normalizer
from vad_core.scoring.health import (
    HEALTH_FIGURES,
    HealthSegment,
    block_figures,
    borrow_first_change,
    change_between,
    health_scores,
    health_segments,
)
from vad_core.scoring.latent import LATENT_GRID, LatentProjection, LatentTrajectory, trajectory
from vad_core.scoring.scene import SceneCheck, SceneReference, background_distance, check_scene, frame_figures
from vad_core.scoring.scores import (
    ERROR_KINDS,
    LOCAL_REDUCTIONS,
    REDUCTIONS,
    ScoringConfig,
    Segment,
    calibrated,
    find_segments,
    motion_error_map,
    patch_mean,
    reduce_maps_all,
    regularity,
    smooth,
)
from vad_core.stages import StageClock

if TYPE_CHECKING:
    import pandas as pd

Progress = Callable[[int, int], None]

HEAT_RANGE = 4.0  # heatmaps and error_maps.npz's 255 steps span 0 .. HEAT_RANGE x pixel_tau


@dataclass(frozen=True)
class SegmentRule:
    """Threshold on the calibrated score plus the run-length rules that make segments."""

    threshold: float = 1.0
    min_duration: int = 3
    merge_gap: int = 5


@dataclass
class Analysis:
    """Per-frame errors of all kinds, error maps and reconstructions of one clip, plus how to score them.

    maps (float16) and inputs/recons (uint8) are (N, S, S) arrays; for long clips they are read-only
    memory maps of temporary files (vad_core.io.framestore), so memory does not grow with the clip.
    latent (float16, N x D, D = C * 16: 1 KB a frame for the paper's model) holds each frame's pooled
    bottleneck state for the latent view, captured in the same model pass and spilled like the maps;
    latent_position each frame's place in its T-frame window; latent_projection is the model's PCA of
    normal frames, if its card has one.
    """

    name: str
    fps: float
    source_size: tuple[int, int]
    scoring: ScoringConfig
    tau: float
    pixel_tau: float
    frame_errors: dict[str, np.ndarray]
    maps: dict[str, np.ndarray]
    inputs: np.ndarray
    recons: np.ndarray
    seconds: float = 0.0
    model_name: str = ""
    rule: SegmentRule = field(default_factory=SegmentRule)
    first_frame: int = 0  # source frame of row 0, and source frames between rows (a sub-range, every k-th)
    frame_step: int = 1
    warnings: list[str] = field(default_factory=list)  # e.g. a truncated file: the frames that decoded were used
    latent: np.ndarray | None = None
    latent_position: np.ndarray | None = None
    latent_projection: LatentProjection | None = None
    scene_reference: SceneReference | None = None
    background: float = 0.0  # the static background's distance from the model's mean frame (see vad_core.scoring.scene)
    health: dict[str, np.ndarray] | None = None  # per-frame camera-health figures (vad_core.scoring.health)
    source_frames: np.ndarray | None = None  # a live run's source frame numbers (it may skip whole windows)
    stage_seconds: dict[str, float] = field(default_factory=dict)  # CPU seconds per stage (vad_core.stages)

    @property
    def frame_count(self) -> int:
        return len(self.inputs)

    def raw_error(self, scoring: ScoringConfig | None = None) -> np.ndarray:
        """e(t) before smoothing, for a scoring config (default: the model's)."""
        key = error_key(scoring or self.scoring)
        if key not in self.frame_errors:
            raise BadInput(f"this analysis has no {key} errors: the model card has no per-place statistics")
        return self.frame_errors[key]

    @property
    def error(self) -> np.ndarray:
        """e(t): the model's frame error, smoothed over time."""
        return smooth(self.raw_error(), self.scoring.smooth_sigma)

    @property
    def regularity(self) -> np.ndarray:
        return regularity(self.error)

    @property
    def score(self) -> np.ndarray:
        return calibrated(self.error, self.tau)

    @property
    def frames_per_second(self) -> float:
        return self.frame_count / self.seconds if self.seconds > 0 else 0.0

    def segments(self, rule: SegmentRule | None = None) -> list[Segment]:
        rule = rule or self.rule
        return find_segments(self.score, rule.threshold, rule.min_duration, rule.merge_gap)

    def latent_trajectory(self) -> LatentTrajectory | None:
        """The frames as a 2-D path: the model's projection, else a PCA of this clip's frames with c(t) < 1."""
        if self.latent is None:
            return None
        return trajectory(self.latent, self.latent_position, self.score, self.latent_projection)

    @property
    def place_scale(self) -> np.ndarray | None:
        """The place scale this analysis's scoring divides by, or None when it scores without one."""
        if not self.scoring.per_place or self.scene_reference is None:
            return None
        return self.scene_reference.place_scale.get(self.scoring.kind)

    def score_places(self, place_scales: dict[str, np.ndarray]) -> None:
        """(Re)compute the per-place frame errors (the _place keys) with these place scales."""
        for kind, scale in place_scales.items():
            parts = [reductions(kind, np.asarray(chunk), self.scoring, scale) for chunk in iter_chunks(self.maps[kind])]
            for key in parts[0] if parts else []:
                if key.endswith("_place"):
                    self.frame_errors[key] = np.concatenate([part[key] for part in parts])

    def scene_figures(self, projection: LatentProjection | None = None) -> dict[str, np.ndarray]:
        """Per-frame figures of the scene check (vad_core.scoring.scene.frame_figures)."""
        projection = projection or self.latent_projection
        pixels = int(np.prod(self.inputs.shape[1:]))
        mean = projection.mean if projection is not None else None
        return frame_figures(self.frame_errors["appearance_sum"], pixels, self.latent, self.latent_position, mean)

    def scene_check(self) -> SceneCheck | None:
        """Whether this clip looks like the model's scene; None for a model whose card has no scene reference."""
        return self._scene_check

    @cached_property
    def _scene_check(self) -> SceneCheck | None:  # asked by the CLI, segments.json and several views each rerun
        if self.scene_reference is None or self.frame_count == 0:
            return None
        return check_scene(self.scene_figures(), self.background, self.scene_reference)

    def health_scores(self) -> dict[str, np.ndarray] | None:
        """Per health kind, how far past its normal limit each frame is (> 1: faulty); None without a reference.
        On a clip the scene check finds unfamiliar, a cover or move over most of it is another camera, not a fault."""
        reference = self.scene_reference.health if self.scene_reference is not None else None
        if reference is None or self.health is None:
            return None
        scores = health_scores(self.health, reference)
        scene = self.scene_check()
        for kind in ("covered", "moved"):  # most of a clip of another scene "covered" or "moved": another camera,
            if scene is not None and not scene.familiar and np.mean(scores[kind] > 1) > 0.5:  # as the scene
                scores[kind] = np.zeros(self.frame_count)  # warning says; a mid-clip fault is still one
        return scores

    def health_segments(self) -> list[HealthSegment]:
        """Camera-health findings (frozen, covered, moved): segments of their own kind, not anomalies."""
        return list(self._health_segments)

    @cached_property
    def _health_segments(self) -> tuple[HealthSegment, ...]:
        scores = self.health_scores()
        return tuple(health_segments(scores)) if scores is not None else ()

    def local_map(self, frame: int, kind: str | None = None) -> np.ndarray:
        """Patch-averaged error map of a frame: the map whose max is the localized frame error."""
        return patch_mean(self.maps[kind or self.scoring.kind][frame].astype(np.float32), self.scoring.patch)

    def scores_columns(self, rule: SegmentRule | None = None) -> dict[str, np.ndarray]:
        """The contract's scores.csv columns, in order."""
        flags = np.zeros(self.frame_count, dtype=np.int8)
        for seg in self.segments(rule):
            flags[seg.start : seg.end + 1] = 1
        source_frame = self.first_frame + self.frame_step * np.arange(self.frame_count)
        if self.source_frames is not None:
            source_frame = self.source_frames
        return {
            "frame": source_frame,
            "time_s": source_frame / (self.fps * self.frame_step),
            "error": self.error,
            "regularity": self.regularity,
            "score": self.score,
            "anomalous": flags,
        }

    def scores_frame(self, rule: SegmentRule | None = None) -> pd.DataFrame:
        """The contract's scores.csv table."""
        import pandas as pd  # a third of a second of imports the CLI's analyze does without

        return pd.DataFrame(self.scores_columns(rule))

    def _anomaly_dict(self, segment: Segment, health: list[HealthSegment]) -> dict:
        """An anomaly segment for segments.json; where the camera was unhealthy its score means nothing, and
        camera_fault says which fault overlapped it."""
        faults = sorted({h.kind for h in health if h.start <= segment.end and segment.start <= h.end})
        return {"kind": "anomaly"} | segment.to_dict(self.fps) | ({"camera_fault": faults} if faults else {})

    def segments_document(self, rule: SegmentRule | None = None) -> dict:
        rule = rule or self.rule
        health = self.health_segments()
        return {
            "video": self.name,
            "model": self.model_name,
            "frames": self.frame_count,
            "fps": self.fps,
            "first_frame": self.first_frame,
            "frame_step": self.frame_step,
            "warnings": self.warnings,
            "threshold": rule.threshold,
            "min_duration": rule.min_duration,
            "merge_gap": rule.merge_gap,
            "score": "calibrated c(t) = e(t) / tau",
            "tau": self.tau,
            "scene": scene.to_dict() if (scene := self.scene_check()) is not None else None,
            "segments": [self._anomaly_dict(s, health) for s in self.segments(rule)],
            "health": [h.to_dict(self.fps) for h in health],
        }

    def save(self, out_dir: str | Path, rule: SegmentRule | None = None) -> Path:
        """Write scores.csv, segments.json and error_maps.npz (uint8 at model resolution)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _write_csv(out / "scores.csv", self.scores_columns(rule))
        (out / "segments.json").write_text(json.dumps(self.segments_document(rule), indent=2) + "\n")
        scale = HEAT_RANGE * self.pixel_tau
        steps = quantization_table(scale)
        arrays = {  # chunk by chunk: long clips stay on disk
            kind: (
                (len(maps), *maps.shape[1:]),
                (steps[np.asarray(c, np.float16).view(np.uint16)] for c in iter_chunks(maps)),
            )
            for kind, maps in self.maps.items()
        }
        _write_npz(out / "error_maps.npz", {"scale": np.float32(scale)}, arrays)
        return out


def quantization_table(scale: float) -> np.ndarray:
    """uint8 step of every float16 value (indexed by its bits): clip(v / scale * 255, 0, 255), truncated; NaN
    and negatives 0. One table look-up a pixel: 6x faster than the arithmetic over float32 copies."""
    values = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        steps = np.clip(np.nan_to_num(values / scale * 255.0, nan=0.0), 0, 255)
    return steps.astype(np.uint8)


def _write_csv(path: Path, columns: dict[str, np.ndarray]) -> None:
    """A table as CSV, numbers as Python writes them (the shortest text that reads back to the same value)."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(zip(*(np.asarray(v).tolist() for v in columns.values()), strict=True))


def _write_npz(path: Path, small: dict[str, np.ndarray], uint8_streams: dict) -> None:
    """np.savez's format (read back with np.load), the large uint8 arrays written chunk by chunk. Uncompressed:
    deflate took a fifth of a whole `analyze --out` run (11 s of 70 for 6,030 frames); stored, the maps are
    written at disk speed (34 KB a frame at 131 px, both kinds)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in small.items():
            with zf.open(f"{name}.npy", "w") as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
        for name, (shape, chunks) in uint8_streams.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False}
                np.lib.format.write_array_header_1_0(f, header | {"shape": shape})
                for chunk in chunks:
                    f.write(np.ascontiguousarray(chunk).data)


def _to_u8(frames: torch.Tensor, norm: Normalizer) -> np.ndarray:
    """Normalized frames back to uint8 pixels: clip(x * std + mean, 0, 1) * 255, rounded."""
    mean = torch.from_numpy(norm.mean_frame)
    pixels = frames.mul(norm.std).add_(mean).clamp_(0.0, 1.0).mul_(255.0).add_(0.5)
    return pixels.to(torch.uint8).numpy()


@dataclass
class ScoredBlock:
    """Everything analysis keeps of a block of frames, computed in a worker thread; live views read it as it
    comes (analyze_frames' on_block), with start the clip's index of its first frame."""

    maps: dict[str, np.ndarray]  # float16 (n, S, S); motion[0] waits for the previous block's last frame
    errors: dict[str, np.ndarray]  # "kind_reduce" -> (n,)
    inputs: np.ndarray  # uint8 (n, S, S)
    recons: np.ndarray
    first: tuple[np.ndarray, np.ndarray]  # normalized (x, r) of the first and last frames
    last: tuple[np.ndarray, np.ndarray]
    latent: np.ndarray  # float16 (n, D): pooled bottleneck states
    # camera-health figures (vad_core.scoring.health); change[0] waits for the previous block, as motion[0]
    health: dict[str, np.ndarray]
    start: int = 0


def error_keys(per_place: bool) -> list[str]:
    """The frame_errors keys an analysis holds: every kind and reduction, and their per-place variants."""
    keys = [f"{kind}_{reduce}" for kind in ERROR_KINDS for reduce in REDUCTIONS]
    return keys + [f"{kind}_{reduce}_place" for kind in ERROR_KINDS for reduce in LOCAL_REDUCTIONS] * per_place


def error_key(scoring: ScoringConfig) -> str:
    """The frame_errors key of a scoring config."""
    place = "_place" if scoring.per_place and scoring.reduce in LOCAL_REDUCTIONS else ""
    return f"{scoring.kind}_{scoring.reduce}{place}"


def reductions(
    kind: str, maps: np.ndarray, scoring: ScoringConfig, place_scale: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Every frame reduction of float16 maps (taken in float32, whose values they are exactly); with a place
    scale, the local ones again on the place-normalized patch means (keys ending in _place)."""
    as_float = torch.from_numpy(maps).float().numpy()  # torch converts float16 several times faster than numpy
    return {f"{kind}_{key}": v for key, v in reduce_maps_all(as_float, scoring, place_scale).items()}


def _score_block(
    x: np.ndarray,
    r: np.ndarray,
    z: np.ndarray,
    norm: Normalizer,
    scoring: ScoringConfig,
    place_scales: dict[str, np.ndarray],
) -> ScoredBlock:
    """Maps, frame errors and 8-bit frames of a block; the formulas of vad_core.scoring.scores, in torch for speed."""
    tx, tr = torch.from_numpy(x), torch.from_numpy(r)
    inputs = _to_u8(tx, norm)
    appearance = torch.square(tx - tr).half().numpy()  # appearance_error_map
    motion = torch.zeros(tx.shape, dtype=torch.float16)
    dx, dr = tx[1:] - tx[:-1], tr[1:] - tr[:-1]
    if scoring.motion == "missed":  # motion_error_map's forms
        motion[1:] = torch.clamp_min(torch.square(dx) - torch.square(dr), 0)
    else:
        motion[1:] = torch.square(dx - dr)
    motion = motion.numpy()
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


def analyze_frames(
    frames: Iterable[np.ndarray | None],
    model: LoadedModel,
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
    """Analyze frames already resized to the model's input (float32 in [0, 1]).

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
    stores = {kind: FrameStore(size, np.float16, budget_bytes) for kind in ERROR_KINDS}
    stores |= {kind: FrameStore(size, np.uint8, budget_bytes) for kind in ("inputs", "recons")}
    scoring = model.scoring
    place_scales = model.scene.place_scale if model.scene else {}
    errors: dict[str, list[np.ndarray]] = {key: [] for key in error_keys(bool(place_scales))}
    health: dict[str, list[np.ndarray]] = {key: [] for key in HEALTH_FIGURES}
    prev: tuple[np.ndarray, np.ndarray] | None = None
    prev_input: np.ndarray | None = None
    done = 0
    # This thread decodes and stitches blocks; its few torch ops would fork an OpenMP team whose idle thread
    # spins, after each, on a core the model workers need. One thread here (restored after).
    caller_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        blocks = map_blocks(
            model.net,
            norm,
            frames,
            lambda x, r, z: _score_block(x, r, z, norm, scoring, place_scales),
            workers=workers,
            latent_grid=LATENT_GRID,
            batch_windows=batch_windows,
            clock=clock,
        )
        for block in blocks:
            with clock.measure("stitching"):
                block.start = done
                motion = block.maps["motion"]
                if prev is None:  # frame 0 has no predecessor: borrow frame 1's motion and change
                    motion[0] = motion[1]
                    borrow_first_change(block.health)
                else:
                    motion[0] = motion_error_map(*block.first, *prev, scoring.motion)
                    block.health["change"][0] = change_between(prev_input, block.inputs[0])
                for key, value in reductions("motion", motion[:1], scoring, place_scales.get("motion")).items():
                    block.errors[key][0] = value[0]
                prev, prev_input = block.last, block.inputs[-1]
                for key, value in block.health.items():
                    health[key].append(value)
                for kind in ERROR_KINDS:
                    stores[kind].append(block.maps[kind])
                stores["inputs"].append(block.inputs)
                stores["recons"].append(block.recons)
                for key, value in block.errors.items():
                    errors[key].append(value)
                if "latent" not in stores:  # its width (channels x grid cells) is known from the first block
                    stores["latent"] = FrameStore(block.latent.shape[1:], np.float16, budget_bytes)
                stores["latent"].append(block.latent)
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
    return Analysis(
        name=name,
        fps=fps,
        source_size=source_size,
        scoring=model.scoring,
        tau=model.calibration.tau,
        pixel_tau=model.calibration.pixel_tau,
        frame_errors={key: np.concatenate(values) for key, values in errors.items()},
        maps={kind: arrays[kind] for kind in ERROR_KINDS},
        inputs=arrays["inputs"],
        recons=arrays["recons"],
        seconds=time.perf_counter() - started,
        stage_seconds=clock.seconds,
        model_name=model.name,
        latent=arrays["latent"],
        latent_position=window_positions(done, model.cfg.time_steps),
        latent_projection=model.projection,
        scene_reference=model.scene,
        background=background,
        health={key: np.concatenate(values) if values else np.empty(0) for key, values in health.items()},
    )


def analyze(
    video: str | Path,
    model: LoadedModel,
    progress: Progress | None = None,
    name: str | None = None,
    workers: int | None = None,
    selection: FrameSelection | None = None,
    limits: AnalysisLimits | None = None,
    decoder: Decoder = IN_PROCESS,
    on_frame: Callable[[np.ndarray], None] | None = None,
    clock: StageClock | None = None,
) -> Analysis:
    """Stream a video (file or frame folder) through the model and score every (selected) frame.

    limits refuse, as BadInput, a clip over max_frames (after the selection; known from the metadata, or
    counted while decoding when the metadata is wrong), frames over max_pixels, or slower than max_seconds.
    Frames that fail to decode at the end (a truncated file) are reported in Analysis.warnings.
    decoder: where FFmpeg runs (the app decodes uploads in a killable child: vad_core.io.sandbox).
    on_frame: sees each selected raw gray frame, so a caller can keep a preview without decoding twice.
    clock: where the CPU time of each stage is counted, decoding (this thread's share) included.
    """
    name = name or Path(video).name
    selection = selection or FrameSelection()
    limits = limits or AnalysisLimits()
    threads = decode_threads(model_device(model.net).type, workers)
    clock = clock or StageClock()
    try:
        with decoder.open(Path(video), threads) as opened:
            info = opened.info
            check_size(name, info.width, info.height, limits)
            wanted = selection.count(info.frame_count) if info.frame_count else 0
            if limits.max_frames is not None and wanted > limits.max_frames:
                fps = info.fps / selection.step
                raise OverLimit(over_limit_message(name, wanted, fps, limits), info.frame_count, info.fps)
            decoded = 0

            def frames() -> Iterator[np.ndarray]:
                nonlocal decoded
                for gray in limited(select(opened.frames, selection), limits, name, info.fps):
                    decoded += 1
                    if on_frame is not None:
                        on_frame(gray)
                    yield resize_scale(gray, model.cfg.input_size)

            result = analyze_frames(
                clock.timed("decode", frames()),
                model,
                name=name,
                fps=info.fps / selection.step,
                source_size=(info.width, info.height),
                total=wanted,
                progress=progress,
                workers=workers,
                clock=clock,
            )
    except BadInput as err:  # say which clip, as every other message does
        if str(err).startswith(f"{name}:"):
            raise
        raise BadInput(f"{name}: {err}") from err
    result.first_frame, result.frame_step = selection.start, selection.step
    if wanted and decoded < wanted - 1:  # containers may round their frame count by one
        result.warnings.append(
            f"{name}: decoded {decoded} of {wanted} frames; the rest was unreadable (a truncated or damaged file?)"
        )
    return result
