"""How FFmpeg is pointed at a vetted stream URL, so that it connects only where the vetting allows.

    args = ffmpeg_args(pins, url, read_timeout=10)        # BadInput (one sentence) if the URL may not be opened
    container = av.open(args.target, options=args.options, io_open=args.opener)
    args.refused()                                        # why the vetting cut it, if it did; args.close() after

HTTP(S), HLS included: FFmpeg opens the stream and every URL it leads to (playlists, segments) through PyAV's
io_open hook, and the hook does the request here: vetted by Pins, connected to the pinned address with the
host's name in the Host header (and in TLS), no redirect followed. FFmpeg's own protocols are limited to
http,https without tcp, so FFmpeg can make no connection of its own. RTSP (over TCP only; FFmpeg's RTSP client
connects by itself, with no hook) goes through vad_core.io.rtsp_guard: a relay to the pinned address that cuts
the stream at a redirect.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import unquote

from vad_core.errors import BadInput
from vad_core.io.rtsp_guard import RtspGuard
from vad_core.io.stream_urls import Pins, StreamURL

AVIO_FLAG_WRITE = 2
# FFmpeg's HLS demuxer reuses an HTTP connection (http_persistent) only on its own HTTP context: off, every
# segment comes through the hook. No tcp in the whitelist: FFmpeg's own http could not connect anywhere.
HTTP_OPTIONS = {"protocol_whitelist": "http,https", "http_persistent": "0", "http_multiple": "0", "max_redirects": "0"}


@dataclass
class PinnedOpener:
    """PyAV's io_open hook: each URL FFmpeg opens, vetted, fetched from its pinned address."""

    pins: Pins
    timeout: float
    refused: str = ""  # the first refusal: the HLS demuxer may skip a segment it could not open and carry on

    def __call__(self, url: str, flags: int, options: dict) -> HttpFile:
        try:
            if flags & AVIO_FLAG_WRITE:
                raise BadInput("a stream may not write anywhere")
            return HttpFile(self.pins.vet(url), self.timeout)
        except BadInput as err:
            self.refused = self.refused or str(err)
            raise


class HttpFile:
    """A read-only HTTP(S) body from one pinned address, seekable by Range requests where the server offers
    them; a redirect is refused, never followed."""

    def __init__(self, url: StreamURL, timeout: float) -> None:
        self.url, self.timeout = url, timeout
        self.position = 0
        self._connection, self._response = self._get(0)
        self._ranges = self._response.getheader("Accept-Ranges", "").strip().lower() == "bytes"
        length = self._response.getheader("Content-Length")
        self.size = int(length) if length and length.isdigit() else None

    def _get(self, start: int) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        sock = socket.create_connection((self.url.address, self.url.port), timeout=self.timeout)
        if self.url.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.url.host)
        connection = http.client.HTTPConnection(self.url.host, self.url.port, timeout=self.timeout)
        connection.sock = sock  # connected to the pinned address; the Host header names the host
        headers = {"Range": f"bytes={start}-"} if start else {}
        if self.url.userinfo:
            headers["Authorization"] = "Basic " + base64.b64encode(unquote(self.url.userinfo).encode()).decode()
        connection.request("GET", self.url.target, headers=headers)
        response = connection.getresponse()
        if response.status in (200, 206) and (response.status == 206) == bool(start):
            return connection, response
        connection.close()
        if 300 <= response.status < 400:
            raise BadInput(f"{self.url.shown} redirects elsewhere (HTTP {response.status}); redirects are not followed")
        raise BadInput(f"{self.url.shown}: the server answered HTTP {response.status} {response.reason}")

    def read(self, size: int = -1) -> bytes:
        data = self._response.read1(size if size > 0 else 1 << 16)
        self.position += len(data)
        return data

    def seekable(self) -> bool:
        return self._ranges

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.position, 2: self.size}[whence]
        if base is None:
            raise OSError("the stream's size is unknown")
        if base + offset != self.position:
            self.close()
            self._connection, self._response = self._get(base + offset)
            self.position = base + offset
        return self.position

    def close(self) -> None:
        self._connection.close()


@dataclass(frozen=True)
class FFmpegArgs:
    """What av.open gets for a vetted stream: where, with which options, through which io_open hook."""

    target: str
    options: dict[str, str]
    opener: PinnedOpener | None = None  # HTTP(S): the io_open hook
    guard: RtspGuard | None = None  # RTSP: the relay FFmpeg connects to

    def refused(self) -> str:
        """Why the vetting cut this stream ("" if it did not): FFmpeg may have reported something else."""
        return (self.opener.refused if self.opener else "") or (self.guard.refused if self.guard else "")

    def close(self) -> None:
        if self.guard is not None:
            self.guard.close()


def ffmpeg_args(pins: Pins, url: str, read_timeout: float) -> FFmpegArgs:
    """The vetted stream's av.open arguments; BadInput (one sentence) if the URL may not be opened."""
    target = pins.vet(url)
    if target.scheme == "rtsp":
        micros = str(int(read_timeout * 1e6))
        options = {"protocol_whitelist": "rtsp,tcp", "rtsp_transport": "tcp", "timeout": micros, "rw_timeout": micros}
        guard = RtspGuard(target, read_timeout)
        return FFmpegArgs(guard.url, options, guard=guard)
    return FFmpegArgs(target.url, dict(HTTP_OPTIONS), PinnedOpener(pins, read_timeout))
