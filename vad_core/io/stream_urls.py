"""Which stream URLs may be opened, and the one address each host is reached at.

    hosts = StreamHosts.parse("cam1.site, 127.0.0.1:8554")   # VAD_STREAM_HOSTS; "*" means any public host
    url = checked_url("rtsp://cam1.site/s", hosts)              # BadInput (one sentence) unless it may be opened
    pins = Pins(hosts); target = pins.vet("rtsp://cam1.site/s") # resolved once; target.pinned names the address

FFmpeg reads a URL as a C string and follows what a server tells it, so a URL is taken only as printable ASCII
(a NUL byte would end it before the host that was checked), without user and password unless the caller allows
them, and rebuilt from its parsed parts: what was checked is what FFmpeg gets. Its host is resolved once (Pins
keeps the address for the run, so DNS rebinding cannot move it) and the connection goes to that address. A
loopback, private, link-local or reserved address is refused unless the operator lists that host or address
itself: `*` opens the internet, never the server's own network. An entry with a port (`cam:8554`) allows only
that port.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from vad_core.errors import BadInput

DEFAULT_PORTS = {"http": 80, "https": 443, "rtsp": 554}  # the schemes whose every connection is vetted
ANY = "*"


@dataclass(frozen=True)
class StreamHosts:
    """The hosts streams may come from: (host, port) entries, port None for any port; any_public for `*`."""

    entries: frozenset[tuple[str, int | None]] = frozenset()
    any_public: bool = False

    @classmethod
    def parse(cls, text: str) -> StreamHosts:
        """From VAD_STREAM_HOSTS: comma-separated `host`, `host:port`, `[v6]:port` or `*`."""
        entries, any_public = set(), False
        for item in (part.strip().lower() for part in text.split(",")):
            if item == ANY:
                any_public = True
            elif item:
                parts = urlsplit(f"//{item}")
                entries.add((parts.hostname or item, _port(parts, None)))
        return cls(frozenset(entries), any_public)

    @classmethod
    def only(cls, host: str, port: int) -> StreamHosts:
        """One host on one port, listed explicitly (the URL an operator gives `watch`)."""
        return cls(frozenset({(host, port)}))

    def __bool__(self) -> bool:
        return self.any_public or bool(self.entries)

    def listed(self, name: str, port: int) -> bool:
        """The operator named this host (or address) for this port, not just `*`."""
        return (name, None) in self.entries or (name, port) in self.entries

    def shown(self) -> str:
        names = [host if port is None else f"{host}:{port}" for host, port in sorted(self.entries, key=str)]
        return ", ".join([*names, *([ANY] if self.any_public else [])])


@dataclass(frozen=True)
class StreamURL:
    """A URL rebuilt from its checked parts; address is set once the host is resolved (Pins.vet)."""

    scheme: str
    host: str  # lower case; an IPv6 address without brackets
    port: int
    target: str  # path and query, as sent in the request line
    userinfo: str = ""  # "user:password", only where the caller allows it
    address: str = ""

    @property
    def netloc(self) -> str:
        return f"{_bracketed(self.host)}:{self.port}"

    @property
    def url(self) -> str:
        """The URL with its host name: what the page shows, and what FFmpeg resolves relative URLs against."""
        return f"{self.scheme}://{self._user()}{self.netloc}{self.target}"

    @property
    def shown(self) -> str:
        """The URL fit to print: no user or password."""
        return f"{self.scheme}://{self.netloc}{self.target}"

    @property
    def pinned(self) -> str:
        """The URL with the resolved address in place of the name: where FFmpeg connects."""
        return f"{self.scheme}://{self._user()}{_bracketed(self.address)}:{self.port}{self.target}"

    def _user(self) -> str:
        return f"{self.userinfo}@" if self.userinfo else ""


def parse_url(text: str, *, credentials: bool = False) -> StreamURL:
    """The URL's parts, checked: printable ASCII, a vetted scheme, a host, no user or password unless
    credentials. BadInput (one sentence) otherwise. The fragment is dropped (it never reaches a server)."""
    if not text.isascii() or not text.isprintable() or any(c.isspace() for c in text):
        raise BadInput("a stream URL may hold only printable ASCII characters, without spaces")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise BadInput("not a stream URL this server opens: only http://, https:// and rtsp:// are accepted")
    if "@" in parts.netloc and not credentials:
        raise BadInput("a stream URL may not carry a user name or password here")
    host = parts.hostname or ""
    if not host or not all(c.isalnum() or c in ".-:" for c in host):
        raise BadInput(f"{scheme}:// URL without a valid host")
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return StreamURL(scheme, host, _port(parts, DEFAULT_PORTS[scheme]), target, userinfo)


def checked_url(text: str, hosts: StreamHosts, *, credentials: bool = False) -> StreamURL:
    """parse_url, then BadInput unless the host (and port) is one the operator allows; no DNS yet."""
    url = parse_url(text, credentials=credentials)
    if not hosts:
        raise BadInput("stream URLs are off on this server")
    if not (hosts.any_public or hosts.listed(url.host, url.port)):
        raise BadInput(f"streams from {url.host} are not allowed here (allowed: {hosts.shown()})")
    return url


@dataclass
class Pins:
    """One run's vetting: every URL it opens (the stream's own, a redirect, an HLS segment) passes the same
    rules, and each host is resolved once for the run, so the address checked is the address connected to."""

    hosts: StreamHosts
    credentials: bool = False
    addresses: dict[tuple[str, int], str] = field(default_factory=dict)

    def vet(self, text: str) -> StreamURL:
        """The URL with its pinned address; BadInput (one sentence) if it may not be opened."""
        url = checked_url(text, self.hosts, credentials=self.credentials)
        key = (url.host, url.port)
        if key not in self.addresses:
            address = _resolve(url.host, url.port)
            listed = self.hosts.listed(url.host, url.port) or self.hosts.listed(address, url.port)
            if _internal(address) and not listed:
                raise BadInput(f"{url.host} is on the server's own network ({address}): not allowed unless listed")
            self.addresses[key] = address
        return StreamURL(url.scheme, url.host, url.port, url.target, url.userinfo, self.addresses[key])


def _port(parts: SplitResult, default: int | None) -> int | None:
    try:
        port = parts.port
    except ValueError:
        raise BadInput("a stream URL's port must be a number from 1 to 65535") from None
    if port == 0:
        raise BadInput("a stream URL's port must be a number from 1 to 65535")
    return default if port is None else port


def _resolve(host: str, port: int) -> str:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise BadInput(f"{host}: no such host") from None
    return str(found[0][4][0])


def _internal(address: str) -> bool:
    """Loopback, private, link-local, reserved, multicast or unspecified: the server's own side."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
