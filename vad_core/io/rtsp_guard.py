"""A relay between FFmpeg's RTSP client and the one address a vetted RTSP URL was pinned to, that never passes
on a redirect.

    guard = RtspGuard(pins.vet(url), timeout=10)   # listens on 127.0.0.1; FFmpeg opens guard.url
    ... guard.refused                              # set when the camera answered 3xx: the stream ends there

FFmpeg's RTSP client opens its own TCP connection (no io_open hook) and follows a 3xx answer to any host by
itself. So FFmpeg is given this relay's loopback address instead: the relay connects only to the pinned address
and reads the server's side message by message (RTSP answers, `$`-framed interleaved data); an answer with a
3xx status closes both sides instead of reaching FFmpeg. Requests pass unchanged (their URL names the relay).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading

from vad_core.io.stream_urls import StreamURL

MAX_HEADER = 1 << 16  # an RTSP answer's header longer than this is not an RTSP server's


class RtspGuard:
    """Relays each connection FFmpeg makes to the pinned address; refused says why it cut one."""

    def __init__(self, target: StreamURL, timeout: float) -> None:
        self.target, self.timeout = target, timeout
        self.refused = ""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        """What FFmpeg opens: the vetted URL's path on the relay."""
        user = f"{self.target.userinfo}@" if self.target.userinfo else ""
        return f"rtsp://{user}127.0.0.1:{self.port}{self.target.target}"

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            try:
                server = socket.create_connection((self.target.address, self.target.port), timeout=self.timeout)
            except OSError:
                client.close()  # FFmpeg sees the connection fail, as it would have
                continue
            server.settimeout(None)
            threading.Thread(target=_copy, args=(client, server), daemon=True).start()
            threading.Thread(target=self._answers, args=(server, client), daemon=True).start()

    def _answers(self, server: socket.socket, client: socket.socket) -> None:
        """The server's side, passed on whole message by message until a redirect or the end."""
        buffer = b""
        try:
            while data := server.recv(1 << 16):
                buffer += data
                while (size := _message_size(buffer)) is not None:
                    status = re.match(rb"RTSP/\d\.\d (\d{3})", buffer[:size])
                    if status and 300 <= int(status[1]) < 400:
                        self.refused = f"{self.target.shown} redirects elsewhere (RTSP {int(status[1])}); redirects "
                        self.refused += "are not followed"
                        return
                    client.sendall(buffer[:size])
                    buffer = buffer[size:]
        except (OSError, ValueError):
            pass
        finally:
            _close(server, client)


def _message_size(buffer: bytes) -> int | None:
    """Bytes of the first whole message in buffer (None: not all here yet); ValueError if it is not RTSP."""
    if buffer[:1] == b"$":  # interleaved data: $, channel, 2-byte length
        return 4 + int.from_bytes(buffer[2:4], "big") if len(buffer) >= 4 else None
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEADER:
            raise ValueError("not an RTSP answer")
        return None
    length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", buffer[:end])
    size = end + 4 + (int(length[1]) if length else 0)
    return size if len(buffer) >= size else None


def _copy(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(1 << 16):
            sink.sendall(data)
    _close(source, sink)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
