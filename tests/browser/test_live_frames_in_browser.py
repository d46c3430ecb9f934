"""A stream of 2x16382 frames (32 KB encoded; a 75 MB thumbnail and a gigabyte-class render unchecked) typed on the
live page of a real server, in real Chromium: one sentence, and the server's process tree stays under 2 GB."""

from __future__ import annotations

import json

import pytest

from tests.helpers.browser import open_dashboard, serve, watch_url
from tests.helpers.live import http_folder, write_tall_stream
from tests.helpers.memory import TreeMemory
from tests.helpers.paths import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MEMORY_LIMIT = 2 << 30


def test_a_stream_of_2x16382_frames_costs_one_sentence_and_little_memory(browser, analysis_stem, tmp_path):
    write_tall_stream(tmp_path / "tall.ts")
    with http_folder(tmp_path) as url:
        env = {"VAD_CHECKPOINT": str(analysis_stem), "VAD_STREAM_HOSTS": url.removeprefix("http://")}
        with serve(env, "streamlit-tall-stream.log") as server, TreeMemory(server.process.pid) as memory:
            context, board = open_dashboard(browser, server.url)
            page = board.page
            try:
                page.goto(f"{server.url}/live")
                page.get_by_role("heading", name="Watch a live source").wait_for(timeout=60_000)
                sentence = watch_url(page, f"{url}/tall.ts", says="2x16382")  # refused at open or by the run
                board.screenshot("live-tall-stream")
            finally:
                context.close()
    ARTIFACTS.joinpath("live-tall-stream-memory.json").write_text(json.dumps({"rss_mb": memory.peak_rss >> 20}))
    assert "2x16382, more than 64 times as long as it is wide" in sentence and "\n" not in sentence, sentence
    assert memory.peak_rss < MEMORY_LIMIT, memory.peak_rss >> 20
    assert not board.outside
