"""Read videos (files or folders of frame images) as a stream of grayscale frames; write H.264.

info = probe("clip.mp4")                       # frames, fps, size
for frame in stream_gray("clip.mp4", size=131):  # float32 (131, 131) in [0, 1]
    ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# FFmpeg inside OpenCV logs straight to stderr ("moov atom not found") for files it cannot open; we report
# those as one BadInput line instead. Read when the first capture opens; -8 is AV_LOG_QUIET.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
# A video is one local file: FFmpeg may not follow a reference in it to a URL or a device.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "protocol_whitelist;file")

import cv2
import numpy as np

from vad_core.errors import BadInput
from vad_core.io.limits import AnalysisLimits, limited

# OpenCV's own logger also writes "[ WARN:0] ... can't be used to capture by name" for such files.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

IMAGE_SUFFIXES = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
DEFAULT_FPS = 10.0
# Leading bytes of still-image formats: FFmpeg would open these as a one-frame "video", whatever their name.
IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}
# Containers FFmpeg may open for us. Playlists (HLS), concat scripts, SDP and DASH manifests are text that
# makes FFmpeg open further files or URLs; they never reach it (see _refusal).
CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "mpeg", "mpegts", "flv", "asf", "h264", "hevc"}
TEXT_BYTES = frozenset(b"\t\n\r") | frozenset(range(0x20, 0x7F))


@dataclass(frozen=True)
class VideoInfo:
    """What a clip is, as far as its container says; frame_count may be 0 when unknown."""

    path: Path
    frame_count: int
    fps: float
    width: int
    height: int


@dataclass
class OpenedVideo:
    """A clip being decoded: its metadata (which may under-report frames) and its raw gray frames."""

    info: VideoInfo
    frames: Iterator[np.ndarray]


class Decoder(Protocol):
    """Where a clip is decoded: here (InProcessDecoder) or in a killable child (vad_core.io.sandbox)."""

    def open(self, path: Path, threads: int | None = None) -> AbstractContextManager[OpenedVideo]: ...


class InProcessDecoder:
    """FFmpeg in this process: for the CLI and trusted files. One capture gives the metadata and the frames, so
    a file is opened, and its container probed (_refusal), once."""

    @contextmanager
    def open(self, path: Path, threads: int | None = None) -> Iterator[OpenedVideo]:
        path = Path(path)
        _check_exists(path)
        if path.is_dir():
            images = image_files(path)
            yield OpenedVideo(_folder_info(path, images), map(_read_image, images))
            return
        cap = _open_capture(path, threads)
        try:
            yield OpenedVideo(_capture_info(path, cap), _read_frames(cap))
        finally:
            cap.release()


IN_PROCESS = InProcessDecoder()


def count_frames(path: Path, limits: AnalysisLimits, decoder: Decoder = IN_PROCESS) -> int:
    """The frames a clip really has, counted by decoding it under limits (metadata can under-report)."""
    with decoder.open(path) as opened:
        return sum(1 for _ in limited(opened.frames, limits, path.name))


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _refusal(path: Path) -> str | None:
    """Why a file is not worth handing to FFmpeg at all: not a regular file, empty, or a still image."""
    if not path.is_file():  # a FIFO or a device would block or never end
        return f"{path.name}: not a regular file"
    if path.stat().st_size == 0:
        return f"{path.name}: the file is empty"
    with path.open("rb") as f:
        head = f.read(16)
    kind = next((name for magic, name in IMAGE_MAGIC.items() if head.startswith(magic)), None)
    if kind:
        return f"{path.name}: a {kind} image, not a video (a clip is a video file or a folder of frame images)"
    if all(byte in TEXT_BYTES for byte in head):
        return f"{path.name}: a text file (a playlist, a concat script?), not a video; give the video file itself"
    return _container_refusal(path)


def _container_refusal(path: Path) -> str | None:
    """A container outside CONTAINERS, as FFmpeg's probe names it (PyAV, local files only)."""
    import av  # the probe only; OpenCV decodes

    try:
        with av.open(str(path), options={"protocol_whitelist": "file"}) as container:
            name = container.format.name
    except Exception:  # any demuxer failure: _open_capture reports it in the user's terms
        return None
    if name not in CONTAINERS:
        return f"{path.name}: a {name.split(',')[0]} file; only video containers (MP4, MKV, AVI, MPEG) are read"
    return None


def _diagnose(path: Path) -> str:
    """Why FFmpeg could not open a file, in the user's terms: audio only, or not a video at all."""
    try:
        import av  # only to tell an audio-only file from garbage

        with av.open(str(path)) as container:
            if not container.streams.video and container.streams.audio:
                return f"{path.name}: no video stream (the file holds audio only)"
    except Exception:  # any demuxer failure: the file is simply not a readable video
        pass
    return f"{path.name}: not a readable video (no video stream could be opened)"


