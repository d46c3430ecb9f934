"""Tiny synthetic scenes for the motion detector: textured walkers crossing a textured background at a walking
pace, as frame folders (a clip the project reads like a video), and the same scene with a fast object.

dataset = motion_dataset(tmp_path)      # dataset/train/clip0, clip1 (normal) and dataset/test/fast
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, FRAMES = 96, 64, 40
FAST_FROM, FAST_TO = 20, 32  # the test clip's frames with a fast object (end exclusive)


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return cv2.GaussianBlur(rng.uniform(0, 255, (height, width)).astype(np.float32), (0, 0), 1.5)


def _clip(seed: int, fast: bool) -> list[np.ndarray]:
    """Two 10-px walkers moving 1 px a frame, in opposite directions; with fast, a third crosses at 6 px a frame."""
    scene, rng = np.random.default_rng(0), np.random.default_rng(seed)  # one scene; each clip its own noise
    background, walker = _texture(scene, HEIGHT, WIDTH), _texture(scene, 10, 10)
    frames = []
    for t in range(FRAMES):
        frame = background.copy()
        for row, x in ((10, 5 + seed + t), (40, 80 - seed - t)):  # one each way, never leaving the frame
            frame[row : row + 10, x : x + 10] = walker
        if fast and FAST_FROM <= t < FAST_TO:
            x = 6 * (t - FAST_FROM)
            frame[25:35, x : x + 10] = walker
        frames.append(np.clip(frame + rng.normal(0, 1.0, frame.shape), 0, 255).astype(np.uint8))
    return frames


def _write(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    return folder


def motion_dataset(root: Path) -> Path:
    """root/data with train/clip0, train/clip1 (normal) and test/fast (a fast object in FAST_FROM..FAST_TO)."""
    data = root / "data"
    for seed in (0, 1):
        _write(data / "train" / f"clip{seed}", _clip(seed, fast=False))
    _write(data / "test" / "fast", _clip(2, fast=True))
    return data
