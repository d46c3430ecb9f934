"""The decoder child: the same frames as decoding here, and one sentence (never a dead server) when FFmpeg
crashes, hangs or is handed a file that would make it open others."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vad_core import BadInput
from vad_core.io.sandbox import SandboxedDecoder, SandboxLimits
from vad_core.io.video import stream_raw_gray


def _children(name: str = "vad_core.io.sandbox") -> list[int]:
    """Pids of this process's decoder children, from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == os.getpid() and name.encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def test_the_child_gives_the_same_frames_as_decoding_here(samples):
    clip = samples / "test" / "Test004.mp4"
    with SandboxedDecoder().open(clip) as video:
        frames = list(video.frames)
        assert (video.info.width, video.info.height, video.info.frame_count) == (360, 240, len(frames))
    here = list(stream_raw_gray(clip))
    assert len(frames) == len(here) and all(np.array_equal(a, b) for a, b in zip(frames, here, strict=True))


def test_a_truncated_file_yields_its_readable_frames(samples, tmp_path):
    data = (samples / "test" / "Test004.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with SandboxedDecoder().open(cut) as video:
        assert 0 < len(list(video.frames)) < 180


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"ffconcat version 1.0\nfile loop.mp4\n", "a text file"),
        (b"#EXTM3U\n#EXTINF:10,\nhttp://example.com/a.ts\n", "a text file"),
    ],
)
def test_files_that_are_not_videos_are_refused_before_ffmpeg(tmp_path, content, message):
    path = tmp_path / "loop.mp4"
    path.write_bytes(content)
    with pytest.raises(BadInput, match=message), SandboxedDecoder().open(path) as video:
        list(video.frames)


@pytest.mark.parametrize(("sig", "message"), [(signal.SIGSEGV, "crashed on this file"), (signal.SIGSTOP, "stalled")])
def test_a_child_that_crashes_or_hangs_mid_file_costs_one_sentence(samples, sig, message):
    decoder = SandboxedDecoder(SandboxLimits(stall_seconds=2))
    with pytest.raises(BadInput, match=message), decoder.open(samples / "test" / "Test004.mp4") as video:
        for count, _ in enumerate(video.frames):
            if count == 10:
                (child,) = _children()
                os.kill(child, sig)
    assert _children() == []  # killed and reaped
    with decoder.open(samples / "test" / "Test004.mp4") as video:  # the next decode works
        assert len(list(video.frames)) == 180


def test_the_child_cannot_grow_past_its_memory_cap(samples):
    decoder = SandboxedDecoder(SandboxLimits(memory_bytes=64 << 20))  # less than importing OpenCV needs
    with pytest.raises(BadInput, match="decod"), decoder.open(samples / "test" / "Test004.mp4") as video:
        list(video.frames)


def test_the_child_dies_with_its_parent(samples, tmp_path):
    """A server killed by SIGKILL leaves no decoder behind."""
    script = (
        "import sys, time; from pathlib import Path; from vad_core.io.sandbox import SandboxedDecoder\n"
        f"with SandboxedDecoder().open(Path({str(samples / 'test' / 'Test004.mp4')!r})) as v:\n"
        "    next(v.frames); print('decoding', flush=True); time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path.cwd())
    assert parent.stdout.readline().strip() == "decoding"
    children = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _parent_of(p) == parent.pid]
    assert children
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while any(p.exists() and _state(p) != "Z" for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(p.exists() and _state(p) != "Z" for p in children)


def _parent_of(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return -1


def _state(proc: Path) -> str:
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
