"""The latent view in real Chromium at 1280x800: beside the score plot, its ring follows the player, a click seeks.

Hooks: #player[data-latent|data-latent-available], #latent[data-current-frame|data-current-x|data-current-y|
data-point-count], and window.latentPixel(f), the pixel (from #latent's top left) of frame f's point.
"""

from __future__ import annotations

import time

import pytest

from tests.helpers.browser import ANALYSIS_S, PLAYER, until

pytestmark = pytest.mark.browser

FRAMES = 180  # Test004, the default sample


def test_latent_view_follows_the_player_and_seeks(dashboard):
    page = dashboard.page
    page.goto(dashboard.url)
    frame = page.frame_locator(PLAYER)
    root, plot, latent = frame.locator("#player"), frame.locator("#plot"), frame.locator("#latent")
    frame.locator("#player[data-ready='1'][data-latent='1']").wait_for(timeout=ANALYSIS_S * 1000)
    latent.locator(".main-svg").first.wait_for()
    until(lambda: latent.get_attribute("data-point-count") == str(FRAMES), 30, "the latent plot has no points")
    assert "normal frames" in frame.locator("#latent-caption").inner_text()  # the bundled card's projection
    wrap = frame.locator("#latent-wrap").bounding_box()
    assert wrap["width"] > 200 and wrap["y"] + wrap["height"] <= 800  # on the first screen, beside the score plot

    def shown() -> int:
        return int(root.get_attribute("data-frame"))

    def marker() -> tuple[int, float, float]:
        return (
            int(latent.get_attribute("data-current-frame")),
            float(latent.get_attribute("data-current-x")),
            float(latent.get_attribute("data-current-y")),
        )

    # Seeking on the score plot moves the ring to that frame's point.
    x = float(plot.get_attribute("data-frame-zero-x")) + 30 * float(plot.get_attribute("data-frame-step-x"))
    plot.click(position={"x": x, "y": float(plot.get_attribute("data-plot-top")) + 20})
    until(lambda: shown() == 30, 5, "clicking the score plot did not seek to frame 30")
    at_30 = marker()
    expected = latent.evaluate("() => window.latentPixel(30)")
    assert at_30[0] == 30 and abs(at_30[1] - expected[0]) < 1 and abs(at_30[2] - expected[1]) < 1
    ring = frame.locator("#latent-marker")
    assert ring.is_visible()
    dashboard.screenshot("latent-01-frame30")

    # Clicking a point seeks the player there: the most isolated point, so no neighbour is nearer.
    target = latent.evaluate(
        """() => {
            const n = Number(document.getElementById('latent').dataset.pointCount);
            const px = Array.from({length: n}, (_, f) => window.latentPixel(f));
            let best = 0, bestGap = -1;
            px.forEach(([x, y], f) => {
                let gap = Infinity;
                px.forEach(([u, v], g) => { if (g !== f) gap = Math.min(gap, Math.hypot(u - x, v - y)); });
                if (gap > bestGap) { best = f; bestGap = gap; }
            });
            return best;
        }"""
    )
    assert target != 30
    point = latent.evaluate(f"() => window.latentPixel({target})")
    latent.click(position={"x": point[0], "y": point[1]})
    until(lambda: shown() == target, 5, f"clicking frame {target}'s point did not seek there")
    moved = marker()
    assert moved[0] == target and (moved[1], moved[2]) != at_30[1:]
    assert int(plot.get_attribute("data-cursor-frame")) == target  # the score plot's cursor went along
    dashboard.screenshot("latent-02-clicked")

    # Playing moves the ring with the frame.
    frame.locator("#play").click()
    time.sleep(0.6)
    frame.locator("#play").click()
    assert marker()[0] == shown() != target

    # The toggle hides the view and gives its width back to the score plot; a second click restores it.
    step = float(plot.get_attribute("data-frame-step-x"))
    frame.locator("#latent-toggle").click()
    frame.locator("#player[data-latent='0']").wait_for(timeout=5000)
    assert not frame.locator("#latent-wrap").is_visible()
    until(lambda: float(plot.get_attribute("data-frame-step-x")) > step, 5, "the score plot did not widen")
    frame.locator("#latent-toggle").click()
    frame.locator("#player[data-latent='1']").wait_for(timeout=5000)
    until(lambda: float(plot.get_attribute("data-frame-step-x")) == pytest.approx(step), 5, "did not narrow again")
    assert marker()[0] == shown()
