"""analyze(video, model) -> Analysis: every number the CLI and the app show comes from here.

result = analyze("Test004.mp4", load_checkpoint(), progress=lambda done, total: ...)
result.score          # calibrated c(t) per frame; > 1 is beyond normal
result.segments()     # runs above the threshold
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vad_core.checkpoint import LoadedModel
from vad_core.inference import reconstruct_stream
from vad_core.scoring import (
    ERROR_KINDS,
    REDUCTIONS,
    ScoringConfig,
    Segment,
    appearance_error_map,
    calibrated,
    find_segments,
    motion_error_map,
    patch_mean,
    reduce_map,
    regularity,
    smooth,
)
from vad_core.video import probe, stream_gray

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SegmentRule:
    """Threshold on the calibrated score plus the run-length rules that make segments."""

    threshold: float = 1.0
    min_duration: int = 3
    merge_gap: int = 5


@dataclass
class Analysis:
    """Per-frame errors of all kinds, error maps and reconstructions of one clip, plus how to score them."""

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

    @property
    def frame_count(self) -> int:
        return len(self.inputs)

    def raw_error(self, scoring: ScoringConfig | None = None) -> np.ndarray:
        """e(t) before smoothing, for a scoring config (default: the model's)."""
        cfg = scoring or self.scoring
        return self.frame_errors[f"{cfg.kind}_{cfg.reduce}"]

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

    def local_map(self, frame: int, kind: str | None = None) -> np.ndarray:
        """Patch-averaged error map of a frame: the map whose max is the localized frame error."""
        return patch_mean(self.maps[kind or self.scoring.kind][frame].astype(np.float32), self.scoring.patch)

    def scores_frame(self, rule: SegmentRule | None = None) -> pd.DataFrame:
        """The contract's scores.csv table."""
        flags = np.zeros(self.frame_count, dtype=np.int8)
        for seg in self.segments(rule):
            flags[seg.start : seg.end + 1] = 1
        return pd.DataFrame(
            {
                "frame": np.arange(self.frame_count),
                "time_s": np.arange(self.frame_count) / self.fps,
                "error": self.error,
                "regularity": self.regularity,
                "score": self.score,
                "anomalous": flags,
            }
        )

    def segments_document(self, rule: SegmentRule | None = None) -> dict:
        rule = rule or self.rule
        return {
            "video": self.name,
            "model": self.model_name,
            "frames": self.frame_count,
            "fps": self.fps,
            "threshold": rule.threshold,
            "min_duration": rule.min_duration,
            "merge_gap": rule.merge_gap,
            "score": "calibrated c(t) = e(t) / tau",
            "tau": self.tau,
            "segments": [s.to_dict(self.fps) for s in self.segments(rule)],
        }

    def save(self, out_dir: str | Path, rule: SegmentRule | None = None) -> Path:
        """Write scores.csv, segments.json and error_maps.npz (uint8 at model resolution)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.scores_frame(rule).to_csv(out / "scores.csv", index=False)
        (out / "segments.json").write_text(json.dumps(self.segments_document(rule), indent=2) + "\n")
        scale = 4.0 * self.pixel_tau
        quantized = {
            k: np.clip(v.astype(np.float32) / scale * 255.0, 0, 255).astype(np.uint8) for k, v in self.maps.items()
        }
        np.savez_compressed(out / "error_maps.npz", scale=np.float32(scale), **quantized)
        return out


def _frame_errors(maps: dict[str, list[np.ndarray]], patch: int) -> dict[str, np.ndarray]:
    out = {}
    for kind in ERROR_KINDS:
        for reduce in REDUCTIONS:
            cfg = ScoringConfig(kind=kind, reduce=reduce, patch=patch)
            out[f"{kind}_{reduce}"] = np.array([reduce_map(m, cfg) for m in maps[kind]])
    return out


def _to_u8(frames: list[np.ndarray]) -> np.ndarray:
    return (np.clip(np.stack(frames), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def analyze_frames(
    frames: Iterable[np.ndarray],
    model: LoadedModel,
    name: str = "clip",
    fps: float = 10.0,
    source_size: tuple[int, int] = (0, 0),
    total: int = 0,
    progress: Progress | None = None,
) -> Analysis:
    """Analyze frames already resized to the model's input (float32 in [0, 1])."""
    started = time.perf_counter()
    maps: dict[str, list[np.ndarray]] = {kind: [] for kind in ERROR_KINDS}
    inputs, recons = [], []
    prev: tuple[np.ndarray, np.ndarray] | None = None
    norm = model.normalizer
    for i, (x, r) in enumerate(reconstruct_stream(model.net, norm, frames)):
        maps["appearance"].append(appearance_error_map(x, r).astype(np.float16))
        motion = motion_error_map(x, r, *prev) if prev else np.zeros_like(x)
        maps["motion"].append(motion.astype(np.float16))
        if i == 1:
            maps["motion"][0] = maps["motion"][1]  # frame 0 has no predecessor: borrow frame 1's motion
        prev = (x, r)
        inputs.append(norm.invert(x))
        recons.append(norm.invert(r))
        if progress and (i % 10 == 0):
            progress(i + 1, total)
    if progress:
        progress(len(inputs), len(inputs))
    return Analysis(
        name=name,
        fps=fps,
        source_size=source_size,
        scoring=model.scoring,
        tau=model.calibration.tau,
        pixel_tau=model.calibration.pixel_tau,
        frame_errors=_frame_errors(maps, model.scoring.patch),
        maps={k: np.stack(v) for k, v in maps.items()},
        inputs=_to_u8(inputs),
        recons=_to_u8(recons),
        seconds=time.perf_counter() - started,
        model_name=model.name,
    )


def analyze(
    video: str | Path,
    model: LoadedModel,
    progress: Progress | None = None,
    name: str | None = None,
) -> Analysis:
    """Stream a video (file or frame folder) through the model and score every frame."""
    info = probe(video)
    return analyze_frames(
        stream_gray(video, model.cfg.input_size),
        model,
        name=name or Path(video).name,
        fps=info.fps,
        source_size=(info.width, info.height),
        total=info.frame_count,
        progress=progress,
    )
