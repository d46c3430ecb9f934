"""The Reconstruction lab in real Chromium at 1280x800: formulas typeset offline, images shown, frame input works."""

from __future__ import annotations

import pytest

from tests.helpers.browser import metric_value

pytestmark = pytest.mark.browser

ANALYSIS_S = 300  # opening the lab first analyzes the default sample; the CPU may be shared


def test_the_lab_page(dashboard):
    page = dashboard.page
    page.goto(f"{dashboard.url}/lab")
    page.get_by_text("How the numbers of frame").wait_for(timeout=ANALYSIS_S * 1000)
    page.locator(".katex").first.wait_for()
    assert page.locator(".katex").count() >= 7  # KaTeX comes with Streamlit: no CDN
    images = page.locator("[data-testid='stImageContainer'] img")
    images.nth(3).wait_for()  # the page streams in: the images may arrive after the text
    assert images.count() == 4
    assert all(images.nth(i).evaluate("(img) => img.complete && img.naturalWidth > 0") for i in range(4))
    assert images.first.bounding_box()["y"] + images.first.bounding_box()["height"] < 800  # above the fold
    dashboard.screenshot("lab-01-peak")

    number = page.locator("[data-testid='stNumberInput'] input")
    number.fill("0")
    number.press("Enter")
    page.get_by_text("How the numbers of frame 0 are built").wait_for(timeout=30_000)
    assert metric_value(page, "Anomalous segment") == "none"  # Test004 is normal at its start
    page.get_by_text("How the numbers of frame 0 are built").scroll_into_view_if_needed()
    dashboard.screenshot("lab-02-frame0-steps")
    page.get_by_text("Every error kind and reduction").click()
    page.get_by_role("cell", name="appearance").wait_for()
    page.get_by_text("6 · Calibrated score").scroll_into_view_if_needed()
    dashboard.screenshot("lab-03-frame0-score")
