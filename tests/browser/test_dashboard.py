"""End to end in real Chromium: upload a Ped2 clip, then check the synchronized player, plot, threshold and CSV.

The player lives in an iframe; it exposes stable hooks: #player[data-frame|data-ready|data-media|
data-heat-level|data-heat-peak] and #plot[data-segment-count|data-segment-frames|data-cursor-frame|
data-frame-zero-x|data-frame-step-x|data-plot-top|data-plot-height].
"""

from __future__ import annotations

import csv
import json
import time

import av
import pytest

from tests.helpers.browser import ANALYSIS_S, Player, threshold_slider, until, upload
from tests.helpers.paths import SAMPLES

pytestmark = pytest.mark.browser

CLIP = SAMPLES / "test" / "Test004.mp4"
OTHER_SAMPLE = "Test001.mp4"
CSV_COLUMNS = ["frame", "time_s", "error", "regularity", "score", "anomalous"]


def test_upload_analyze_seek_play_and_download(dashboard):
    page = dashboard.page
    player = Player(page)
    page.goto(f"{dashboard.url}/?sample={OTHER_SAMPLE}")  # open on another clip, so the upload is analyzed afresh
    player.ready()  # the sample is analyzed on opening
    dashboard.screenshot("01-opened")

    # Upload a Ped2 test clip through the file input and time it until the analysis is fully rendered.
    before = player.attr("data-media")
    started = time.monotonic()
    upload(page, CLIP)
    page.get_by_text(f"{CLIP.name} · model").wait_for(timeout=ANALYSIS_S * 1000)
    until(lambda: player.attr("data-media") not in (None, before), ANALYSIS_S, "the player never got the upload")
    player.ready()
    player.plot.locator(".main-svg").first.wait_for()
    seconds = time.monotonic() - started
    dashboard.artifact("timings.json").write_text(json.dumps({"upload_to_rendered_s": {CLIP.name: seconds}}, indent=2))
    assert player.shown() == 0
    dashboard.screenshot("02-uploaded")

    # Clicking the plot seeks the player to the clicked frame: here, the frame with the most error.
    peak = int(player.attr("data-heat-peak"))
    player.click_plot_at(peak)
    until(lambda: player.shown() == peak, 5, f"clicking frame {peak} on the plot did not seek there")
    assert player.sync() == (peak, peak)
    assert int(player.attr("data-heat-level")) > 0
    assert player.coloured_pixels() > 20, "no heatmap on the frame with the largest error"
    cursor = player.frame.locator("#cursor")
    assert cursor.is_visible()
    expected_x = float(player.plot_attr("data-frame-zero-x")) + peak * float(player.plot_attr("data-frame-step-x"))
    cursor_x = cursor.evaluate("(el) => parseFloat(el.style.left)")
    assert abs(cursor_x - expected_x) < 1.0
    dashboard.screenshot("03-seek-heatmap")

    # Click on the plot, then play for a second: the frame advances and the cursor follows.
    player.click_plot_at(100)
    until(lambda: player.shown() == 100, 5, "clicking frame 100 on the plot did not seek there")
    player.frame.locator("#play").click()
    samples = []
    for _ in range(5):
        time.sleep(0.2)
        samples.append(player.sync())
    player.frame.locator("#play").click()
    shown, under_cursor = player.sync()
    assert all(a == b for a, b in samples), f"cursor out of sync while playing: {samples}"
    assert shown == under_cursor and 100 < shown <= 130, f"after a second of play the frame is {shown}"
    dashboard.screenshot("04-played")

    # The scores CSV: one row per frame, the contract's columns.
    with page.expect_download() as download:
        page.get_by_role("button", name="Scores (CSV)").click()
    with open(download.value.path(), newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == CSV_COLUMNS
    assert [int(r[0]) for r in rows[1:]] == list(range(180))

    # The annotated video, made on request (in one of the server's heavy slots), then offered: H.264 in MP4, one
    # frame per frame of the clip.
    page.get_by_role("button", name="Annotated video", exact=True).click()
    offered = page.get_by_role("button", name="Download the annotated video")
    offered.wait_for(timeout=ANALYSIS_S * 1000)
    with page.expect_download(timeout=60_000) as download:
        offered.click()
    with av.open(download.value.path()) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(stream)) == 180

    # The threshold shades segments: everything at 0, nothing at the slider's top. A table row seeks.
    slider = threshold_slider(page)
    slider.press("Home")  # locator.press focuses first: a rerun may move the focus away
    until(lambda: player.plot_attr("data-segment-frames") == "0-179", 60, "threshold 0 did not shade every frame")
    assert player.plot.locator(".shapelayer path").count() >= 1
    dashboard.screenshot("05-threshold-zero")
    assert player.shown() != 0
    page.locator("[data-testid='stDataFrame']").click(position={"x": 16, "y": 35 + 34})  # the first row
    until(lambda: player.shown() == 0, 60, "choosing the segment's row did not jump the player to its start")
    slider.press("End")
    until(lambda: player.plot_attr("data-segment-count") == "0", 60, "the top threshold still shades segments")
    assert player.sync() == (0, 0), "a rerun must not move the player"


def test_side_by_side_view(dashboard):
    page = dashboard.page
    player = Player(page)
    page.goto(dashboard.url)
    player.ready()
    page.get_by_text("Input | reconstruction | error").click()
    player.frame.locator("#player[data-mode='side']").wait_for(timeout=60_000)
    player.click_plot_at(int(player.attr("data-heat-peak")))
    assert player.coloured_pixels() > 20
    dashboard.screenshot("06-side-by-side")
