"""Zones in real Chromium: a lasso drawn on the frame of the Zones panel becomes an ignore zone, saved as the
model's zones file in the app's models folder, and the clip is analyzed again with it."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.helpers.browser import ANALYSIS_S, open_dashboard, serve
from vad_core.scoring.zones import read_zones

pytestmark = pytest.mark.browser

CART_PATH = [(0.25, 0.98), (0.58, 0.5), (0.99, 0.47), (0.99, 0.8), (0.5, 0.99)]  # fractions of the frame


def lasso(page, area) -> None:
    """A closed lasso along CART_PATH over the plot's drag layer."""
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in CART_PATH]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:] + at[:1]:
        page.mouse.move(x, y, steps=12)
    page.mouse.up()


def test_a_lasso_on_the_frame_saves_an_ignore_zone_and_reanalyzes(browser, bundled, tmp_path):
    models = tmp_path / "models"
    with serve({"VAD_MODELS_DIR": str(models), "VAD_CHECKPOINT": str(bundled)}, "zones.log") as server:
        context, board = open_dashboard(browser, server.url)
        page = board.page
        page.goto(server.url)
        page.get_by_text("Zones (0 ignore, 0 only-count)").click(timeout=ANALYSIS_S * 1000)
        panel = page.locator("[data-testid='stExpander']").filter(has_text="Zones (0 ignore")
        area = panel.locator(".js-plotly-plot .nsewdrag").first  # the panel's frame, not the score plot
        area.wait_for(timeout=60_000)
        add = page.get_by_role("button", name="Add 1 drawn area(s) as zones")
        for _ in range(3):  # on a busy machine a drag can come before plotly listens: draw it again
            lasso(page, area)
            try:
                add.click(timeout=20_000)
                break
            except PlaywrightTimeout:
                continue
        page.get_by_text("Zones (1 ignore, 0 only-count)").wait_for(timeout=ANALYSIS_S * 1000)
        board.screenshot("zones-01-lasso")
        context.close()
    zones = read_zones(models / "ped2.zones.json")
    assert len(zones.ignore) == 1 and not zones.only
    assert zones.zone_at(270, 150) == "ignore 1"  # on the cart's path, in the video's pixels (360 x 240)
    assert board.outside == []
