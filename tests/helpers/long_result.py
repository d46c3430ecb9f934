"""A 50,000-frame clip of about 1 MB, and a stored batch result of that many frames: what the batch page must
refuse at its limit, and open without loading (issue 30).

clip = long_clip(tmp / "long.mp4")                  # 50,000 frames of 32x32 H.264
out = long_result(tmp / "out", clip, analysis)      # a batch output folder whose one video holds 50,000 frames

Scoring 50,000 frames takes this 2-core machine many minutes, so the stored result is a real analysis of a short
clip (its files as the batch writes them) repeated to the clip's length; the batch's own code writes the folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vad_core.batch.inputs import Video, content_hash
from vad_core.batch.outputs import BatchOutput
from vad_core.batch.stored import MAPS_FILE, STATE_FILE, write_analysis
from vad_core.pipeline.result import Analysis
from vad_core.pipeline.writers import _write_npz

FRAMES = 50_000
CHUNK = 500


def long_clip(path: Path, frames: int = FRAMES, side: int = 32) -> Path:
    """frames frames of side x side: a bar moving over black, a few bytes a frame."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "35"}
        for index in range(frames):
            image = np.zeros((side, side, 3), np.uint8)
            image[:, index % side] = 200
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 25)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _chunks(value: np.ndarray, rows: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, len(rows), CHUNK):
        yield value[rows[start : start + CHUNK]]


def _tiled(path: Path, frames: int, rename: str | None = None) -> None:
    """Rewrite a stored .npz with every per-frame array repeated to `frames` rows (pictures streamed)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    small, streams = {}, {}
    for key, value in arrays.items():
        rows = np.arange(frames) % len(value) if value.ndim else None
        if value.ndim == 3:
            streams[key] = ((frames, *value.shape[1:]), _chunks(value, rows))
        elif value.ndim:
            small[key] = value[rows]
        elif key == "meta" and rename:
            small[key] = np.array(json.dumps(json.loads(str(value)) | {"name": rename}))
        else:
            small[key] = value
    _write_npz(path, small, streams)


def long_result(out: Path, clip: Path, analysis: Analysis, frames: int = FRAMES) -> Path:
    """A batch output folder for clip whose stored analysis is `analysis` repeated to `frames` frames."""
    scratch = write_analysis(analysis, out.parent / "long-scratch")
    rows = np.arange(frames) % analysis.frame_count
    scores = analysis.scores_frame().iloc[rows].reset_index(drop=True)
    scores["frame"] = np.arange(frames)
    scores["time_s"] = np.arange(frames) / analysis.fps
    segments = {"fps": analysis.fps, "segments": []}
    files = {"scores.csv": scores.to_csv(index=False).encode(), "segments.json": json.dumps(segments).encode()}
    output = BatchOutput(out, analysis.model_name, "0" * 16, "tiled")
    video = Video(clip.name, clip)
    record = output.store(video, content_hash(clip), {"files": files, "seconds": analysis.seconds})
    for name in (STATE_FILE, MAPS_FILE):
        (out / record.folder / name).write_bytes((scratch / name).read_bytes())
        _tiled(out / record.folder / name, frames, clip.name if name == STATE_FILE else None)
    output.write_tables()
    output.write_summary(complete=True)
    return out
