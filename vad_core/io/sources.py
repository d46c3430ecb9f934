"""Live sources for LiveRun (vad_core.pipeline.live): a recorded file, a network stream or capture device, a file
still being written, frames pushed by a caller (the browser's webcam), and any of them in a killable child.

    source = open_source("rtsp://127.0.0.1:8554/clip")      # BadInput with one line when it cannot be opened
    run = LiveRun(source, model).start()                     # source.stats: received, dropped, reconnects
    child = open_source(SourceSpec.parse(url), sandbox=SandboxLimits())   # untrusted URL: FFmpeg in a child

Every source yields LiveFrame(uint8 gray image, index, time_s): index counts frames as received (never padded);
where the source's timestamps jump by more than 1.5 frame intervals the missing frames are counted in
stats.dropped. Network streams reconnect after an error, a bounded number of times, and say so (stats.notice).
Frames are decoded as the `analyze` path decodes them (BGR, then OpenCV's gray), so c(t) matches.

The child is `python -m vad_core.io.sources SPEC_JSON PARENT_PID`, with vad_core.io.sandbox's pipe protocol: one
JSON line ({"name", "fps"}), then per frame a record of FRAME_HEADER (height, width) and its pixels. A record
of height 0 carries width bytes of JSON instead (the next frame's time and the source's counts).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from vad_core.errors import BadInput
from vad_core.io.limits import AnalysisLimits, check_frame
from vad_core.io.stream_fetch import ffmpeg_args
from vad_core.io.stream_urls import DEFAULT_PORTS, Pins, StreamHosts, parse_url
from vad_core.io.video import IN_PROCESS, Decoder

if TYPE_CHECKING:
    from vad_core.io.sandbox import SandboxLimits

DEFAULT_FPS = 25.0  # when a stream does not say its rate
GAP_INTERVALS = 1.5  # a timestamp step longer than this many frame intervals means frames were lost
NETWORK_SCHEMES = {"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt"}
# What FFmpeg may open for a URL of each kind: never `file`, so a playlist cannot make it read local files.
PROTOCOLS = {
    "rtsp": "rtsp,rtsps,rtp,srtp,tcp,udp,tls",
    "http": "http,https,tcp,tls,crypto,httpproxy",
    "rtmp": "rtmp,rtmps,tcp,tls",
    "udp": "udp,rtp",
    "tcp": "tcp",
    "srt": "srt",
}


@dataclass(frozen=True)
class LiveFrame:
    """One frame from a source: uint8 gray pixels, its source frame number and time (seconds)."""

    image: np.ndarray
    index: int
    time_s: float


class Source(Protocol):
    """Where live frames come from. frames() ends when the source does; close() makes it end soon."""

    name: str
    fps: float
    # optional: lossless = True makes the reader wait for the engine instead of dropping windows (a file
    # read as fast as it decodes); stats (SourceStats) feeds LiveStatus's source fields

    def frames(self) -> Iterator[LiveFrame]: ...

    def close(self) -> None: ...


@dataclass
class SourceStats:
    """What a source reports besides frames: frames lost in its own timestamps, reconnects, the last notice."""

    received: int = 0
    dropped: int = 0
    reconnects: int = 0
    notice: str = ""


@dataclass(frozen=True)
class SourceSpec:
    """What to open, as JSON-ready data (it crosses to the child). kind: file, stream, device or tail."""

    kind: str
    target: str
    realtime: bool = False  # file: play at its own frame rate (default: as fast as it decodes)
    open_timeout: float = 10.0  # seconds to connect
    read_timeout: float = 10.0  # seconds without data before the read fails (a stream then reconnects)
    retries: int = 3  # reconnects in a row before a failing stream is given up
    backoff: float = 1.0  # seconds before the first reconnect, doubled each time
    idle_timeout: float = 10.0  # tail: seconds without growth before the file is taken as finished
    hosts: str = ""  # stream: VAD_STREAM_HOSTS's rules for it and every URL it leads to ("": only its own host)

    @classmethod
    def parse(cls, text: str, *, follow: bool = False, realtime: bool = False, **options: float) -> SourceSpec:
        """A command-line SOURCE: a URL, /dev/videoN (or v4l2:PATH), or a file (follow: a file still growing)."""
        scheme = urlsplit(text).scheme.lower() if "://" in text else ""
        if scheme:
            if scheme not in NETWORK_SCHEMES:
                known = ", ".join(sorted(NETWORK_SCHEMES))
                raise BadInput(f"{redact(text)}: {scheme}:// is not a stream this reads ({known})")
            return cls("stream", text, **options)
        if text.startswith("v4l2:") or re.fullmatch(r"/dev/video\d+", text):
            return cls("device", text.removeprefix("v4l2:"), **options)
        return cls("tail" if follow else "file", text, realtime=realtime, **options)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SourceSpec:
        return cls(**json.loads(text))


def redact(url: str) -> str:
    """A URL fit to print: user and password dropped."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=host))


