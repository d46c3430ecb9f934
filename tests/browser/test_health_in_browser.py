"""Camera health in real Chromium: an upload with a frozen stretch shows a health segment in the plot and the table."""

from __future__ import annotations

import pytest

from tests.helpers.browser import ANALYSIS_S, Player, upload
from tests.helpers.cli import run_cli

pytestmark = pytest.mark.browser


@pytest.fixture
def frozen_clip(samples, tmp_path):
    out = tmp_path / "frozen-cam.mp4"
    done = run_cli("inject", str(samples / "train" / "Train002.mp4"), "--kind", "freeze", "--start", "40",
                   "--end", "100", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def test_a_frozen_feed_is_a_health_segment_not_an_anomaly(dashboard, frozen_clip):
    page = dashboard.page
    page.goto(dashboard.url)
    Player(page).ready(ANALYSIS_S)
    upload(page, frozen_clip)
    page.get_by_text("Camera health:").wait_for(timeout=ANALYSIS_S * 1000)
    player = Player(page)
    player.ready(ANALYSIS_S)
    bands = player.plot.evaluate(
        "(el) => el.layout.shapes.filter((s) => s.name === 'frozen').map((s) => [s.x0 + 0.5, s.x1 - 0.5])"
    )
    assert bands == [[41, 99]], bands  # frame 40 is the held frame itself; it still changed from frame 39
    player.frame.get_by_text("camera frozen").first.wait_for()  # its own label in the plot's legend
    table = page.locator("[data-testid='stDataFrame']")
    table.get_by_text("camera frozen").first.wait_for(state="attached")  # its own row (the grid's a11y cells)
    notice = page.locator("[data-testid='stAlert']").filter(has_text="Camera health:")
    assert "camera frozen at frames 41-99" in notice.inner_text()
    dashboard.screenshot("health-01-frozen")
