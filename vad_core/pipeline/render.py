"""Pictures of an analysis: heatmap overlays, anomaly boxes, a score strip and the annotated H.264 export.

    preview = PreviewFrames()                               # pass to analyze(..., on_frame=preview)
    frames = preview.finish()                               # uint8 gray, within a 360x360 box
    image = render_frame(result, frames, 42, HeatStyle())   # RGB frame with heatmap and boxes
    export_video("annotated.mp4", result, frames, HeatStyle(), SegmentRule())

The player in the app colours the same heat levels with the same lookup table (colormap_lut), so
the browser and the exported video show identical colours.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vad_core.io.framestore import DEFAULT_BUDGET_BYTES, FrameStore
from vad_core.io.video import write_h264
from vad_core.pipeline.regions import Box, frame_regions
from vad_core.pipeline.result import Analysis, SegmentRule
from vad_core.pipeline.writers import HEAT_RANGE
from vad_core.scoring.health import HEALTH_LABELS, HEALTH_RGB, HealthSegment
from vad_core.scoring.scores import Segment, frame_labels_from_segments

COLORMAPS = {
    "inferno": cv2.COLORMAP_INFERNO,
    "turbo": cv2.COLORMAP_TURBO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "jet": cv2.COLORMAP_JET,
}
PREVIEW_BOX = (360, 360)  # (width, height): what the player and the export show at most
BOX_RGB = (255, 64, 64)
ANOMALY_RGB = (255, 75, 75)


@dataclass(frozen=True)
class HeatStyle:
    """How an error map is drawn over a frame. kind None means the model's scoring kind."""

    colormap: str = "inferno"
    opacity: float = 0.6
    kind: str | None = None
    boxes: bool = True

    def __post_init__(self) -> None:
        if self.colormap not in COLORMAPS:
            raise ValueError(f"unknown colormap {self.colormap!r}; choose from {sorted(COLORMAPS)}")


def preview_shape(height: int, width: int, box: tuple[int, int] = PREVIEW_BOX) -> tuple[int, int]:
    """(height, width) of a frame scaled down, aspect kept, to fit box (width, height); at least 2 px a side."""
    scale = min(1.0, box[0] / width, box[1] / height)
    return max(2, round(height * scale)), max(2, round(width * scale))


class PreviewFrames:
    """The frames the player and the export show, gathered while the clip is analyzed (analyze's on_frame).

    Each frame is fitted into a pixel box (a 360x16000 frame becomes 8x360, not 5.8 MB), every frame takes
    the first one's shape (a clip whose size changes mid-stream still makes one array), and frames past
    budget_bytes spill to disk: the server's memory never holds a long clip's preview.
    """

    def __init__(self, box: tuple[int, int] = PREVIEW_BOX, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.box, self.budget_bytes = box, budget_bytes
        self._store: FrameStore | None = None

    def __call__(self, gray: np.ndarray) -> None:
        if self._store is None:
            self._store = FrameStore(preview_shape(*gray.shape[:2], self.box), np.uint8, self.budget_bytes)
        height, width = self._store.frame_shape
        if gray.shape[:2] != (height, width):
            gray = cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA)
        self._store.append(gray[None])

    def finish(self) -> np.ndarray:
        """(N, H, W) uint8; empty when no frame came."""
        if self._store is None:
            return np.zeros((0, 2, 2), np.uint8)
        return self._store.finish()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def colormap_lut(name: str) -> np.ndarray:
    """(256, 4) uint8 per heat level: the colour, and an alpha weight so near-zero error shows the frame."""
    rgb = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], COLORMAPS[name])[:, 0, ::-1]
    alpha = np.sqrt(np.linspace(0.0, 1.0, 256)) * 255.0
    return np.column_stack([rgb, np.round(alpha)]).astype(np.uint8)


