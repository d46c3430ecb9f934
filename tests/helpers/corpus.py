"""A corpus of broken, hostile and unusual inputs, generated on demand (nothing binary is committed).

corpus = make_corpus(tmp_path)            # name -> Case, files written under tmp_path
for case in corpus.values(): case.path, case.expect, case.message

BAD cases must be refused (CLI exit 2, one line; app st.error with the same text); GOOD cases analyze normally.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from tests.helpers.paths import SAMPLES
from vad_core.io.video import write_h264

SAMPLE = SAMPLES / "test" / "Test004.mp4"
T = 10  # frames a window: the bundled and the tiny model both use the paper's T


@dataclass(frozen=True)
class Case:
    path: Path
    expect: str  # "bad": refused with `message`; "good": analyzed, `frames` rows; "partial": analyzed with a warning
    message: str = ""  # a regex the one error (or warning) line must match
    frames: int | None = None  # frames the analysis must score, when known
    width: int = 0
    height: int = 0
    fps: float = 0.0


def _moving(n: int, width: int, height: int, colour: bool = False, seed: int = 0) -> list[np.ndarray]:
    """n RGB frames of a bright square crossing a textured background; colour: hue-shifted channels."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 90, size=(height, width, 3), dtype=np.uint8)
    if not colour:
        base[...] = base[..., :1]
    frames = []
    side = max(4, min(width, height) // 6)
    for i in range(n):
        frame = base.copy()
        x = (i * max(1, (width - side) // max(n, 1))) % max(1, width - side)
        y = (height - side) // 2
        frame[y : y + side, x : x + side] = (230, 60, 30) if colour else 220
        frames.append(frame)
    return frames


def _write_audio_only(path: Path, seconds: float = 1.0) -> None:
    """An AAC-in-MP4 file with a sine tone and no video stream."""
    import av

    rate = 44100
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=rate)
        t = np.arange(int(rate * seconds)) / rate
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, len(samples), 1024):
            chunk = samples[start : start + 1024][None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_raw_h264(path: Path, frames: list[np.ndarray], fps: int) -> None:
    """An Annex-B H.264 elementary stream: no container, so no frame count or duration in any header."""
    import av

    height, width = frames[0].shape[:2]
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, fps)
    codec.framerate = Fraction(fps, 1)
    codec.options = {"preset": "veryfast"}
    with path.open("wb") as out:
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for packet in codec.encode(frame):
                out.write(bytes(packet))
        for packet in codec.encode(None):
            out.write(bytes(packet))


def _write_png(path: Path) -> None:
    import cv2

    cv2.imwrite(str(path), _moving(1, 64, 48)[0])


def make_corpus(root: Path) -> dict[str, Case]:
    """Write every case under root; name -> Case."""
    root.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Case] = {}

    def bad(name: str, path: Path, message: str) -> None:
        cases[name] = Case(path, "bad", message)

    (root / "empty.mp4").write_bytes(b"")
    bad("empty file", root / "empty.mp4", r"empty\.mp4: the file is empty")
    (root / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(50_000))
    bad("random bytes", root / "noise.mp4", r"noise\.mp4: not a readable video")
    (root / "text.mp4").write_text("this is a text file, not a video\n" * 20)
    bad("text file", root / "text.mp4", r"text\.mp4: a text file")
    _write_png(root / "image.png")
    bad("PNG image", root / "image.png", r"image\.png: .*image, not a video")
    write_h264(root / "short.mp4", _moving(5, 64, 48), fps=10)
    bad("fewer frames than T", root / "short.mp4", rf"short\.mp4: the clip has 5 decodable frames; at least {T}")
    _write_audio_only(root / "audio.m4a")
    bad("audio only", root / "audio.m4a", r"audio\.m4a: no video stream")
    bad("missing path", root / "missing.mp4", r"missing\.mp4: no such file")
    (root / "folder").mkdir(exist_ok=True)
    (root / "folder" / "notes.txt").write_text("no frames here")
    bad("directory", root / "folder", r"folder: folder holds no frame images")

    data = SAMPLE.read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    cases["truncated at half"] = Case(root / "truncated.mp4", "partial", r"decoded \d+ of 180 frames")

    write_h264(root / "uhd.mp4", _moving(T + 2, 3840, 2160), fps=10)
    cases["3840x2160"] = Case(root / "uhd.mp4", "good", frames=T + 2, width=3840, height=2160, fps=10)
    write_h264(root / "portrait.mp4", _moving(T + 4, 180, 320), fps=10)
    cases["portrait"] = Case(root / "portrait.mp4", "good", frames=T + 4, width=180, height=320, fps=10)
    write_h264(root / "fps60.mp4", _moving(2 * T + 5, 160, 120), fps=60)
    cases["60 fps"] = Case(root / "fps60.mp4", "good", frames=2 * T + 5, width=160, height=120, fps=60)
    write_h264(root / "colour.mp4", _moving(T + 3, 160, 120, colour=True), fps=10)
    cases["colour"] = Case(root / "colour.mp4", "good", frames=T + 3, width=160, height=120, fps=10)
    _write_raw_h264(root / "raw_stream.mp4", _moving(T + 6, 160, 120), fps=10)
    cases["no frame count in metadata"] = Case(root / "raw_stream.mp4", "good", frames=T + 6, width=160, height=120)
    return cases
