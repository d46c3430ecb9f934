"""Where the project's files are, and the checks on a path a command writes to, made before any work starts.

from vad_core.io.paths import ASSETS, REPO_ROOT, new_file, writable_folder
out = writable_folder("results")     # BadInput, saying what is wrong with the path, before the model loads

The messages name the path, not an option: a front end adds its own name for it (the CLI its flag).
"""

from __future__ import annotations

import os
from pathlib import Path

from vad_core.errors import BadInput

REPO_ROOT = Path(__file__).resolve().parents[2]  # the folder holding vad_core/, app/ and assets/
ASSETS = REPO_ROOT / "assets"


def data_home() -> Path:
    """The tool's own data folder (models trained in the app, the event store): $XDG_DATA_HOME/vad, else
    ~/.local/share/vad."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "vad"


def writable_folder(path: str | Path) -> Path:
    """An output folder: not a file, creatable, writable (created later, by the writer)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"{path}: a file of that name exists; give a folder (it is created when missing)")
    existing = next(p for p in (folder.absolute(), *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise BadInput(f"{path}: {existing} is a file, so no folder can be made under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BadInput(f"{path}: the folder {existing} is not writable")
    return folder


def new_file(path: str | Path) -> Path:
    """An output file: not a folder, in a writable folder that exists."""
    out = Path(path)
    if out.is_dir():
        raise BadInput(f"{path}: that is a folder; give a file name")
    parent = out.parent
    if not parent.is_dir():
        raise BadInput(f"{path}: output folder {parent} not found")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"{path}: the folder {parent} is not writable")
    return out