def _open_capture(path: Path, threads: int | None = None) -> cv2.VideoCapture:
    """An FFmpeg capture (never OpenCV's image-sequence backend, which reads "%d" in names as a pattern).

    threads: FFmpeg's decoding threads (default: its own choice, one per core)."""
    problem = _refusal(path)
    if problem:
        raise BadInput(problem)
    params = [cv2.CAP_PROP_N_THREADS, threads] if threads else []
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, params)
    if not cap.isOpened():
        cap.release()
        raise BadInput(_diagnose(path))
    return cap


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise BadInput(f"{path}: no such file or folder")


def probe(path: str | Path) -> VideoInfo:
    """Metadata of a video file or a folder of frame images, without decoding the whole clip."""
    with IN_PROCESS.open(Path(path)) as opened:
        return opened.info


def _folder_info(path: Path, images: list[Path]) -> VideoInfo:
    if not images:
        raise BadInput(f"{path}: folder holds no frame images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    first = _read_image(images[0])
    return VideoInfo(path, len(images), DEFAULT_FPS, first.shape[1], first.shape[0])


def _capture_info(path: Path, cap: cv2.VideoCapture) -> VideoInfo:
    fps = cap.get(cv2.CAP_PROP_FPS)
    info = VideoInfo(
        path=path,
        frame_count=max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
        fps=fps if np.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS,
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )
    if info.width <= 0 or info.height <= 0:
        raise BadInput(f"{path.name}: no video stream found")
    return info


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise BadInput(f"{path.name}: unreadable image")
    return image


def to_gray(frame: np.ndarray) -> np.ndarray:
    """uint8 grayscale from a grayscale, BGR or BGRA frame."""
    if frame.ndim == 2:
        return frame
    code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(frame, code)


def stream_raw_gray(path: str | Path, threads: int | None = None) -> Iterator[np.ndarray]:
    """uint8 grayscale frames at the clip's own resolution, one at a time.

    threads: FFmpeg's decoding threads (None: its own choice); analysis picks them with
    vad_core.model.inference.decode_threads. The frames are the same."""
    path = Path(path)
    _check_exists(path)
    if path.is_dir():
        yield from map(_read_image, image_files(path))
        return
    cap = _open_capture(path, threads)
    try:
        yield from _read_frames(cap)
    finally:
        cap.release()


def _read_frames(cap: cv2.VideoCapture) -> Iterator[np.ndarray]:
    """The capture's frames in gray until it ends; the caller releases it."""
    while True:
        ok, frame = cap.read()
        if not ok:
            return
        yield to_gray(frame)


def resize_scale(gray: np.ndarray, size: int) -> np.ndarray:
    """float32 (size, size) in [0, 1]; the model sees a square, as in the paper."""
    interp = cv2.INTER_AREA if gray.shape[0] > size or gray.shape[1] > size else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interp).astype(np.float32) / 255.0


def stream_gray(path: str | Path, size: int) -> Iterator[np.ndarray]:
    """Frames resized to the model's input and scaled to [0, 1], streamed."""
    for gray in stream_raw_gray(path):
        yield resize_scale(gray, size)


def read_clip(path: str | Path, size: int) -> np.ndarray:
    """A whole clip as float32 (N, size, size); for short training clips only."""
    frames = list(stream_gray(path, size))
    if not frames:
        raise BadInput(f"{Path(path).name}: no frames could be decoded")
    return np.stack(frames)


def list_clips(folder: str | Path) -> list[Path]:
    """Video files and frame-image folders in a dataset split, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{folder}: not a folder")
    clips = [
        p for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES or (p.is_dir() and image_files(p))
    ]
    if not clips:
        raise BadInput(f"{folder}: holds no video files or frame folders")
    return clips


def normal_clips(data: str | Path) -> list[Path]:
    """The normal clips of a dataset (its train/ split) or of a plain folder of clips, as every command takes them."""
    data = Path(data)
    return list_clips(data / "train" if (data / "train").is_dir() else data)


def write_h264(path: str | Path, frames: Sequence[np.ndarray] | Iterator[np.ndarray], fps: float) -> Path:
    """Encode RGB uint8 frames (H, W, 3) to a browser-playable H.264 MP4 with PyAV."""
    import av  # imported here: only exports need the encoder

    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                height, width = frame.shape[0] // 2 * 2, frame.shape[1] // 2 * 2
                stream = container.add_stream("libx264", rate=max(1, round(fps)))
                stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                stream.options = {"crf": "23", "preset": "veryfast", "movflags": "+faststart"}
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:height, :width]), format="rgb24")
            for packet in stream.encode(video_frame):
                container.mux(packet)
        if stream is None:
            raise BadInput("no frames to encode")
        for packet in stream.encode():
            container.mux(packet)
    return path
