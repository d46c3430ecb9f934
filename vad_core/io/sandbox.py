"""Decode an untrusted video in a child process that pipes raw gray frames back, so a crash or a hang in
FFmpeg costs one sentence, not the server (PyAV issue 2344: SIGSEGV on a truncated MP4; issue 615: no
timeout on a stuck decode).

    decoder = SandboxedDecoder(SandboxLimits(memory_bytes=1 << 30, stall_seconds=30))
    with decoder.open(Path("upload.mp4")) as video:    # BadInput when the child cannot open it
        for gray in video.frames:                       # uint8 (H, W), the same frames as video.stream_raw_gray
            ...

The child is `python -m vad_core.io.sandbox PATH THREADS PARENT_PID`: it imports no torch, runs under an address-space
cap, in its own process group, dies with its parent, and is killed when it stalls or runs past its
deadline. Protocol on its stdout: one JSON line (the VideoInfo), then per frame 8 bytes (height, width as
little-endian uint32) and height x width bytes; exit 0 at the end, 2 with one line on stderr for bad input.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vad_core.errors import BadInput
from vad_core.io.lifeline import die_with_parent
from vad_core.io.paths import REPO_ROOT
from vad_core.io.video import IN_PROCESS, OpenedVideo, VideoInfo

FRAME_HEADER = struct.Struct("<II")
BAD_INPUT_EXIT = 2
OUT_OF_MEMORY_EXIT = 3
PACKAGE_PARENT = str(REPO_ROOT)  # the child imports vad_core from wherever we run


@dataclass(frozen=True)
class SandboxLimits:
    """What one decode may cost: address space of the child, seconds without a byte, seconds in all."""

    memory_bytes: int = 1536 << 20
    stall_seconds: float = 30.0
    max_seconds: float | None = None

    @classmethod
    def from_env(cls) -> SandboxLimits:
        """VAD_DECODE_MEMORY_MB (1536), VAD_DECODE_STALL_SECONDS (30) and VAD_MAX_SECONDS (none)."""
        env = os.environ
        return cls(
            memory_bytes=int(env.get("VAD_DECODE_MEMORY_MB") or 1536) << 20,
            stall_seconds=float(env.get("VAD_DECODE_STALL_SECONDS") or 30),
            max_seconds=float(env["VAD_MAX_SECONDS"]) if env.get("VAD_MAX_SECONDS") else None,
        )


def _cap(pid: int, memory_bytes: int) -> None:
    """The child's address space and core dumps, set from the parent (a preexec_fn is unsafe in a threaded
    server); the child has only imported modules by then."""
    resource.prlimit(pid, resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.prlimit(pid, resource.RLIMIT_CORE, (0, 0))


class _Pipe:
    """Exact reads from the child's stdout, each bounded by the stall and overall deadlines."""

    def __init__(self, child: subprocess.Popen, name: str, limits: SandboxLimits) -> None:
        self.child, self.name, self.limits = child, name, limits
        self.fd = child.stdout.fileno()
        self.started = time.monotonic()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.fd, selectors.EVENT_READ)

    def _wait(self) -> None:
        timeout = self.limits.stall_seconds
        if self.limits.max_seconds is not None:
            timeout = min(timeout, self.limits.max_seconds - (time.monotonic() - self.started))
        if timeout <= 0 or not self.selector.select(timeout):
            self.child.kill()
            overall = self.limits.max_seconds is not None and time.monotonic() - self.started >= self.limits.max_seconds
            if overall:
                raise BadInput(f"{self.name}: decoding stopped after {self.limits.max_seconds:g} s (the time limit)")
            raise BadInput(f"{self.name}: the decoder stalled for {self.limits.stall_seconds:g} s and was stopped")

    def read(self, size: int) -> bytes:
        """size bytes, or fewer only at the end of the stream."""
        chunks, left = [], size
        while left:
            self._wait()
            chunk = os.read(self.fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def line(self, limit: int = 4096) -> bytes:
        data = b""
        while not data.endswith(b"\n") and len(data) < limit:
            byte = self.read(1)
            if not byte:
                break
            data += byte
        return data


class SandboxedDecoder:
    """A decoder (vad_core.io.video.Decoder) whose FFmpeg runs in a capped, killable child process."""

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()

    @contextmanager
    def open(self, path: Path, threads: int | None = None) -> Iterator[OpenedVideo]:
        path = Path(path)
        child = subprocess.Popen(
            [sys.executable, "-m", "vad_core.io.sandbox", str(path), str(threads or 0), str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a signal to the server's group does not reach it, nor its to ours
            env=os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([PACKAGE_PARENT, *sys.path])},
        )
        _cap(child.pid, self.limits.memory_bytes)
        pipe = _Pipe(child, path.name, self.limits)
        try:
            header = pipe.line()
            if not header.endswith(b"\n"):
                self._raise_for_exit(child, path.name)
            info = VideoInfo(path=path, **json.loads(header))
            yield OpenedVideo(info, self._frames(pipe, child, path.name))
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            child.stdout.close()
            child.stderr.close()
            pipe.selector.close()

    def _frames(self, pipe: _Pipe, child: subprocess.Popen, name: str) -> Iterator[np.ndarray]:
        while True:
            head = pipe.read(FRAME_HEADER.size)
            if not head:
                self._raise_for_exit(child, name)
                return
            height, width = FRAME_HEADER.unpack(head)
            data = pipe.read(height * width)
            if len(data) < height * width:
                self._raise_for_exit(child, name)
                return
            yield np.frombuffer(data, np.uint8).reshape(height, width)

    def _raise_for_exit(self, child: subprocess.Popen, name: str) -> None:
        """Nothing for a clean end; otherwise the one sentence that says why the child stopped."""
        try:
            code = child.wait(timeout=self.limits.stall_seconds)
        except subprocess.TimeoutExpired:
            child.kill()
            raise BadInput(f"{name}: the decoder stopped answering and was stopped") from None
        if code == 0:
            return
        message = child.stderr.read(2000).decode("utf-8", "replace").strip().splitlines()
        if code == BAD_INPUT_EXIT and message:
            raise BadInput(message[-1])
        if code == OUT_OF_MEMORY_EXIT:
            raise BadInput(f"{name}: decoding needed more than {self.limits.memory_bytes >> 20} MB (the memory cap)")
        if code < 0:
            crash = signal.Signals(-code).name
            raise BadInput(f"{name}: the decoder crashed on this file ({crash}); it may be damaged")
        raise BadInput(f"{name}: the decoder failed on this file (exit status {code})")


def _serve(path: Path, threads: int) -> None:
    """The child: the clip's metadata as a JSON line, then its frames, on stdout."""
    out = sys.stdout.buffer
    with IN_PROCESS.open(path, threads or None) as opened:
        info = opened.info
        out.write(
            json.dumps(
                {"frame_count": info.frame_count, "fps": info.fps, "width": info.width, "height": info.height}
            ).encode()
            + b"\n"
        )
        for gray in opened.frames:
            gray = np.ascontiguousarray(gray)
            out.write(FRAME_HEADER.pack(*gray.shape))
            out.write(gray.data)
    out.flush()


def child_main(parent: int, serve: Callable[[], None]) -> int:
    """A decoder child's whole run: die with the parent, serve, and map the outcome to the exit status the
    parent reads (a bad input's one line on stderr; out of memory; a parent that stopped reading)."""
    die_with_parent(parent)
    try:
        serve()
    except BadInput as err:
        print(" ".join(str(err).split()), file=sys.stderr)
        return BAD_INPUT_EXIT
    except MemoryError:
        return OUT_OF_MEMORY_EXIT
    except BrokenPipeError:  # the parent stopped reading: it has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def main(argv: list[str]) -> int:
    return child_main(int(argv[2]), lambda: _serve(Path(argv[0]), int(argv[1])))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
