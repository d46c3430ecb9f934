"""Dense optical flow at the clip's own resolution and what each place (cell) of it measures.

flows = FlowStream(flow_size(360, 240, cfg.max_side))     # DIS flow at (360, 240), from each frame to the next
feats = cell_features(flows.next(gray), cfg)              # float32 (F, rows, cols): one value per feature and cell
clip = clip_features(frames, cfg)                         # float32 (N, F, rows, cols), frame 0 borrowing frame 1's
"""

from __future__ import annotations

import numpy as np

from vad_core.model.motion.config import MotionConfig
from vad_core.scoring.flow import FlowStream


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
