"""The player obeys only its own parent page: a render message from any other window is ignored."""

from __future__ import annotations

import pytest

from tests.helpers.browser import ANALYSIS_S, PLAYER, Player

pytestmark = pytest.mark.browser


def test_a_render_message_from_another_window_is_ignored(dashboard):
    page = dashboard.page
    page.goto(dashboard.url)
    player = Player(page)
    player.ready(ANALYSIS_S)
    media = player.attr("data-media")
    iframe = page.locator(PLAYER).first.element_handle().content_frame()
    # The iframe posting to itself stands for any window other than its parent (a page framing the app, say).
    iframe.evaluate(
        """() => window.postMessage({type: 'streamlit:render', args: {mode: 'hostile', media: 'media/0000.json',
               figure: {data: [], layout: {}}, score: [], regularity: [], flags: []}}, '*')"""
    )
    page.wait_for_timeout(1000)  # a render sets data-mode at once, before anything else it does
    assert player.attr("data-mode") != "hostile"
    assert player.attr("data-media") == media and player.attr("data-ready") == "1"
