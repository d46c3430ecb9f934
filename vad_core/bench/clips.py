"""The clips the benchmark measures on (Ped2's test set from the shared data, else the bundled samples) and the
longer clips it writes from them: looped to a length, to a size, as a camera's H.264."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from vad_core.errors import BadInput
from vad_core.io.paths import ASSETS, REPO_ROOT
from vad_core.io.video import list_clips, stream_raw_gray, write_h264

PED2_TEST = REPO_ROOT.parent / "shared" / "data" / "ucsd_ped2" / "test"
SAMPLE_TEST = ASSETS / "samples" / "test"


def source_clips(folder: str | Path | None = None) -> list[Path]:
    """The clips of folder, else of Ped2's test set, else of the bundled samples."""
    for candidate in (folder, PED2_TEST, SAMPLE_TEST):
        if candidate and Path(candidate).is_dir():
            return list_clips(candidate)
    raise BadInput(f"no clips to build the whole-process clip from: neither {PED2_TEST} nor {SAMPLE_TEST} exists")


def default_video() -> Path:
    """The first Ped2 test clip (the bundled sample of it when the shared data is absent)."""
    for folder in (PED2_TEST, SAMPLE_TEST):
        if folder.is_dir():
            return list_clips(folder)[0]
    raise BadInput("no Ped2 test clips found")


def make_long_video(path: Path, minutes: float, sources: list[Path], fps: float = 30.0, size=(640, 360)) -> Path:
    """Loop the source clips (resized to `size`) into an mp4v file `minutes` long, one frame in memory at a time."""
    total = round(minutes * 60 * fps)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise BadInput(f"cannot write {path}")
    written = 0
    try:
        while written < total:
            before = written
            for src in sources:
                written += _copy_resized(src, writer, size, total - written)
            if written == before:
                raise BadInput("the source clips for the long video have no readable frames")
    finally:
        writer.release()
    return path


def _copy_resized(source: Path, writer: cv2.VideoWriter, size: tuple[int, int], most: int) -> int:
    """Up to `most` frames of source, resized, onto writer; how many."""
    cap = cv2.VideoCapture(str(source))
    written = 0
    while written < most:
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR))
        written += 1
    cap.release()
    return written


def make_live_clip(path: Path, source: Path, frames: int, size: tuple[int, int]) -> Path:
    """The source clip looped to `frames` frames and upscaled to `size`, as H.264 (a camera's own codec)."""
    gray = [cv2.resize(g, size, interpolation=cv2.INTER_LINEAR) for g in stream_raw_gray(source)]
    if not gray:
        raise BadInput(f"{source.name}: no frames to make the live clip from")
    looped = (np.repeat(gray[i % len(gray)][:, :, None], 3, axis=2) for i in range(frames))
    return write_h264(path, looped, fps=25)


def make_looped_clip(path: Path, clips: list[Path], loops: int) -> Path:
    """The clips played `loops` times, in order, at their own size, as one H.264 file (10 fps, as Ped2)."""

    def frames() -> Iterator[np.ndarray]:
        for _ in range(loops):
            for clip in clips:
                for gray in stream_raw_gray(clip):
                    yield np.repeat(gray[:, :, None], 3, axis=2)

    return write_h264(path, frames(), fps=10)
