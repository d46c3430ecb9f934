"""The Analysis: one clip's per-frame errors, maps and reconstructions, and every number derived from them.

result.score          # calibrated c(t) per frame; > 1 is beyond normal
result.segments()     # runs above the threshold
result.source_frame(12)                # the source frame that row 12 shows (a sub-range, every k-th, a live run)
result.latent_trajectory().points    # (N, 2): the latent view, each frame's bottleneck state in 2-D
result.save("out")    # scores.csv, segments.json, error_maps.npz (vad_core.pipeline.writers)

The engine (vad_core.pipeline.engine) makes it; a saved batch result reads it back (vad_core.batch.stored).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vad_core.errors import BadInput
from vad_core.io.framestore import iter_chunks
from vad_core.io.limits import FrameSelection
from vad_core.pipeline.frame_errors import error_key, reductions
from vad_core.pipeline.writers import write_csv, write_error_maps
from vad_core.scoring.health import HealthSegment, health_scores, health_segments
from vad_core.scoring.latent import LatentProjection, LatentTrajectory, trajectory
from vad_core.scoring.scene import SceneCheck, SceneReference, check_scene, frame_figures
from vad_core.scoring.scores import (
    ScoringConfig,
    Segment,
    calibrated,
    find_segments,
    frame_labels_from_segments,
    patch_mean,
    regularity,
    smooth,
)
from vad_core.scoring.zones import Zones

if TYPE_CHECKING:
    import pandas as pd


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
    zones: Zones | None = None  # the zones that masked the maps (vad_core.scoring.zones); None: no zones

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

    def source_frame(self, row: int | np.ndarray) -> int | np.ndarray:
        """The source frame number of an analysis row (or of an array of rows): rows are a sub-range of the
        source, every k-th frame of it, or (a live run that dropped windows) the frames it scored."""
        if self.source_frames is not None:
            return self.source_frames[row]
        return self.first_frame + self.frame_step * row

    @property
    def source_end(self) -> int:
        """The source frame after the analyzed part: source frames 0 .. source_end - 1 are the ones it spans."""
        if self.source_frames is not None:
            return int(self.source_frames[-1]) + 1 if self.frame_count else 0
        return self.first_frame + self.frame_step * self.frame_count

    @property
    def rows_are_frames(self) -> bool:
        """Whether row t is source frame t (the whole clip, every frame), so that views need not say both."""
        if self.source_frames is not None:
            return bool(np.array_equal(self.source_frames, np.arange(self.frame_count)))
        return self.first_frame == 0 and self.frame_step == 1

    @property
    def selection(self) -> FrameSelection:
        """The part of the source these rows are (a live run's dropped windows aside)."""
        return FrameSelection(self.first_frame, None, self.frame_step)

    def rows_in(self, start: int, end: int) -> range:
        """The rows whose source frames lie in start .. end - 1 (end exclusive, as the card's and the CLI's
        ranges); empty when none does."""
        if self.source_frames is not None:
            first, last = np.searchsorted(self.source_frames, [start, end])
            return range(int(first), int(last))
        first = max(-(-(start - self.first_frame) // self.frame_step), 0)  # the first row at or after start
        last = min((end - 1 - self.first_frame) // self.frame_step, self.frame_count - 1)
        return range(first, max(first, last + 1))

    def rows(self, first: int, stop: int) -> Analysis:
        """Rows first .. stop - 1 as an Analysis of their own (an event's excerpt, saved with write_analysis and
        opened in the player): the same source frames, errors, maps and pictures; c(t) is smoothed again within
        the rows, so it differs from the whole clip's only within the smoothing radius of either edge."""
        first, stop = max(0, first), min(stop, self.frame_count)
        part = slice(first, stop)
        frames = self.source_frames[part] if self.source_frames is not None else None
        return replace(
            self,
            frame_errors={key: value[part] for key, value in self.frame_errors.items()},
            maps={key: value[part] for key, value in self.maps.items()},
            inputs=self.inputs[part],
            recons=self.recons[part],
            first_frame=int(self.source_frame(first)) if frames is None else self.first_frame,
            source_frames=frames,
            latent=self.latent[part] if self.latent is not None else None,
            latent_position=self.latent_position[part] if self.latent_position is not None else None,
            health={key: value[part] for key, value in self.health.items()} if self.health is not None else None,
            warnings=list(self.warnings),
        )

    def at_rows(self, per_source_frame: np.ndarray) -> np.ndarray:
        """A per-source-frame array (frame labels) at this analysis's rows; rows past its end are left out."""
        frames = self.source_frame(np.arange(self.frame_count))
        return np.asarray(per_source_frame)[frames[frames < len(per_source_frame)]]

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
        kind = "appearance" if "appearance" in self.maps else "motion"  # a motion detector redraws nothing
        sums = {kind: self.frame_errors[f"{kind}_sum"]}
        return frame_figures(sums, pixels, self.latent, self.latent_position, mean)

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

    def frame_map(self, frame: int, kind: str | None = None) -> np.ndarray:
        """A frame's error map (float16, S x S) of a kind (default: the scoring's)."""
        return self.maps[kind or self.scoring.kind][frame]

    def local_map(self, frame: int, kind: str | None = None) -> np.ndarray:
        """Patch-averaged error map of a frame: the map whose max is the localized frame error."""
        return patch_mean(self.frame_map(frame, kind).astype(np.float32), self.scoring.patch)

    def scores_columns(self, rule: SegmentRule | None = None) -> dict[str, np.ndarray]:
        """The contract's scores.csv columns, in order."""
        source_frame = self.source_frame(np.arange(self.frame_count))
        return {
            "frame": source_frame,
            "time_s": source_frame / (self.fps * self.frame_step),
            "error": self.error,
            "regularity": self.regularity,
            "score": self.score,
            "anomalous": frame_labels_from_segments(self.segments(rule), self.frame_count),
        }

    def scores_frame(self, rule: SegmentRule | None = None) -> pd.DataFrame:
        """The contract's scores.csv table."""
        import pandas as pd  # a third of a second of imports the CLI's analyze does without

        return pd.DataFrame(self.scores_columns(rule))

    def segment_zone(self, segment: Segment) -> str | None:
        """The zone ("only 1", ...) holding the largest local error of the segment's peak frame; None outside
        every zone."""
        local = self.local_map(segment.peak_frame)
        row, col = np.unravel_index(int(np.argmax(local)), local.shape)
        (width, height), size = self.source_size, local.shape[0]
        return self.zones.zone_at((col + 0.5) * width / size, (row + 0.5) * height / size) if self.zones else None

    def _anomaly_dict(self, segment: Segment, health: list[HealthSegment]) -> dict:
        """An anomaly segment for segments.json; where the camera was unhealthy its score means nothing, and
        camera_fault says which fault overlapped it; with zones, zone says which one it was in."""
        faults = sorted({h.kind for h in health if h.start <= segment.end and segment.start <= h.end})
        zone = {"zone": self.segment_zone(segment)} if self.zones else {}
        return {"kind": "anomaly"} | segment.to_dict(self.fps) | ({"camera_fault": faults} if faults else {}) | zone

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
        } | ({"zones": self.zones.to_dict()} if self.zones else {})  # a new key, only where zones were used

    def save(self, out_dir: str | Path, rule: SegmentRule | None = None) -> Path:
        """Write scores.csv, segments.json and error_maps.npz (uint8 at model resolution)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_csv(out / "scores.csv", self.scores_columns(rule))
        (out / "segments.json").write_text(json.dumps(self.segments_document(rule), indent=2) + "\n")
        write_error_maps(out / "error_maps.npz", self.maps, self.pixel_tau)
        return out