def heat_levels(error_map: np.ndarray, pixel_tau: float) -> np.ndarray:
    """(S, S) uint8 per-pixel error on the calibrated scale: 255 means HEAT_RANGE x pixel_tau or more."""
    error = np.asarray(error_map, np.float32)
    return np.clip(error / (HEAT_RANGE * pixel_tau) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def overlay(gray: np.ndarray, levels: np.ndarray, lut: np.ndarray, opacity: float) -> np.ndarray:
    """RGB frame with the heat levels (stretched to the frame, as the model saw it square) blended on top."""
    h, w = gray.shape
    colour = lut[cv2.resize(levels, (w, h), interpolation=cv2.INTER_LINEAR)].astype(np.float32)
    alpha = opacity * colour[..., 3:] / 255.0
    base = np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
    return (base * (1.0 - alpha) + colour[..., :3] * alpha + 0.5).astype(np.uint8)


def draw_boxes(rgb: np.ndarray, boxes: list[Box], map_size: int) -> np.ndarray:
    """Outline boxes found on a map_size x map_size error map, scaled onto the image in place."""
    h, w = rgb.shape[:2]
    for box in boxes:
        x0, y0, x1, y1 = box.fraction(map_size)
        cv2.rectangle(rgb, (round(x0 * w), round(y0 * h)), (round(x1 * w) - 1, round(y1 * h) - 1), BOX_RGB, 2)
    return rgb


def render_frame(analysis: Analysis, frames: np.ndarray, frame: int, style: HeatStyle) -> np.ndarray:
    """One preview frame with its heatmap and, if asked, the boxes of its high-error regions."""
    levels = heat_levels(analysis.frame_map(frame, style.kind), analysis.pixel_tau)
    image = overlay(frames[frame], levels, colormap_lut(style.colormap), style.opacity)
    if style.boxes:
        boxes = frame_regions(analysis.frame_map(frame), analysis.scoring.patch, analysis.pixel_tau)
        draw_boxes(image, boxes, analysis.inputs.shape[1])
    return image


def _frame_x(frame: int, frames: int, width: int) -> int:
    return min(width - 1, int((frame + 0.5) / frames * width))


def score_strip(
    score: np.ndarray,
    threshold: float,
    segments: list[Segment],
    width: int,
    height: int,
    health: list[HealthSegment] = (),
) -> np.ndarray:
    """An RGB plot of c(t): shaded segments, camera faults as a band in their colour along the bottom, the
    threshold line and the curve, without a cursor."""
    strip = np.full((height, width, 3), (22, 24, 32), dtype=np.uint8)
    n = len(score)
    top = max(float(np.nanmax(score)) if n else 0.0, threshold) * 1.15 or 1.0

    def y_of(value: float) -> int:
        return round((height - 3) - (height - 6) * min(value, top) / top) + 1

    for seg in segments:
        x0, x1 = _frame_x(seg.start, n, width), _frame_x(seg.end, n, width)
        strip[:, x0 : x1 + 1] = (strip[:, x0 : x1 + 1] * 0.5 + np.array(ANOMALY_RGB) * 0.5).astype(np.uint8)
    for fault in health:
        x0, x1 = _frame_x(fault.start, n, width), _frame_x(fault.end, n, width)
        strip[height - 6 :, x0 : x1 + 1] = HEALTH_RGB[fault.kind]
    for x in range(0, width, 8):
        cv2.line(strip, (x, y_of(threshold)), (min(x + 4, width - 1), y_of(threshold)), (240, 200, 80), 1)
    points = np.array([[_frame_x(i, n, width), y_of(v)] for i, v in enumerate(np.nan_to_num(score))], np.int32)
    cv2.polylines(strip, [points], isClosed=False, color=(120, 200, 255), thickness=1, lineType=cv2.LINE_AA)
    return strip


def _mark(image: np.ndarray, frame: int, score: float, anomalous: bool, fault: str | None = None) -> None:
    """Frame number and score at the top left; a red border and label on anomalous frames; a camera fault's
    label in its colour at the bottom left (the score means nothing there)."""
    text = f"frame {frame}  c={score:.2f}"
    cv2.putText(image, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    if anomalous:
        h, w = image.shape[:2]
        cv2.rectangle(image, (1, 1), (w - 2, h - 2), ANOMALY_RGB, 3)
        cv2.putText(image, "ANOMALY", (w - 80, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, ANOMALY_RGB, 2, cv2.LINE_AA)
    if fault is not None:
        text, h = HEALTH_LABELS[fault].upper(), image.shape[0]
        cv2.putText(image, text, (6, h - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(image, text, (6, h - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, HEALTH_RGB[fault], 1, cv2.LINE_AA)


def annotated_frames(
    analysis: Analysis, frames: np.ndarray, style: HeatStyle, rule: SegmentRule, strip_height: int = 56
) -> Iterator[np.ndarray]:
    """Export frames: heatmap overlay, boxes and marks, over a score strip with a cursor."""
    segments = analysis.segments(rule)
    flags = frame_labels_from_segments(segments, analysis.frame_count)
    health = analysis.health_segments()
    faults: list[str | None] = [None] * analysis.frame_count
    for fault in health:
        faults[fault.start : fault.end + 1] = [fault.kind] * (fault.end - fault.start + 1)
    score = analysis.score
    width = frames.shape[2]
    strip = score_strip(score, rule.threshold, segments, width, strip_height, health)
    for i in range(analysis.frame_count):
        image = render_frame(analysis, frames, i, style)
        _mark(image, i, float(score[i]), bool(flags[i]), faults[i])
        below = strip.copy()
        x = _frame_x(i, analysis.frame_count, width)
        cv2.line(below, (x, 0), (x, strip_height - 1), (255, 255, 255), 1)
        yield np.vstack([image, below])


def export_video(path: str | Path, analysis: Analysis, frames: np.ndarray, style: HeatStyle, rule: SegmentRule) -> Path:
    """The annotated clip as a browser-playable H.264 MP4 at the clip's frame rate."""
    return write_h264(path, annotated_frames(analysis, frames, style, rule), analysis.fps)
