"""Three users at once: three browser contexts upload different clips and analyze them at the same time.

Each session must see only its own clip and results, nothing may crash, and no request may leave localhost.
The server analyzes the three uploads in three script threads that share one cached model.
"""

from __future__ import annotations

import time

import pytest

from tests.helpers.browser import ANALYSIS_S, Player, open_dashboard, upload
from tests.helpers.paths import SAMPLES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEST001 = SAMPLES / "test" / "Test001.mp4"


def frames_metric(page) -> str:
    metric = page.locator("[data-testid='stMetric']").first  # "Frames": the first metric ("Flagged frames" too has it)
    assert metric.locator("[data-testid='stMetricLabel']").inner_text().strip() == "Frames"
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_three_sessions_analyze_different_uploads_at_once(browser, app_url, corpus):
    clips = {TEST001: 180} | {corpus[name].path: corpus[name].frames for name in ("60 fps", "colour")}
    sessions = []
    try:
        for _ in clips:
            context, board = open_dashboard(browser, app_url)
            sessions.append((context, board))
            board.page.goto(board.url)
        for _, board in sessions:
            Player(board.page).ready()  # the default sample, analyzed once and cached for everyone
        started = time.monotonic()
        for (_, board), path in zip(sessions, clips, strict=True):  # three uploads in flight together
            upload(board.page, path)
        for (_, board), (path, frames) in zip(sessions, clips.items(), strict=True):
            page = board.page
            page.get_by_text(f"{path.name} · model").wait_for(timeout=ANALYSIS_S * 1000)
            Player(page).ready()
            assert frames_metric(page) == str(frames), path.name
            captions = " ".join(page.locator("[data-testid='stCaptionContainer']").all_inner_texts())
            others = [p.name for p in clips if p != path]
            assert not any(f"{name} · model" in captions for name in others), f"{path.name} sees another clip"
            assert page.locator("[data-testid='stAlertContentError']").count() == 0, f"{path.name}: an error"
            assert page.locator("[data-testid='stException']").count() == 0
            board.screenshot(f"concurrent-{path.stem}")
        seconds = time.monotonic() - started
        sessions[0][1].artifact("concurrency.txt").write_text(f"three uploads analyzed in {seconds:.1f} s\n")
        media = [Player(board.page).attr("data-media") for _, board in sessions]
        assert len(set(media)) == 3, f"sessions share player media: {media}"
    finally:
        for context, board in sessions:
            context.close()
            assert not board.outside, f"requests left localhost: {board.outside}"
