"""Train your scene in real Chromium: a 1-minute run on the two bundled Ped2 training clips, watched live, then used.

The progress text and the loss curve must move while the run trains; the finished model must appear in the
analysis page's model picker and analyze a clip.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers.browser import ANALYSIS_S, TRAINING_S, Player, open_dashboard, start_training, until

pytestmark = pytest.mark.browser

STEP_S = 120  # generous for one step and a redraw on a shared CPU
STEP_TEXT = re.compile(r"Training · step (\d+)")


def steps_shown(page) -> int:
    text = page.locator("[data-testid='stProgress']").first.inner_text()
    match = STEP_TEXT.search(text)
    return int(match.group(1)) if match else -1  # -1 also once the run has finished


def loss_points(page) -> int:
    """Points of the loss curve: the chart whose y axis is the loss, wherever it stands on the page."""
    return page.evaluate(
        """() => { for (const el of document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")) {
             const title = el.layout && el.layout.yaxis && el.layout.yaxis.title && el.layout.yaxis.title.text;
             if (title && title.includes('loss')) return el.calcdata && el.calcdata[0] ? el.calcdata[0].length : 0; }
           return 0; }"""
    )


def test_train_a_model_in_the_app_and_analyze_with_it(dashboard, browser):
    page = dashboard.page
    start_training(page, dashboard.url, "browser-cam")

    page.get_by_text(STEP_TEXT).first.wait_for(timeout=60_000)
    # The first step waits for the clips to load; the curve appears with the first loss.
    page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot").first.wait_for(timeout=STEP_S * 1000)
    first_steps, first_points = steps_shown(page), loss_points(page)
    until(lambda: steps_shown(page) > first_steps, STEP_S, "the progress text did not move")
    until(lambda: loss_points(page) > first_points, STEP_S, "the loss curve did not grow")
    dashboard.screenshot("train-01-running")
    assert page.get_by_role("button", name="Cancel training").is_visible()
    assert page.get_by_text("Model “browser-cam” (yours)").is_visible()  # the session that started it
    # Another browser sees the run and whose it is, and has no Cancel.
    context, other = open_dashboard(browser, dashboard.url)
    try:
        other.page.goto(f"{dashboard.url}/train")
        other.page.get_by_text("Only session").wait_for(timeout=60_000)
        heading = other.page.get_by_text(re.compile(r"Model “browser-cam” · started by session [0-9a-f]{4}"))
        assert heading.is_visible() and other.page.get_by_role("button", name="Cancel training").count() == 0
        other.screenshot("train-01b-another-session")
    finally:
        context.close()

    # Leaving the page does not stop the run: another page works meanwhile, and the run has moved on on return.
    steps_before = steps_shown(page)
    page.get_by_role("link", name="Reconstruction lab").click()
    page.get_by_text("How the numbers of frame").wait_for(timeout=ANALYSIS_S * 1000)
    page.get_by_role("link", name="Train your scene").click()
    until(lambda: steps_shown(page) > steps_before or page.get_by_text("Finished.").count() > 0, STEP_S, "stopped")

    page.get_by_text("Finished.").wait_for(timeout=TRAINING_S * 1000)
    dashboard.screenshot("train-02-finished")
    page.get_by_role("button", name="Analyze with this model").click()

    Player(page).ready(ANALYSIS_S)
    page.get_by_text("model `browser-cam`").or_(page.get_by_text("model browser-cam")).first.wait_for()
    picker = page.locator("[data-testid='stSidebar']").get_by_role("combobox", name="Model", exact=True)
    assert picker.input_value() == "browser-cam (trained in this session)"  # the new model, chosen
    dashboard.screenshot("train-03-analyzed-with-it")
