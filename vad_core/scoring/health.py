"""Camera health: a frozen feed, a covered (or blank) lens, a camera that moved; findings of their own kind.

reference = HealthReference.fit([a.health for a in normal])  # at calibration, from held-out normal frames
figures = health_figures(analysis.inputs, mean_frame)        # per frame, from the frames the model saw
segments = health_segments(health_scores(figures, reference))   # HealthSegment(kind, start, end, peak)

Each check compares a per-frame figure with what normal footage of the scene did (learned at calibration, in
the card's scene_reference, not a fixed constant):
- frozen: the mean absolute change from the previous frame, below half the lowest normal change and below a
  quarter gray level (a stream encoded more smoothly than the calibration footage loses its sensor noise, and
  its quietest frames must not read as a freeze);
- covered: the picture's structure (mean gradient magnitude), below half the lowest normal structure;
- moved: the shift, found by phase correlation, between the frame and the scene's mean frame, beyond twice the
  largest normal shift (and at least MIN_SHIFT_PX).
A covered lens shows no change and no alignment either, so covered frames silence the other two checks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from vad_core.io.framestore import iter_chunks
from vad_core.scoring.scores import find_segments

HEALTH_KINDS = ("frozen", "covered", "moved")
HEALTH_FIGURES = ("change", "structure", "shift")  # per frame; the kinds are judged from these
HEALTH_RGB = {"frozen": (80, 170, 255), "covered": (170, 170, 170), "moved": (200, 120, 255)}  # plots, exports
HEALTH_LABELS = {"frozen": "camera frozen", "covered": "lens covered", "moved": "camera moved"}
LOW_QUANTILE, HIGH_QUANTILE = 0.001, 0.999
FACTOR = 2.0  # how far past normal a figure must be: half the lowest change or structure, twice the largest shift
MAX_FROZEN_CHANGE = 0.001  # a quarter gray level a pixel: a smoother codec than the calibration footage's is no freeze
MIN_SHIFT_PX = 1.5  # at the model's resolution; phase correlation is good to a fraction of a pixel
MIN_FRAMES, MERGE_GAP = 5, 5  # a health segment lasts at least this long; closer runs are merged
MAX_SCORE = 100.0  # a frozen or black frame divides by zero change or structure: reported as 100x the limit


@dataclass(frozen=True)
class HealthReference:
    """Normal footage's extremes: the lowest change and structure, the largest shift from the mean frame."""

    change: float
    structure: float
    shift: float

    @classmethod
    def fit(cls, figures: list[dict[str, np.ndarray]]) -> HealthReference:
        """From the health_figures of normal clips (one per clip, as each analysis computed them)."""
        values = {k: np.concatenate([f[k] for f in figures]) for k in HEALTH_FIGURES}
        return cls(
            change=float(np.quantile(values["change"], LOW_QUANTILE)),
            structure=float(np.quantile(values["structure"], LOW_QUANTILE)),
            shift=float(np.quantile(values["shift"], HIGH_QUANTILE)),
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> HealthReference:
        if not isinstance(data, dict):
            raise ValueError("scene_reference.health must be an object")
        values = {k: data.get(k) for k in HEALTH_FIGURES}
        if not all(isinstance(v, (int, float)) and np.isfinite(v) and v >= 0 for v in values.values()):
            raise ValueError("scene_reference.health needs change, structure and shift, numbers >= 0")
        return cls(**{k: float(v) for k, v in values.items()})


@dataclass(frozen=True)
class HealthSegment:
    """A run of frames with one health fault, inclusive on both ends; peak is the score's maximum (1 = limit)."""

    kind: str
    start: int
    end: int
    peak: float

    def to_dict(self, fps: float | None = None) -> dict:
        out = {"kind": self.kind, "start": self.start, "end": self.end, "frames": self.end - self.start + 1}
        out["peak"] = self.peak
        if fps:
            out |= {"start_s": self.start / fps, "end_s": (self.end + 1) / fps}
        return out


def _shift(frame: np.ndarray, reference: np.ndarray, window: np.ndarray) -> float:
    (dx, dy), _ = cv2.phaseCorrelate(frame, reference, window)
    return float(np.hypot(dx, dy))


def block_figures(frames: np.ndarray, mean_frame: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame change, structure and shift of consecutive uint8 frames (n, S, S) at the model's size; frame 0's
    change is NaN (its predecessor is not among them: change_between or borrow_first_change fill it in). Blocks
    of a clip are independent, so the analysis workers compute them as each block is scored."""
    reference = np.asarray(mean_frame, dtype=np.float32)
    window = cv2.createHanningWindow(reference.shape[::-1], cv2.CV_32F)
    change, structure, shift, previous = [], [], [], None
    for chunk in iter_chunks(frames):
        for frame in np.asarray(chunk, dtype=np.float32) / 255.0:
            change.append(_change(previous, frame) if previous is not None else np.nan)
            gx, gy = cv2.Sobel(frame, cv2.CV_32F, 1, 0), cv2.Sobel(frame, cv2.CV_32F, 0, 1)
            structure.append(float(np.mean(np.abs(gx) + np.abs(gy))))
            shift.append(_shift(frame, reference, window))
            previous = frame
    return {
        "change": np.asarray(change, dtype=np.float64),
        "structure": np.asarray(structure),
        "shift": np.asarray(shift),
    }


def change_between(previous: np.ndarray, frame: np.ndarray) -> float:
    """Frame 0's change of a block: the mean absolute change from the uint8 frame before it (the previous block's
    last), as block_figures takes it between its own frames."""
    return _change(np.asarray(previous, np.float32) / 255.0, np.asarray(frame, np.float32) / 255.0)


def _change(previous: np.ndarray, frame: np.ndarray) -> float:
    """Mean absolute change between two frames scaled to [0, 1] (float32)."""
    return float(np.abs(frame - previous).mean())


def borrow_first_change(figures: dict[str, np.ndarray]) -> None:
    """A clip's frame 0 has no predecessor: it takes frame 1's change (as its motion map takes frame 1's)."""
    change = figures["change"]
    if len(change) > 1:
        change[0] = change[1]


def health_figures(inputs: np.ndarray, mean_frame: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame change, structure and shift of a clip's uint8 frames (N, S, S) at the model's size."""
    figures = block_figures(inputs, mean_frame)
    borrow_first_change(figures)
    return figures


def health_scores(figures: dict[str, np.ndarray], reference: HealthReference) -> dict[str, np.ndarray]:
    """Per kind, how far past its limit each frame is (> 1: faulty); covered frames silence the other two."""
    eps = 1e-9
    covered = reference.structure / FACTOR / np.maximum(figures["structure"], eps)
    frozen = min(reference.change / FACTOR, MAX_FROZEN_CHANGE) / np.maximum(figures["change"], eps)
    moved = figures["shift"] / max(FACTOR * reference.shift, MIN_SHIFT_PX)
    blind = covered > 1
    return {"frozen": np.where(blind, 0.0, frozen), "covered": covered, "moved": np.where(blind, 0.0, moved)}


def health_segments(scores: dict[str, np.ndarray]) -> list[HealthSegment]:
    """Runs above 1 of each kind, short gaps merged and very short runs dropped, in order of start."""
    out = []
    for kind in HEALTH_KINDS:
        for seg in find_segments(np.minimum(scores[kind], MAX_SCORE), 1.0, MIN_FRAMES, MERGE_GAP):
            out.append(HealthSegment(kind, seg.start, seg.end, seg.peak))
    return sorted(out, key=lambda s: s.start)
