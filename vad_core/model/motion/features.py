"""Dense optical flow at the clip's own resolution and what each place (cell) of it measures.

size = flow_size(360, 240, cfg.max_side)                  # (360, 240): native, longer side capped
flows = FlowStream(size)                                  # DIS flow from each frame to the next
feats = cell_features(flows.next(gray), cfg)              # float32 (F, rows, cols): one value per feature and cell
clip = clip_features(frames, cfg)                         # float32 (N, F, rows, cols), frame 0 borrowing frame 1's
"""

from __future__ import annotations

import cv2
import numpy as np

from vad_core.errors import BadInput
from vad_core.model.motion.config import MotionConfig

MIN_FLOW_SIDE = 32  # OpenCV 5.0's DIS flow crashes the process (SIGSEGV) on thinner frames, e.g. 40 x 12


def flow_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) the flow is taken at: the clip's own, scaled down so the longer side is at most max_side,
    or up so the shorter is at least MIN_FLOW_SIDE; BadInput for a clip too thin for both."""
    scale = min(1.0, max_side / max(width, height, 1))
    scale = max(scale, MIN_FLOW_SIDE / max(min(width, height), 1))
    size = max(1, round(width * scale)), max(1, round(height * scale))
    if max(size) > max_side:
        raise BadInput(f"frames of {width} x {height} px are too thin for optical flow; use footage less elongated")
    return size


def fit_frame(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A uint8 gray frame at the flow's (width, height), resized only when it differs."""
    if (gray.shape[1], gray.shape[0]) == size:
        return gray
    interp = cv2.INTER_AREA if gray.shape[1] > size[0] else cv2.INTER_LINEAR
    return cv2.resize(gray, size, interpolation=interp)


PRESETS = {"fast": cv2.DISOPTICAL_FLOW_PRESET_FAST, "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


class FlowStream:
    """OpenCV's DIS flow (a few ms a 360 x 240 frame pair on one core) from each frame to the next; the first
    frame has no predecessor and gets no motion (zeros)."""

    def __init__(self, size: tuple[int, int], preset: str = "medium") -> None:
        self.size = size
        self._dis = cv2.DISOpticalFlow_create(PRESETS[preset])
        self._previous: np.ndarray | None = None

    def next(self, gray: np.ndarray) -> np.ndarray:
        """float32 (H, W, 2): the flow, in pixels a frame, from the previous frame to this one."""
        frame = fit_frame(gray, self.size)
        previous, self._previous = self._previous, frame
        if previous is None:
            return np.zeros((*frame.shape, 2), np.float32)
        return self._dis.calc(previous, frame, None)


def cell_grid(size: tuple[int, int], cell: int) -> tuple[int, int]:
    """(rows, cols) of cells over a (width, height) frame; a partial cell at the edge counts as one."""
    return -(-size[1] // cell), -(-size[0] // cell)


def _cells(values: np.ndarray, cell: int) -> np.ndarray:
    """(H, W) -> (rows, cols, cell * cell): each cell's pixels; the frame mirrored out to whole cells."""
    h, w = values.shape
    padded = np.pad(values, ((0, -h % cell), (0, -w % cell)), mode="reflect")
    rows, cols = padded.shape[0] // cell, padded.shape[1] // cell
    return padded.reshape(rows, cell, cols, cell).transpose(0, 2, 1, 3).reshape(rows, cols, cell * cell)


def cell_features(flow: np.ndarray, cfg: MotionConfig) -> np.ndarray:
    """float32 (F, rows, cols): per cell, in cfg.features order, the mean speed, the 90th-percentile speed (a small
    fast object fills a tenth of its cell), and the fraction of its pixels moving faster than cfg.moving_speed."""
    pixels = _cells(np.hypot(flow[..., 0], flow[..., 1]), cfg.cell)
    n = pixels.shape[-1]
    out = {
        "speed_mean": lambda: pixels.mean(axis=-1),
        "speed_p90": lambda: np.partition(pixels, int(0.9 * (n - 1)), axis=-1)[..., int(0.9 * (n - 1))],
        "moving": lambda: (pixels > cfg.moving_speed).mean(axis=-1),
    }
    return np.stack([out[name]() for name in cfg.features]).astype(np.float32)


def clip_features(frames: list[np.ndarray], cfg: MotionConfig, previous: np.ndarray | None = None) -> np.ndarray:
    """float32 (N, F, rows, cols): cell_features of consecutive frames, the flow of the first taken from previous;
    without one (a clip's first frame) it borrows the second frame's, as the autoencoder's motion map does."""
    flows = FlowStream(cfg.frame_size, cfg.flow)
    if previous is not None:
        flows.next(previous)
    features = np.stack([cell_features(flows.next(frame), cfg) for frame in frames])
    if previous is None and len(features) > 1:
        features[0] = features[1]
    return features
