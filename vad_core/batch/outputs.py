"""A batch output folder: per-video results, the Parquet tables and summary.json, every file written atomically.

output = BatchOutput(Path("out"), "ped2", model_hash, "assets/models/ped2")
output.store(video, digest, worker_result)     # out/videos/<name>/: scores.csv, segments.json, ... result.json
output.write_tables(); output.write_summary(complete=True)
records = load_records(Path("out"))            # what a finished batch holds, for the app and the report

Layout of DIR:
    summary.json          done, failed (with reason), skipped; frames, times, frames/s, model name and hash
    frames.parquet        video, frame, time_s, error, score, anomalous (one row per frame of each video)
    segments.parquet      video, kind, start, end, frames, start_s, end_s, peak (c), peak_frame
    videos/NAME/          scores.csv, segments.json, error_maps.npz (as `analyze --out`), analysis.npz, result.json
A video's result.json is written last, inside a folder that is renamed into place whole: a folder with one
is finished, and it names the content and model hashes it was scored from.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vad_core.batch.inputs import Video
from vad_core.batch.worker import safe_name
from vad_core.errors import BadInput

VIDEOS = "videos"
RESULT = "result.json"
SUMMARY = "summary.json"
FRAME_COLUMNS = ["video", "frame", "time_s", "error", "score", "anomalous"]
SEGMENT_COLUMNS = ["video", "kind", "start", "end", "frames", "start_s", "end_s", "peak", "peak_frame"]
RANKINGS = ("peak", "anomalous")  # what ranked() sorts by first


@dataclass
class VideoRecord:
    """A finished video: where it came from, the hashes it was scored from, and its headline figures."""

    video: str
    path: str
    folder: str  # relative to DIR
    content_hash: str
    model_hash: str
    frames: int
    fps: float
    seconds: float  # processing time in the worker
    peak: float  # highest c(t)
    peak_frame: int
    anomalous_seconds: float
    segments: int
    scene: dict | None = None
    warnings: list[str] = field(default_factory=list)
    node: str = ""  # the Ray node that scored it

    def __post_init__(self) -> None:
        """A folder name read back from summary.json or result.json is a relative path inside DIR, never more."""
        parts = Path(self.folder).parts
        if not parts or Path(self.folder).is_absolute() or ".." in parts or "\\" in self.folder:
            raise BadInput(f"{self.video}: its folder {self.folder!r} is not a folder inside the batch output folder")

    def location(self, root: str | Path) -> Path:
        """root/folder, once it resolves (symlinks followed) inside root; BadInput otherwise."""
        folder = Path(root) / self.folder
        if not folder.resolve().is_relative_to(Path(root).resolve()):
            raise BadInput(f"{self.video}: its folder {self.folder!r} leads outside the batch output folder")
        return folder


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write a file so that readers see the old or the new one whole, never a part (temp file + os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False) as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(f.name, 0o666 & ~_umask())  # as an ordinary new file would be, not the temp file's 0600
    os.replace(f.name, path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _figures(files: dict[str, bytes]) -> dict:
    scores = pd.read_csv(io.BytesIO(files["scores.csv"]))
    doc = json.loads(files["segments.json"])
    fps = float(doc.get("fps") or 0) or 1.0
    score = scores["score"].to_numpy(dtype=np.float64)
    peak_index = int(np.nanargmax(score)) if len(score) and np.isfinite(score).any() else 0
    return {
        "frames": len(scores),
        "fps": fps,
        "peak": float(score[peak_index]) if len(score) else 0.0,
        "peak_frame": int(scores["frame"].iloc[peak_index]) if len(score) else 0,
        "anomalous_seconds": float(scores["anomalous"].sum()) / fps,
        "segments": len(doc.get("segments", [])),
    }


class BatchOutput:
    """The output folder of one run, and the ledger of what it has done, failed and skipped."""

    def __init__(self, root: Path, model_name: str, model_hash: str, checkpoint: str) -> None:
        self.root = Path(root)
        self.model = {"name": model_name, "hash": model_hash, "checkpoint": checkpoint}
        self.done: list[VideoRecord] = []
        self.skipped: list[VideoRecord] = []
        self.failures: list[dict] = []
        self.setup: dict = {}
        self.scoring_seconds = 0.0
        (self.root / VIDEOS).mkdir(parents=True, exist_ok=True)
        for stale in (self.root / VIDEOS).glob(".partial-*"):  # a run killed while writing a video's folder
            shutil.rmtree(stale, ignore_errors=True)

    def folder(self, video: Video) -> Path:
        return self.root / VIDEOS / safe_name(video.name)

    def finished(self, video: Video, digest: str) -> VideoRecord | None:
        """The stored result of this video's bytes under this model, if an earlier run finished it."""
        path = self.folder(video) / RESULT
        try:
            record = VideoRecord(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if record.content_hash != digest or record.model_hash != self.model["hash"]:
            return None
        return record

    def skip(self, record: VideoRecord) -> None:
        self.skipped.append(record)

    def failed(self, video: Video, reason: str) -> None:
        self.failures.append(
            {"video": video.name, "path": os.path.abspath(video.path), "reason": reason.splitlines()[0]}
        )

    def store(self, video: Video, digest: str, result: dict) -> VideoRecord:
        """Write a worker's files into DIR/videos/NAME/ as one rename; result.json last inside it."""
        files: dict[str, bytes] = result["files"]
        final = self.folder(video)
        record = VideoRecord(
            video=video.name,
            path=os.path.abspath(video.path),
            folder=str(final.relative_to(self.root)),
            content_hash=digest,
            model_hash=self.model["hash"],
            seconds=result["seconds"],
            scene=result.get("scene"),
            warnings=list(result.get("warnings", [])),
            node=result.get("node", ""),
            **_figures(files),
        )
        partial = Path(tempfile.mkdtemp(prefix=f".partial-{final.name}-", dir=final.parent))
        os.chmod(partial, 0o777 & ~_umask())
        for name, data in files.items():
            (partial / name).write_bytes(data)
        (partial / RESULT).write_text(json.dumps(asdict(record), indent=2) + "\n")
        if final.exists():  # an older result (other bytes, another model): replaced whole
            old = final.with_name(f".partial-old-{final.name}-{os.getpid()}")
            os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(partial, final)
        self.done.append(record)
        return record

    def write_tables(self) -> None:
        """frames.parquet and segments.parquet over every finished video (done now or before)."""
        frames, segments = [], []
        for record in sorted(self.done + self.skipped, key=lambda r: r.video):
            folder = record.location(self.root)
            table = pd.read_csv(folder / "scores.csv")
            table.insert(0, "video", record.video)
            frames.append(table[FRAME_COLUMNS])
            doc = json.loads((folder / "segments.json").read_text())
            for seg in doc.get("segments", []) + doc.get("health", []):
                segments.append({"video": record.video, "kind": seg.get("kind", "anomaly")} | seg)
        frame_table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FRAME_COLUMNS)
        segment_table = pd.DataFrame(segments)
        for column in SEGMENT_COLUMNS:
            if column not in segment_table:
                segment_table[column] = pd.Series(
                    dtype="float64" if column.endswith("_s") or column == "peak" else "object"
                )
        _write_parquet(frame_table, self.root / "frames.parquet")
        _write_parquet(segment_table[SEGMENT_COLUMNS], self.root / "segments.parquet")

    def summary(self, complete: bool, wall_seconds: float | None = None) -> dict:
        frames = sum(r.frames for r in self.done)
        return {
            "complete": complete,
            "done": [asdict(r) for r in self.done],
            "failed": self.failures,
            "skipped": [asdict(r) for r in self.skipped],
            "frames": frames,
            "frames_total": frames + sum(r.frames for r in self.skipped),
            "wall_seconds": wall_seconds,
            "scoring_seconds": self.scoring_seconds,
            "frames_per_second": frames / self.scoring_seconds if self.scoring_seconds else 0.0,
            "model": self.model,
            **self.setup,
        }

    def write_summary(self, complete: bool, wall_seconds: float | None = None) -> dict:
        summary = self.summary(complete, wall_seconds)
        atomic_write(self.root / SUMMARY, json.dumps(summary, indent=2) + "\n")
        return summary


