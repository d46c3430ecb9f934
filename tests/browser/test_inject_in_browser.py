"""Anomaly injection in real Chromium: inject into a bundled normal clip, see the ground-truth band and the AUC."""

from __future__ import annotations

import pytest

from tests.helpers.browser import ANALYSIS_S, Player, metric_value

pytestmark = pytest.mark.browser


def test_inject_an_anomaly_and_see_it_scored(dashboard):
    page = dashboard.page
    page.goto(f"{dashboard.url}/inject")
    button = page.get_by_role("button", name="Inject and analyze")
    button.wait_for(timeout=60_000)
    page.get_by_text("Choose an anomaly and its frames").wait_for()
    button.click()  # the defaults: a moving object over the middle fifth of Train001

    player = Player(page)
    page.get_by_text("Train001-moving_object-48-72-seed0.mp4 · model").wait_for(timeout=ANALYSIS_S * 1000)
    player.ready()
    truth = player.plot.evaluate(
        "(el) => el.layout.shapes.filter((s) => s.name === 'truth').map((s) => [s.x0 + 0.5, s.x1 - 0.5])"
    )
    assert truth == [[48, 71]], truth  # the injected frames, 48..71, drawn as the ground-truth band
    assert player.frame.locator("#row-truth").is_visible()
    auc = metric_value(page, "Frame AUC")
    assert float(auc) >= 0.9, f"the moving object should be found: AUC {auc}"
    dashboard.screenshot("inject-01-moving-object")