def open_source(
    spec: SourceSpec | str,
    *,
    sandbox: SandboxLimits | None = None,
    decoder: Decoder = IN_PROCESS,
    frame_limits: AnalysisLimits | None = None,
) -> FileSource | StreamSource | ChildSource:
    """Open a source now (BadInput with one line when it cannot be). sandbox: a vad_core.io.sandbox.SandboxLimits
    to decode in a capped, killable child (for untrusted URLs and files), whose frames are checked against
    frame_limits before they are read; decoder: where a file is decoded."""
    spec = SourceSpec.parse(spec) if isinstance(spec, str) else spec
    if sandbox is not None:
        return ChildSource(spec, sandbox, frame_limits)
    if spec.kind == "file":
        return FileSource(Path(spec.target), realtime=spec.realtime, decoder=decoder)
    if spec.kind in {"stream", "device", "tail"}:
        return StreamSource(spec)
    raise BadInput(f"{spec.target}: unknown source kind {spec.kind!r}")


def _gray(frame: object) -> np.ndarray:
    """uint8 gray from a PyAV frame, as OpenCV's capture gives it to analyze (BGR, then cvtColor)."""
    import cv2

    return cv2.cvtColor(frame.to_ndarray(format="bgr24"), cv2.COLOR_BGR2GRAY)


class _Closable:
    def __init__(self) -> None:
        self.closed = threading.Event()
        self.stats = SourceStats()

    def close(self) -> None:
        self.closed.set()

    def _sleep_until(self, deadline: float) -> bool:
        """Sleep until a monotonic deadline; False if the source was closed meanwhile."""
        return not self.closed.wait(max(0.0, deadline - time.monotonic()))


class FileSource(_Closable):
    """A recorded file, played at its own frame rate (realtime) or as fast as it decodes."""

    def __init__(
        self, path: Path, *, realtime: bool = False, decoder: Decoder = IN_PROCESS, fps: float | None = None
    ) -> None:
        """fps: play at this rate instead of the file's own (realtime only; the bench's camera of any rate)."""
        super().__init__()
        self.name, self.realtime = path.name, realtime
        self.lossless = not realtime  # as fast as it decodes: LiveRun waits for the engine, drops nothing
        self._stack = ExitStack()
        self._opened = self._stack.enter_context(decoder.open(path))  # BadInput now, not in the reader thread
        self.fps = fps or self._opened.info.fps
        self._started = False

    def frames(self) -> Iterator[LiveFrame]:
        self._started = True
        try:
            start = time.monotonic()
            for index, gray in enumerate(self._opened.frames):
                if self.closed.is_set() or (self.realtime and not self._sleep_until(start + index / self.fps)):
                    return
                self.stats.received += 1
                yield LiveFrame(gray, index, index / self.fps)
        finally:
            self._stack.close()

    def close(self) -> None:
        super().close()
        if not self._started:  # nobody will iterate: release the decoder here
            self._stack.close()


class GrowingFile:
    """A read-only file object over a file still being written: at its end it waits (polling) for more, and
    reports the end only once the file has not grown for idle_timeout seconds, or when closed is set."""

    def __init__(self, path: Path, idle_timeout: float, closed: threading.Event, poll: float = 0.05) -> None:
        self.file = path.open("rb")
        self.idle_timeout, self.closed, self.poll = idle_timeout, closed, poll
        self.grew = time.monotonic()  # when the last data came: FFmpeg may read again after an end

    def read(self, size: int = -1) -> bytes:
        while True:
            data = self.file.read(size if size and size > 0 else 1 << 16)
            if data:
                self.grew = time.monotonic()
            if data or self.closed.is_set() or time.monotonic() - self.grew > self.idle_timeout:
                return data
            self.closed.wait(self.poll)

    def close(self) -> None:
        self.file.close()


