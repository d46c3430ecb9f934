"""Which server folders a browser user may name: none, unless the operator sets VAD_DATA_ROOT.

    root = data_root()                                  # None: the "folder on this server" sources are off
    folder = allowed_folder("../shared/data/ucsd_ped2")  # BadInput unless it resolves under the root

A shared server must not let a stranger read /etc or another user's home through a dataset field, so a
typed path is resolved (symlinks followed, relative to the root) and must land inside the root.
"""

from __future__ import annotations

import os
from pathlib import Path

from vad_core import BadInput

ROOT_VARIABLE = "VAD_DATA_ROOT"


def data_root() -> Path | None:
    """The resolved folder that VAD_DATA_ROOT names, or None when it is unset or not a folder."""
    value = os.environ.get(ROOT_VARIABLE, "").strip()
    if not value:
        return None
    root = Path(value).expanduser().resolve()
    return root if root.is_dir() else None


def allowed_folder(text: str) -> Path:
    """The folder a user typed, resolved; BadInput unless it exists under the allowed root."""
    root = data_root()
    if root is None:
        raise BadInput(f"folders on this server are off; the operator enables them by setting {ROOT_VARIABLE}")
    typed = Path(text.strip()).expanduser()
    folder = (typed if typed.is_absolute() else root / typed).resolve()
    if not folder.is_relative_to(root):
        raise BadInput(f"{text.strip()}: not under the allowed data folder {root}")
    if not folder.is_dir():
        raise BadInput(f"{text.strip()}: no such folder under {root}")
    return folder
