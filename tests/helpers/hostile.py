"""Hostile uploads for the server's hardening tests, generated on demand (nothing binary is committed).

files = make_hostile(tmp_path)        # name -> Path
files["tall"]                         # 3,000 frames of 360x16000 in 112 KB: 17 GB once decoded

Each one is what a reviewer used to take the server down: a truncated MP4, a clip whose frames are huge but
compress to nothing, an MPEG-TS whose metadata says 20 frames and decodes 1,000, a concat script that
names itself, an empty file, and a labels file nested 100,000 levels deep.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.helpers.paths import SAMPLES

SAMPLE = SAMPLES / "test" / "Test004.mp4"


def _tall(path: Path, frames: int = 3000, width: int = 360, height: int = 16000) -> None:
    """One encoded frame, then the same all-skip P-frame repeated: megapixels a frame, bytes on disk."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"preset": "ultrafast", "bframes": "0", "keyint": "100000"}
    image = np.zeros((height, width, 3), np.uint8)
    packets = []
    for pts in range(2):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, Fraction(1, 25)
        packets += [bytes(p) for p in encoder.encode(frame)]
    packets += [bytes(p) for p in encoder.encode(None)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("h264", rate=25)
        stream.width, stream.height = width, height
        stream.codec_context.extradata = encoder.extradata
        for index in range(frames):
            packet = av.Packet(packets[min(index, 1)])
            packet.pts = packet.dts = index
            packet.time_base, packet.stream = Fraction(1, 25), stream
            packet.is_keyframe = index == 0
            container.mux(packet)


def _transport_stream(path: Path, frames: int, noise: bool) -> None:
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "10" if noise else "30"}
        for index in range(frames):
            image = np.zeros((240, 320, 3), np.uint8)
            if noise:
                image = rng.integers(0, 255, image.shape, dtype=np.uint8)
            else:
                image[(index * 3) % 230 : (index * 3) % 230 + 10] = 200
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _under_reported(path: Path) -> None:
    """Two transport streams back to back, both starting at time 0: FFmpeg estimates the duration from the
    last megabyte (20 frames of noise) and says 20 frames; decoding yields 1,000."""
    first, second = path.with_suffix(".a.ts"), path.with_suffix(".b.ts")
    _transport_stream(first, 980, noise=False)
    _transport_stream(second, 20, noise=True)
    path.write_bytes(first.read_bytes() + second.read_bytes())
    first.unlink()
    second.unlink()


def make_hostile(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    files = {name: root / f"{name}.mp4" for name in ("truncated", "tall", "under_reported", "ffconcat", "empty")}
    data = SAMPLE.read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])
    _tall(files["tall"])
    _under_reported(files["under_reported"])
    files["ffconcat"].write_text("ffconcat version 1.0\nfile ffconcat.mp4\nfile ffconcat.mp4\n")
    files["empty"].write_bytes(b"")
    files["nested_labels"] = root / "nested.json"
    files["nested_labels"].write_text("[" * 100_000 + "]" * 100_000)
    return files