class StreamSource(_Closable):
    """A network stream (RTSP over TCP, HTTP, HLS...), a capture device or a growing file, decoded by PyAV.

    A network stream that fails reconnects up to spec.retries times in a row, after spec.backoff seconds
    doubled each time, and counts it in stats; a stream that ends (EOF) ends the source cleanly."""

    def __init__(self, spec: SourceSpec) -> None:
        super().__init__()
        self.spec = spec
        self.network = spec.kind == "stream"
        self.name = Path(spec.target).name if spec.kind == "tail" else redact(spec.target)
        self.pins, self._args = stream_pins(spec) if self.network else None, None
        self._container = self._connect()
        stream = self._container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        self.fps = float(rate) if rate and 0 < float(rate) <= 1000 else DEFAULT_FPS

    def _connect(self) -> object:
        import av

        spec = self.spec
        what = {"stream": "the stream", "device": "the capture device", "tail": "the file"}[spec.kind]
        if spec.kind == "tail" and not Path(spec.target).is_file():
            raise BadInput(f"{spec.target}: no such file")
        target, fmt, options, io_open = spec.target, None, {}, None
        if spec.kind == "tail":  # probe briefly: FFmpeg's default (5 s of video or 5 MB) waits on a live file
            target = self._growing = GrowingFile(Path(spec.target), spec.idle_timeout, self.closed)
            options = {"probesize": "65536", "analyzeduration": "1000000"}
        elif spec.kind == "device":
            fmt = "v4l2"
        elif self.pins is not None:  # http(s), HLS, rtsp: every connection vetted and pinned (stream_fetch)
            args = self._args = ffmpeg_args(self.pins, spec.target, spec.read_timeout)
            target, options, io_open = args.target, args.options, args.opener
        else:
            scheme = urlsplit(spec.target).scheme.lower().rstrip("s")
            micros = str(int(spec.read_timeout * 1e6))
            options = {"protocol_whitelist": PROTOCOLS.get(scheme, PROTOCOLS["rtsp"]), "rw_timeout": micros}
            if scheme == "rtsp":
                options |= {"rtsp_transport": "tcp", "timeout": micros}
        try:
            timeout = (spec.open_timeout, spec.read_timeout)
            container = av.open(target, format=fmt, options=options, timeout=timeout, io_open=io_open)
        except Exception as err:  # any FFmpeg failure: refused, not found, not a video, timed out
            if isinstance(target, GrowingFile):
                target.close()
            if self._args is not None:
                self._args.close()
            self._raise_refused()
            raise BadInput(f"{self.name}: cannot open {what} ({_reason(err)})") from None
        if not container.streams.video:
            container.close()
            raise BadInput(f"{self.name}: {what} has no video stream")
        return container

    def frames(self) -> Iterator[LiveFrame]:
        index, failures = 0, 0
        last_t: float | None = None  # time_s of the previous frame
        offset, first = 0.0, None  # the stream's clock restarts after a reconnect; ours goes on
        try:
            while not self.closed.is_set():
                try:
                    if self._container is None:
                        self._container, first = self._connect(), None
                    for count, frame in enumerate(self._container.decode(self._container.streams.video[0])):
                        if self.closed.is_set():
                            return
                        if frame.time is None:  # RTSP's first frame may have no timestamp
                            t = offset + count / self.fps if first is None else last_t + 1 / self.fps
                        else:
                            first = frame.time - count / self.fps if first is None else first
                            t = offset + frame.time - first
                        if last_t is not None and t - last_t > GAP_INTERVALS / self.fps:
                            self.stats.dropped += max(1, round((t - last_t) * self.fps) - 1)
                        last_t, failures = max(t, last_t if last_t is not None else t), 0
                        self.stats.received += 1
                        yield LiveFrame(_gray(frame), index, t)
                        index += 1
                    self._raise_refused()
                    return  # the stream ended: end cleanly
                except Exception as err:  # FFmpeg: connection lost, read timed out, corrupt data; or no reconnect
                    if self.closed.is_set():
                        return
                    self._raise_refused()
                    reason = str(err).split(" (", 1)[-1].rstrip(")") if isinstance(err, BadInput) else _reason(err)
                    if not self.network or failures >= self.spec.retries:
                        gave_up = f" after {failures} reconnects" if failures else ""
                        raise BadInput(f"{self.name}: the stream failed{gave_up} ({reason})") from None
                self._close_container()
                failures += 1
                self.stats.reconnects += 1
                self.stats.notice = f"reconnecting ({failures} of {self.spec.retries}): {reason}"
                lost = time.monotonic()
                if not self._sleep_until(lost + self.spec.backoff * 2 ** (failures - 1)):
                    return
                if last_t is not None:
                    offset = last_t + (time.monotonic() - lost) + 1 / self.fps
        finally:
            self._close_container()

    def _raise_refused(self) -> None:
        """A URL the vetting turned away (the stream's own, a redirect, a segment) ends the run in its sentence."""
        if self._args is not None and self._args.refused():
            raise BadInput(self._args.refused())

    def _close_container(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            with contextlib.suppress(Exception):
                container.close()
        if self._args is not None:  # the stream's RTSP relay, if any
            self._args.close()
        growing, self._growing = getattr(self, "_growing", None), None
        if growing is not None:  # PyAV leaves a file object open
            growing.close()

    def close(self) -> None:
        super().close()  # the reader sees it at the next frame, or when a read times out


def stream_pins(spec: SourceSpec) -> Pins | None:
    """The vetting of a stream's connections: by spec.hosts (the app's VAD_STREAM_HOSTS), or, with none given
    (the operator's own URL to watch), its own host and port only. None for the schemes it cannot vet (rtmp,
    udp, srt, tcp, rtsps), which only the operator may open."""
    if spec.hosts:
        return Pins(StreamHosts.parse(spec.hosts))
    if urlsplit(spec.target).scheme.lower() not in DEFAULT_PORTS:
        return None
    own = parse_url(spec.target, credentials=True)
    return Pins(StreamHosts.only(own.host, own.port), credentials=True)


def _reason(err: BaseException) -> str:
    """FFmpeg's error in a few words, without the URL it repeats."""
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return " ".join(str(text).split())[:200]


class PushSource(_Closable):
    """Frames handed in by a caller (the browser's webcam callback): push() never blocks; a frame that finds
    the buffer full is dropped and counted. A frame over the per-frame limits (vad_core.io.limits.check_frame)
    is refused before it is converted or kept, and ends the source: frames() raises its one sentence after the
    frames before it. frames() ends after close()."""

    def __init__(
        self, name: str = "webcam", fps: float = DEFAULT_FPS, buffer: int = 64, limits: AnalysisLimits | None = None
    ) -> None:
        super().__init__()
        self.name, self.fps, self.limits = name, fps, limits
        self._frames: deque[LiveFrame] = deque()
        self._buffer = buffer
        self._ready = threading.Condition()
        self._index = 0
        self._refused: BadInput | None = None

    def fits(self, width: int, height: int) -> bool:
        """Whether a frame of this size may come in; the first that may not ends the source with its reason."""
        try:
            check_frame(self.name, width, height, self.limits, self._index)
        except BadInput as err:
            with self._ready:
                self._refused = self._refused or err
            self.close()
            return False
        return True

    def push(self, image: np.ndarray, time_s: float | None = None) -> bool:
        """Offer a uint8 gray (or BGR) frame; False when it was dropped (the reader is behind) or refused."""
        if not self.fits(image.shape[1], image.shape[0]):
            return False
        with self._ready:
            if self.closed.is_set():
                return False
            if len(self._frames) >= self._buffer:
                self.stats.dropped += 1
                return False
            if image.ndim == 3:
                from vad_core.io.video import to_gray

                image = to_gray(image)
            t = time_s if time_s is not None else self._index / self.fps
            self._frames.append(LiveFrame(image, self._index, t))
            self._index += 1
            self.stats.received += 1
            self._ready.notify()
            return True

    def frames(self) -> Iterator[LiveFrame]:
        while True:
            with self._ready:
                while not self._frames and not self.closed.is_set():
                    self._ready.wait(0.1)
                if not self._frames:
                    if self._refused is not None:
                        raise self._refused
                    return
                frame = self._frames.popleft()
            yield frame

    def close(self) -> None:
        with self._ready:
            super().close()
            self._ready.notify_all()


# --- the child: any source, decoded in a capped, killable process (vad_core.io.sandbox's pipe protocol) -------


class ChildSource:
    """A source decoded in a child process under vad_core.io.sandbox's limits (a SandboxLimits): an FFmpeg crash or
    hang in the stream costs one sentence (BadInput from frames()), not the server. Same API as the others.
    frame_limits: each frame's size, read from its record's header, is checked before its pixels are read."""

    def __init__(self, spec: SourceSpec, limits: SandboxLimits, frame_limits: AnalysisLimits | None = None) -> None:
        from vad_core.io.sandbox import PACKAGE_PARENT, SandboxedDecoder, _cap, _Pipe

        self.spec, self.stats, self.frame_limits = spec, SourceStats(), frame_limits
        # silence is allowed while the child reconnects: every wait and timeout of the worst case, and a margin
        quiet = spec.open_timeout + spec.read_timeout + spec.backoff * 2**spec.retries + 5
        if spec.kind == "tail":
            quiet = max(quiet, spec.idle_timeout + 5)
        self.limits = replace(limits, stall_seconds=max(limits.stall_seconds, quiet))
        self.closed = threading.Event()
        self._decoder = SandboxedDecoder(self.limits)  # its one-sentence account of a child's exit
        self._child = subprocess.Popen(
            [sys.executable, "-m", "vad_core.io.sources", spec.to_json(), str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([PACKAGE_PARENT, *sys.path])},
        )
        _cap(self._child.pid, self.limits.memory_bytes)
        label = Path(spec.target).name if spec.kind in {"file", "tail"} else redact(spec.target)
        self._pipe = _Pipe(self._child, label, self.limits)
        try:
            header = self._pipe.line()
            if not header.endswith(b"\n"):
                self._decoder._raise_for_exit(self._child, label)
                raise BadInput(f"{label}: the source ended before its first frame")
            info = json.loads(header)
        except BaseException:
            self._end()
            raise
        self.name, self.fps = info["name"], float(info["fps"])
        self.lossless = spec.kind == "file" and not spec.realtime  # the pipe makes the child wait for us

    def frames(self) -> Iterator[LiveFrame]:
        from vad_core.io.sandbox import FRAME_HEADER

        index, t = 0, 0.0
        try:
            while not self.closed.is_set():
                head = self._pipe.read(FRAME_HEADER.size)
                if len(head) < FRAME_HEADER.size:
                    break
                height, width = FRAME_HEADER.unpack(head)
                if height:
                    check_frame(self.name, width, height, self.frame_limits, index)
                data = self._pipe.read(width if height == 0 else height * width)
                if len(data) < (width if height == 0 else height * width):
                    break
                if height == 0:  # a control record: the next frame's time and the child's counts
                    message = json.loads(data)
                    t = message.pop("t", t)
                    self.stats = replace(self.stats, **message)
                    continue
                yield LiveFrame(np.frombuffer(data, np.uint8).reshape(height, width), index, t)
                index += 1
            if not self.closed.is_set():
                self._decoder._raise_for_exit(self._child, self.name)
        except BadInput:
            if not self.closed.is_set():
                raise
        finally:
            self._end()

    def close(self) -> None:
        self.closed.set()
        if self._child.poll() is None:
            self._child.kill()  # the reader's next read sees the end of the pipe

    def _end(self) -> None:
        if self._child.poll() is None:
            self._child.kill()
        self._child.wait()
        self._child.stdout.close()
        self._child.stderr.close()
        self._pipe.selector.close()


def _serve(spec: SourceSpec) -> None:
    """The child: the source's name and rate as a JSON line, then its frames, each after a control record."""
    from vad_core.io.sandbox import FRAME_HEADER

    out = sys.stdout.buffer
    source = open_source(spec)
    out.write(json.dumps({"name": source.name, "fps": source.fps}).encode() + b"\n")
    out.flush()
    sent = SourceStats()
    for frame in source.frames():
        message = {"t": frame.time_s} | {k: v for k, v in asdict(source.stats).items() if getattr(sent, k) != v}
        sent = replace(source.stats)
        record = json.dumps(message).encode()
        image = np.ascontiguousarray(frame.image)
        out.write(FRAME_HEADER.pack(0, len(record)) + record + FRAME_HEADER.pack(*image.shape))
        out.write(image.data)
        out.flush()  # live: each frame goes out as it arrives


def main(argv: list[str]) -> int:
    from vad_core.io.sandbox import child_main

    return child_main(int(argv[1]), lambda: _serve(SourceSpec.from_json(argv[0])))


__all__ = ["ChildSource", "FileSource", "PushSource", "Source", "SourceSpec", "SourceStats", "StreamSource"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
