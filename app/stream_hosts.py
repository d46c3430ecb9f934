"""Which stream URLs a browser user may make the server open: none, unless the operator lists hosts.

    allowed_stream("rtsp://cam1.site:8554/s")     # BadInput unless VAD_STREAM_HOSTS names cam1.site (or is *)

A stream URL makes the server connect where the user says: on a site LAN, to any internal host. So the live
page's stream source is off until VAD_STREAM_HOSTS lists the hosts (comma-separated) a stream may come from,
or `*` for any.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from vad_core import BadInput

HOSTS_VARIABLE = "VAD_STREAM_HOSTS"


def stream_hosts() -> set[str]:
    """The hosts streams may come from ({"*"}: any); empty when the stream source is off."""
    return {h.strip().lower() for h in os.environ.get(HOSTS_VARIABLE, "").split(",") if h.strip()}


def allowed_stream(url: str) -> None:
    """BadInput unless the URL's host is one the operator allows."""
    hosts = stream_hosts()
    if not hosts:
        raise BadInput(f"stream URLs are off on this server; the operator enables them by setting {HOSTS_VARIABLE}")
    host = (urlsplit(url).hostname or "").lower()
    if "*" not in hosts and host not in hosts:
        raise BadInput(
            f"streams from {host or 'this address'} are not allowed here (allowed: {', '.join(sorted(hosts))})"
        )
