"""Temporary folders named for their owning process, and the start-up sweep of those a dead process left."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np

from vad_core.io.framestore import FrameStore
from vad_core.io.tempdirs import owned_prefix, owner_alive, sweep_dead

PREFIXES = ("vad-player-", "vad-upload-", "vad_frames_")


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_folders_of_a_dead_process_are_swept_and_a_live_ones_kept(tmp_path):
    pid = dead_pid()
    dead = [tmp_path / f"{prefix}{pid}-abc123" for prefix in PREFIXES]
    dead.append(tmp_path / f"vad-player-{pid}.12345-x1")  # with a start time
    live = [tempfile.mkdtemp(prefix=owned_prefix(prefix), dir=tmp_path) for prefix in PREFIXES]
    parent = tempfile.mkdtemp(prefix=owned_prefix("vad-upload-", os.getppid()), dir=tmp_path)  # another live one
    untouched = [tmp_path / "vad-player-abc12345", tmp_path / "other-1-x", tmp_path / f"vad-upload-{pid}"]
    for folder in dead + untouched:
        folder.mkdir()
        (folder / "frames.bin").write_bytes(b"\0" * 10)
    (tmp_path / f"vad-export-{pid}-file").write_text("a file, not a folder")

    removed = sweep_dead(tmp_path, (*PREFIXES, "vad-export-"))
    assert sorted(removed) == sorted(dead)
    assert not any(folder.exists() for folder in dead)
    assert all(os.path.isdir(folder) for folder in [*live, parent, *untouched])
    assert (tmp_path / f"vad-export-{pid}-file").exists()


def test_a_reused_pid_is_told_apart_by_its_start_time(tmp_path):
    own = owned_prefix("vad-player-")
    assert owner_alive(os.getpid()) and not owner_alive(dead_pid())
    if "." in own:  # Linux: the start time is in the name
        start = own.removeprefix(f"vad-player-{os.getpid()}.").rstrip("-")
        assert owner_alive(os.getpid(), start)
        assert not owner_alive(os.getpid(), str(int(start) + 1))  # this pid, another process: dead owner
        (tmp_path / f"vad-player-{os.getpid()}.{int(start) + 1}-x").mkdir()
        assert [p.name for p in sweep_dead(tmp_path, PREFIXES)] == [f"vad-player-{os.getpid()}.{int(start) + 1}-x"]


def test_frame_store_spills_and_uploads_are_named_for_their_process(tmp_path, monkeypatch):
    store = FrameStore((4, 4), np.uint8, budget_bytes=8, spill_dir=tmp_path)
    store.append(np.zeros((2, 4, 4), np.uint8))
    assert store.spilled
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith(owned_prefix("vad_frames_"))
    assert sweep_dead(tmp_path, PREFIXES) == [] and folder.exists()  # ours: kept
    store.close()

    from app.state import ClipSource

    monkeypatch.setenv("VAD_UPLOAD_DIR", str(tmp_path))
    with ClipSource.upload("clip.mp4", b"data").as_file() as path:
        assert path.parent.name.startswith(owned_prefix("vad-upload-"))
