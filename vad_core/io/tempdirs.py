"""Temporary folders that name the process owning them, so that what a killed process left can be swept.

    folder = tempfile.mkdtemp(prefix=owned_prefix("vad_frames_"))   # vad_frames_<pid>.<start>-xxxxxxxx
    swept = sweep_dead(tempfile.gettempdir(), ("vad_frames_", "vad-player-"))  # folders of dead owners, removed

The owner is written into the folder name as its pid and, on Linux, its start time (so that a pid reused by
another process does not keep a dead server's folder). A folder whose owner is alive, or whose name names no
owner (made by an older version), is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

OWNER = re.compile(r"^(\d+)(?:\.(\d+))?-")


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), or None where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    return stat[stat.rindex(")") + 2 :].split()[19]


def owned_prefix(prefix: str, pid: int | None = None) -> str:
    """prefix plus this process's pid and start time, for tempfile's prefix= argument."""
    pid = os.getpid() if pid is None else pid
    start = _start_time(pid)
    return f"{prefix}{pid}.{start}-" if start else f"{prefix}{pid}-"


def owner_alive(pid: int, start: str | None = None) -> bool:
    """Whether process pid lives (and, when start is given and /proc can tell, is the process that started then)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        pass
    if start is None:
        return True
    now = _start_time(pid)
    return now is None or now == start


def sweep_dead(folder: str | Path | None, prefixes: Iterable[str]) -> list[Path]:
    """Remove the folders under folder named prefix<pid>[.<start>]-... whose owner is dead; the removed ones."""
    if folder is None:
        return []
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return []
    for path in entries:
        for prefix in prefixes:
            if not path.name.startswith(prefix):
                continue
            owner = OWNER.match(path.name[len(prefix) :])
            if owner and not path.is_symlink() and path.is_dir() and not owner_alive(int(owner[1]), owner[2]):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
            break
    return removed
