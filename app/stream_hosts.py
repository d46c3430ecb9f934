"""Which stream URLs a browser user may make the server open: none, unless the operator lists hosts.

    spec = stream_spec("rtsp://cam1.site:8554/s")   # BadInput unless VAD_STREAM_HOSTS allows it

A stream URL makes the server connect where the user says: on a site LAN, to any internal host. So the live
page's stream source is off until VAD_STREAM_HOSTS lists the hosts (comma-separated `host` or `host:port`) a
stream may come from, or `*` for any public host. The check here is the early sentence; the decoder child vets
the URL again, and every URL FFmpeg opens for it, against the same list (vad_core.io.stream_urls).
"""

from __future__ import annotations

import os

from vad_core import BadInput
from vad_core.io.sources import SourceSpec
from vad_core.io.stream_urls import StreamHosts, checked_url

HOSTS_VARIABLE = "VAD_STREAM_HOSTS"


def stream_hosts() -> StreamHosts:
    """The hosts streams may come from; empty (false) when the stream source is off."""
    return StreamHosts.parse(os.environ.get(HOSTS_VARIABLE, ""))


def stream_spec(url: str) -> SourceSpec:
    """The stream to open for a URL a user typed (rebuilt from its checked parts, vetted in the child by the
    operator's list); BadInput (one sentence) unless it may be opened."""
    hosts = stream_hosts()
    if not hosts:
        raise BadInput(f"stream URLs are off on this server; the operator enables them by setting {HOSTS_VARIABLE}")
    return SourceSpec("stream", checked_url(url, hosts).url, hosts=os.environ[HOSTS_VARIABLE])
