"""Helpers for the live tests: a real RTSP server (tests/helpers/rtsp_server.py under the system Python) and a
growing MPEG-TS file written in a thread.

    with RtspServer(clip) as server:        # skips (fails under CI=true) when GStreamer's server is missing
        url = server.url                    # rtsp://127.0.0.1:PORT/clip, the clip from its first frame per client
    writer = write_growing_ts(path, frames, fps=20)   # a started thread; join() when done
    with http_folder(folder) as url: ...    # a folder over HTTP on 127.0.0.1, a stream URL PyAV opens
    write_tall_stream(path)                 # an MPEG-TS of hostile 2x16382 H.264 frames
    LiveRun(PacedClip(clip, fps=30), model)  # a recorded clip played at a pace: the simplest live source
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import av
import numpy as np
import pytest

from tests.helpers.stream_servers import serving_http
from vad_core.io.sources import LiveFrame
from vad_core.io.video import stream_raw_gray

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).with_name("rtsp_server.py")
PACKAGES = "gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"


def _missing() -> str | None:
    """Why the RTSP server cannot run here, or None."""
    if not Path(SYSTEM_PYTHON).is_file():
        return f"{SYSTEM_PYTHON} not found"
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        "assert all(Gst.ElementFactory.find(e) for e in ('qtdemux', 'h264parse', 'rtph264pay'))"
    )
    done = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=60, check=False)
    return None if done.returncode == 0 else f"GStreamer's RTSP server is not installed (apt-get install {PACKAGES})"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RtspServer:
    """The clip served at rtsp://127.0.0.1:PORT/clip in real time, from a child process stopped on exit."""

    def __init__(self, clip: Path) -> None:
        self.clip, self.port = clip, _free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/clip"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> RtspServer:
        reason = _missing()
        if reason:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(reason + " (required when CI=true)")
            pytest.skip(reason)
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER), str(self.clip), str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            ready = selector.select(30) and self.process.stdout.readline().strip() == "ready"
        if not ready:
            self.__exit__()
            pytest.fail(f"the RTSP server did not start: {self.process.stderr.read()[-500:]}")
        return self

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): its clients' reads time out."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def write_growing_ts(path: Path, frames: list[np.ndarray], fps: float, pace: float | None = None) -> threading.Thread:
    """Start writing gray frames to an MPEG-TS file at `pace` frames a second (default fps), flushed as it goes."""
    import av

    def write() -> None:
        with path.open("wb") as raw, av.open(raw, "w", format="mpegts") as container:
            stream = container.add_stream("libx264", rate=round(fps))
            stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
            stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
            for gray in frames:
                frame = av.VideoFrame.from_ndarray(gray, format="gray").reformat(format="yuv420p")
                for packet in stream.encode(frame):
                    container.mux(packet)
                raw.flush()
                time.sleep(1 / (pace or fps))
            for packet in stream.encode():
                container.mux(packet)

    path.touch()
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


TALL = (16382, 2)  # (height, width): 32 KB encoded, a 75 MB thumbnail and a gigabyte-class render unchecked


@contextmanager
def http_folder(folder: Path) -> Iterator[str]:
    """A folder over HTTP on 127.0.0.1: a stream URL that PyAV opens like any network source."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    with serving_http(handler) as url:
        yield url


def tall_frames(count: int) -> Iterator[av.VideoFrame]:
    for i in range(count):
        yield av.VideoFrame.from_ndarray(np.full((*TALL, 3), 40 * (i % 6), np.uint8), format="rgb24")


def write_tall_stream(path: Path, frames: int = 30) -> Path:
    """An MPEG-TS of 2x16382 H.264 frames, written with PyAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.height, stream.width = TALL
        stream.pix_fmt = "yuv420p"
        for frame in tall_frames(frames):
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


class PacedClip:
    """A recorded clip played at fps (0: as fast as it decodes): the simplest live source."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps, self.name = path, fps or 10.0, path.name
        self.pace, self.closed = fps, False

    def frames(self) -> Iterator[LiveFrame]:
        started = time.monotonic()
        for index, gray in enumerate(stream_raw_gray(self.path)):
            if self.closed:
                return
            if self.pace:
                time.sleep(max(0.0, started + index / self.pace - time.monotonic()))
            yield LiveFrame(gray, index, index / self.fps)

    def close(self) -> None:
        self.closed = True