def _write_parquet(table: pd.DataFrame, path: Path) -> None:
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    atomic_write(path, buffer.getvalue())


def load_summary(root: str | Path) -> dict:
    """DIR/summary.json; BadInput when the folder holds no batch output."""
    path = Path(root) / SUMMARY
    if not path.is_file():
        raise BadInput(f"{root}: no {SUMMARY} here (not a batch output folder)")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BadInput(f"{path}: unreadable ({err})") from err


def ranked(records: list[VideoRecord], by: str = "peak") -> list[VideoRecord]:
    """Worst first: by peak c(t) (then anomalous seconds), or by anomalous seconds (then peak); then by name."""
    if by == "anomalous":
        return sorted(records, key=lambda r: (-r.anomalous_seconds, -r.peak, r.video))
    return sorted(records, key=lambda r: (-r.peak, -r.anomalous_seconds, r.video))


def load_records(root: str | Path) -> list[VideoRecord]:
    """Every finished video of a batch (done and skipped), worst first (ranked by peak c(t))."""
    summary = load_summary(root)
    try:
        return ranked([VideoRecord(**r) for r in summary.get("done", []) + summary.get("skipped", [])])
    except TypeError as err:  # fields missing or unknown
        raise BadInput(f"{Path(root) / SUMMARY}: not a batch summary ({err})") from err
