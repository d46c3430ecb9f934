"""Hostile stream URLs typed on the live page of a real server, in real Chromium: a NUL byte before an allowed
host, and a redirect from an allowed host (a server on 127.0.0.1 the operator lists by host:port) to a listener
on another port. Each shows one sentence, and the listener counts no connection."""

from __future__ import annotations

import pytest

from tests.helpers.browser import open_dashboard, serve, watch_url
from tests.helpers.stream_servers import Answer, CountingListener, fixed_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_hostile_stream_url_costs_one_sentence_and_reaches_nothing(browser, analysis_stem):
    with CountingListener() as other, fixed_http({"/x": Answer(302, {"Location": other.url("/x")})}) as allowed:
        hosts = f"allowed.example,{allowed.removeprefix('http://')}"
        env = {"VAD_CHECKPOINT": str(analysis_stem), "VAD_STREAM_HOSTS": hosts}
        with serve(env, "streamlit-stream-urls.log", args=("--server.address", "localhost")) as server:
            context, board = open_dashboard(browser, server.url)
            page = board.page
            try:
                page.goto(f"{server.url}/live")
                page.get_by_role("heading", name="Watch a live source").wait_for(timeout=60_000)
                nul = watch_url(page, f"http://127.0.0.1:{other.port}\x00@allowed.example/x")
                board.screenshot("stream-url-nul")
                page.reload()
                page.get_by_role("heading", name="Watch a live source").wait_for(timeout=60_000)
                redirect = watch_url(page, f"{allowed}/x")
                board.screenshot("stream-url-redirect")
            finally:
                context.close()
        assert "printable ASCII" in nul and "\n" not in nul, nul
        assert "redirects are not followed" in redirect and "\n" not in redirect, redirect
        assert other.accepted == 0 and not board.outside
