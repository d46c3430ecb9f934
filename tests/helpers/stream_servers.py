"""Servers on 127.0.0.1 for the stream-URL tests: a listener that only counts who connects (the place a hostile
URL tries to reach), and an HTTP server with fixed answers (an allowed host that redirects or names segments).

with CountingListener() as other, fixed_http({"/x": Answer(302, {"Location": other.url("/x")})}) as allowed:
    ...; assert other.accepted == 0
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CountingListener:
    """A TCP listener on 127.0.0.1 that accepts, counts and closes every connection."""

    def __init__(self) -> None:
        self.accepted = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._sock.accept()
            except OSError:  # closed
                return
            self.accepted += 1
            connection.close()

    def __enter__(self) -> CountingListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@contextmanager
def fixed_http(routes: dict[str, Answer]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering each path with its Answer (404 otherwise); yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = routes.get(self.path, Answer(404))
            self.send_response(answer.status)
            for name, value in (answer.headers | {"Content-Length": str(len(answer.body))}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *args: object) -> None:
            pass

    with serving_http(Handler) as url:
        yield url


@contextmanager
def serving_http(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 with this request handler, in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def hls_playlist(segment_url: str) -> bytes:
    """A finished HLS playlist of one segment at segment_url."""
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{segment_url}\n#EXT-X-ENDLIST\n".encode()


@contextmanager
def rtsp_redirect(location: str) -> Iterator[int]:
    """An RTSP server on 127.0.0.1 that answers every request "302 Moved" to location; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer(connection: socket.socket) -> None:
        with connection:
            request = b""
            while b"\r\n\r\n" not in request and (data := connection.recv(4096)):
                request += data
            cseq = next(
                (
                    line.split(b":", 1)[1].strip()
                    for line in request.split(b"\r\n")
                    if line.lower().startswith(b"cseq:")
                ),
                b"1",
            )
            connection.sendall(b"RTSP/1.0 302 Moved\r\nCSeq: " + cseq + f"\r\nLocation: {location}\r\n\r\n".encode())

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
