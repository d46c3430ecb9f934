"""Stream URLs: taken only as printable ASCII without credentials, rebuilt from their parts, resolved once and
vetted against the operator's list (private addresses only when listed); in the decoder child, a hostile URL
(a NUL byte before an allowed host, a redirect, an HLS segment elsewhere) reaches nothing and costs one sentence.
Every "other" listener below counts the connections it accepted: the tests want 0."""

from __future__ import annotations

import pytest

from tests.helpers.stream_servers import Answer, CountingListener, fixed_http, hls_playlist, rtsp_redirect
from vad_core import BadInput
from vad_core.io.sandbox import SandboxLimits
from vad_core.io.sources import SourceSpec, open_source
from vad_core.io.stream_urls import Pins, StreamHosts, checked_url, parse_url

PLAYLIST = {"Content-Type": "application/vnd.apple.mpegurl"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://127.0.0.1:9\x00@cam.example/x", "printable ASCII"),
        ("http://cam.example/a b", "printable ASCII"),
        ("http://cam.exämple/x", "printable ASCII"),
        ("rtsp://admin:pw@cam.example/s", "user name or password"),
        ("file:///etc/passwd", "only http://, https:// and rtsp://"),
        ("/etc/passwd", "only http://, https:// and rtsp://"),
        ("rtmp://cam.example/live", "only http://, https:// and rtsp://"),
        ("http://cam.example:99999/x", "port"),
        ("http:///x", "without a valid host"),
    ],
)
def test_a_url_that_is_not_plainly_one_host_is_refused_in_one_sentence(text, message):
    with pytest.raises(BadInput, match=message) as raised:
        parse_url(text)
    assert "\n" not in str(raised.value) and "\x00" not in str(raised.value)


def test_a_url_is_rebuilt_from_its_checked_parts():
    url = parse_url("HTTP://Cam.Example/live/a.m3u8?t=1#frag")
    assert (url.url, url.host, url.port) == ("http://cam.example:80/live/a.m3u8?t=1", "cam.example", 80)
    assert parse_url("rtsp://u:p@[::1]:8554/s", credentials=True).shown == "rtsp://[::1]:8554/s"


def test_a_host_port_entry_allows_that_port_only_and_star_never_opens_the_servers_own_network():
    hosts = StreamHosts.parse(" cam1.site, 127.0.0.1:8554 ")
    assert checked_url("rtsp://cam1.site:1/s", hosts).port == 1
    assert Pins(hosts).vet("rtsp://127.0.0.1:8554/s").pinned == "rtsp://127.0.0.1:8554/s"
    with pytest.raises(BadInput, match=r"streams from 127\.0\.0\.1 are not allowed here"):
        checked_url("rtsp://127.0.0.1:8555/s", hosts)
    for url in ["http://localhost:8000/x", "http://127.0.0.1/x", "http://[::1]/x", "http://10.0.0.1/x"]:
        with pytest.raises(BadInput, match="on the server's own network"):
            Pins(StreamHosts.parse("*")).vet(url)
    assert Pins(StreamHosts.parse("*, localhost")).vet("http://localhost:8000/x").address in {"127.0.0.1", "::1"}


def test_a_host_is_resolved_once_a_run():
    pins = Pins(StreamHosts.parse("localhost"))
    pins.addresses[("localhost", 80)] = "127.0.0.2"  # what the first resolution gave: later URLs keep it
    assert pins.vet("http://localhost/seg2.ts").pinned == "http://127.0.0.2:80/seg2.ts"


def child(url: str, hosts: str) -> SourceSpec:
    """What the live page hands the decoder child: the URL as typed (the child must hold on its own)."""
    return SourceSpec("stream", url, open_timeout=5, read_timeout=5, retries=0, hosts=hosts)


def refused_in_child(spec: SourceSpec) -> str:
    with pytest.raises(BadInput) as raised:
        source = open_source(spec, sandbox=SandboxLimits(stall_seconds=20))
        list(source.frames())
    message = str(raised.value)
    assert "\n" not in message and "Traceback" not in message, message
    return message


def test_a_nul_byte_before_an_allowed_host_reaches_nothing():
    with CountingListener() as other:
        message = refused_in_child(child(f"http://127.0.0.1:{other.port}\x00@allowed.example/x", "allowed.example"))
        assert "printable ASCII" in message and other.accepted == 0


def test_a_redirect_from_an_allowed_host_is_not_followed():
    with CountingListener() as other, fixed_http({"/x": Answer(302, {"Location": other.url("/x")})}) as allowed:
        message = refused_in_child(child(f"{allowed}/x", hosts=allowed.removeprefix("http://")))
        assert "redirects are not followed" in message and other.accepted == 0


def test_an_hls_segment_on_another_port_is_refused():
    with CountingListener() as other:
        routes = {"/live.m3u8": Answer(200, PLAYLIST, hls_playlist(other.url("/seg.ts")))}
        with fixed_http(routes) as allowed:
            message = refused_in_child(child(f"{allowed}/live.m3u8", hosts=allowed.removeprefix("http://")))
    assert "streams from 127.0.0.1 are not allowed here" in message and other.accepted == 0


def test_watch_keeps_to_the_operators_own_host():
    """No list (the CLI): the URL's own host and port are allowed, private or not; a redirect elsewhere is not."""
    with CountingListener() as other, fixed_http({"/x": Answer(301, {"Location": other.url("/x")})}) as own:
        with pytest.raises(BadInput, match="redirects are not followed"):
            list(open_source(SourceSpec.parse(f"{own}/x", open_timeout=5, retries=0)).frames())
        assert other.accepted == 0


def test_an_rtsp_redirect_from_an_allowed_host_is_not_followed():
    with CountingListener() as other, rtsp_redirect(other.url("/x", scheme="rtsp")) as port:
        message = refused_in_child(child(f"rtsp://127.0.0.1:{port}/s", hosts=f"127.0.0.1:{port}"))
        assert "redirects are not followed" in message and other.accepted == 0
