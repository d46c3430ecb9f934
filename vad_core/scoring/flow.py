"""Dense optical flow (OpenCV's DIS) at a size it can take: the motion detector's and the flow baseline's.

size = flow_size(360, 240, max_side=640)                 # (360, 240): native, longer side capped, thin sides raised
flows = FlowStream(size, "medium")
field = flows.next(gray)                                 # float32 (H, W, 2), pixels a frame at size
"""

from __future__ import annotations

import cv2
import numpy as np

from vad_core.errors import BadInput

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
