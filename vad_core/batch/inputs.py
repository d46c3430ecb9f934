"""What a batch scores: video files, folders searched recursively, and manifests, each video named once.

videos = find_videos(["clips/", "extra.mp4", "list.txt"])   # [Video(name="Test001.mp4", path=...), ...]
digest = content_hash(videos[0].path)                       # sha256 of the bytes: the resume key's half

A manifest is a .txt/.lst file with one path a line (# comments) or a .csv with a `path` column; relative
paths are taken from the manifest's folder. A folder of frame images is one video, as for `analyze`.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from vad_core.errors import BadInput
from vad_core.io.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

MANIFEST_SUFFIXES = {".txt", ".lst", ".csv"}


@dataclass(frozen=True)
class Video:
    """One unit of work: the name it is reported under (unique in the batch) and where it is read."""

    name: str
    path: Path


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, or of a frame folder's image names and bytes."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.name.encode() + b"\0")
        with file.open("rb") as f:
            while block := f.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def _is_frame_folder(folder: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir() if p.is_file())


def _in_folder(folder: Path) -> list[Path]:
    """Videos under a folder, recursively: video files, and folders of frame images (not searched further)."""
    if _is_frame_folder(folder):
        return [folder]
    found: list[Path] = []
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            found += _in_folder(child)
        elif child.suffix.lower() in VIDEO_SUFFIXES:
            found.append(child)
    return found


def read_manifest(path: Path) -> list[Path]:
    """Paths listed in a manifest: a CSV with a `path` column, or one path a line."""
    text = path.read_text(errors="replace")
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if rows and "path" not in rows[0]:
            raise BadInput(f"{path.name}: a CSV manifest needs a 'path' column")
        entries = [row["path"].strip() for row in rows if (row.get("path") or "").strip()]
    else:
        entries = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [p if p.is_absolute() else path.parent / p for p in map(Path, entries)]


def _expand(item: Path) -> list[Path]:
    if item.is_dir():
        return _in_folder(item)
    if item.suffix.lower() in MANIFEST_SUFFIXES and item.is_file():
        return [p for entry in read_manifest(item) for p in (_in_folder(entry) if entry.is_dir() else [entry])]
    return [item]  # a video file, or a missing one: it fails as that video, with its reason


def _unique_names(paths: list[Path]) -> list[str]:
    """File names, qualified by parent folders where two videos would otherwise share one."""
    depth = {p: 1 for p in paths}
    while True:
        names = {p: "/".join(p.parts[-depth[p] :]) for p in paths}
        counts: dict[str, int] = {}
        for name in names.values():
            counts[name] = counts.get(name, 0) + 1
        clashing = [p for p in paths if counts[names[p]] > 1 and depth[p] < len(p.parts)]
        if not clashing:
            return [names[p] for p in paths]
        for p in clashing:
            depth[p] += 1


def find_videos(inputs: list[str | Path]) -> list[Video]:
    """Every video the inputs name, once each (by resolved path), in the order given; BadInput if none."""
    seen: dict[Path, Path] = {}
    for item in map(Path, inputs):
        for path in _expand(item):
            seen.setdefault(path.resolve(), path)
    if not seen:
        raise BadInput(f"no videos found in {', '.join(map(str, inputs))} ({', '.join(sorted(VIDEO_SUFFIXES))})")
    paths = list(seen.values())
    return [Video(name, path) for name, path in zip(_unique_names(paths), paths, strict=True)]
