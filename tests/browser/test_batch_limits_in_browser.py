"""The batch page under the app's limits, in real Chromium on a real server (issue 30): an uploaded 50,000-frame
clip (1 MB) waits for the heavy-work slot another session's batch holds, then is refused at the frame limit in one
sentence; a stored result of 50,000 frames opens on its first VAD_MAX_FRAMES frames, read a page at a time, with
the server and its children under 2 GB (summed RSS, written to test-artifacts/batch-memory.json)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.helpers.browser import PLAYER, open_dashboard, serve
from tests.helpers.long_result import long_clip, long_result
from tests.helpers.memory import TreeMemory
from tests.helpers.paths import ARTIFACTS, SAMPLES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MEMORY_LIMIT = 2 << 30
WAIT_S = 300


@pytest.fixture(scope="module")
def root(tmp_path_factory, analysis_model):
    from vad_core import analyze

    root = tmp_path_factory.mktemp("batch-limits")
    clip = long_clip(root / "long.mp4")
    long_result(root / "out", clip, analyze(SAMPLES / "test" / "Test004.mp4", analysis_model))
    return root


@pytest.fixture(scope="module")
def server(root, analysis_stem, chromium):
    env = {"VAD_CHECKPOINT": str(analysis_stem), "VAD_DATA_ROOT": str(root), "VAD_MAX_HEAVY_JOBS": "1",
           "VAD_MAX_FRAMES": "3000"}  # fmt: skip
    with serve(env, "streamlit-batch-limits.log") as server:
        yield server


def _score(page, url: str, clip) -> None:
    page.goto(f"{url}/batch")
    uploader = page.locator("[data-testid='stFileUploader']").filter(has_text="as a batch")
    uploader.locator("input[type='file']").set_input_files(str(clip))
    page.get_by_text(clip.name).first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Score as a batch").click()


def test_a_long_upload_waits_for_a_slot_and_is_refused_at_the_limit(browser, server, root, tmp_path):
    holder_context, holder = open_dashboard(browser, server.url)
    context, board = open_dashboard(browser, server.url)
    short = tmp_path / "short.mp4"
    shutil.copy(SAMPLES / "test" / "Test004.mp4", short)
    try:
        _score(holder.page, server.url, short)  # holds the one slot while Ray starts and scores it
        holder.page.get_by_text("Scoring 1 videos as a batch").wait_for(timeout=60_000)
        _score(board.page, server.url, root / "long.mp4")
        board.page.get_by_text(re.compile(r"Waiting for the server:.*1 job ahead")).wait_for(timeout=60_000)
        board.screenshot("batch-long-waiting")
        failed = board.page.get_by_text(re.compile(r"long\.mp4: 50000 frames .* over the limit of 3000 frames"))
        failed.first.wait_for(timeout=WAIT_S * 1000)
        holder.page.get_by_text("Batch scored").first.wait_for(timeout=WAIT_S * 1000)
        board.screenshot("batch-long-refused")
        assert "Traceback" not in board.page.locator("body").inner_text()
    finally:
        holder_context.close()
        context.close()
    assert not board.outside and not holder.outside


def test_a_50000_frame_result_opens_under_2_gb(browser, server):
    context, board = open_dashboard(browser, server.url)
    page = board.page
    try:
        page.goto(f"{server.url}/batch")
        page.get_by_role("textbox", name="Batch output folder on this server").fill("out")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Open folder").click()
        with TreeMemory(server.process.pid) as memory:
            page.get_by_role("button", name="Open long.mp4").click()
            page.frame_locator(PLAYER).locator("#player[data-ready='1']").wait_for(timeout=WAIT_S * 1000)
            page.get_by_text("only its first 3000 of 50000 frames are shown").wait_for(timeout=60_000)
        peaks = {"rss_mb": memory.peak_rss >> 20, "pss_mb": memory.peak_pss >> 20}
        ARTIFACTS.joinpath("batch-memory.json").write_text(json.dumps(peaks))
        board.screenshot("batch-long-open")
        assert memory.peak_rss < MEMORY_LIMIT, f"the server's tree peaked at {peaks}"
    finally:
        context.close()
    assert not board.outside
