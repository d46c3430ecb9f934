"""The batch results page and report.html in real Chromium, on the shared Ped2 batch run (tests/helpers/batch.py):
the page lists the 12 clips by peak score and opens Test004 in the player with its stored scores; the report
opens from the file with no request off it.

The server here is the app as users start it, with VAD_DATA_ROOT set to the batch's folder (the allowed root).
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlparse

import numpy as np
import pytest

from tests.helpers.batch import ped2_batch
from tests.helpers.browser import LOCAL_HOSTS, score_as_a_batch, serve
from tests.helpers.paths import ARTIFACTS, REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.dataset]

PLAYER = "iframe[title$='player']"
WAIT_S = 240


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory, ped2):
    return ped2_batch(tmp_path_factory.getbasetemp(), ped2)


@pytest.fixture(scope="module")
def batch_app(batch_run, bundled, chromium):
    """`streamlit run app/main.py` with the batch's folder as the allowed data root."""
    env = {"VAD_CHECKPOINT": str(bundled), "VAD_DATA_ROOT": str(batch_run.out.parent)}
    with serve(env, "streamlit-batch.log", args=("--server.address", "localhost")) as server:
        yield server.url


def test_batch_page_ranks_the_clips_and_opens_test004_with_stored_scores(browser, batch_app, batch_run):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def guard(route) -> None:
        host = urlparse(route.request.url)
        if host.scheme in {"data", "blob", "about"} or host.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    try:
        page.goto(f"{batch_app}/batch")
        page.get_by_role("textbox", name="Batch output folder on this server").fill("out")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Open folder").click()
        opens = page.get_by_role("button", name=re.compile(r"^Open Test\d+\.mp4$"))
        opens.nth(11).wait_for(timeout=WAIT_S * 1000)
        shown = [text.removeprefix("Open ").strip() for text in opens.all_inner_texts()]
        records = batch_run.second["done"] + batch_run.second["skipped"]
        by_peak = sorted(records, key=lambda r: (-r["peak"], -r["anomalous_seconds"], r["video"]))
        assert shown == [r["video"] for r in by_peak]
        assert len(shown) == 12
        page.screenshot(path=str(ARTIFACTS / "batch-page.png"), full_page=True)

        page.get_by_role("button", name="Open Test004.mp4").click()
        player = page.frame_locator(PLAYER)
        player.locator("#player[data-ready='1']").wait_for(timeout=WAIT_S * 1000)
        record = next(r for r in records if r["video"] == "Test004.mp4")
        stored = batch_run.out / record["folder"]
        doc = json.loads((stored / "segments.json").read_text())
        expected = ",".join(f"{s['start']}-{s['end']}" for s in doc["segments"])
        plot = player.locator("#plot")
        deadline = time.monotonic() + 60
        while plot.get_attribute("data-segment-frames") != expected and time.monotonic() < deadline:
            time.sleep(0.2)
        assert plot.get_attribute("data-segment-frames") == expected
        assert page.get_by_text("stored scores, not rerun").is_visible()
        metric = page.locator("[data-testid='stMetric']").filter(has_text="Peak c(t)")
        assert f"{record['peak']:.2f}" in metric.inner_text()
        with np.load(stored / "analysis.npz") as state:  # the batch's own timing: nothing was analyzed again
            seconds = json.loads(str(state["meta"]))["seconds"]
        assert page.get_by_text(re.compile(rf"analyzed {record['frames']} frames in {seconds:.1f} s")).count() >= 1
        page.screenshot(path=str(ARTIFACTS / "batch-open-test004.png"))
    finally:
        context.close()
    assert not outside, f"requests left localhost: {outside}"


def test_report_opens_from_the_file_with_no_request_off_it(browser, batch_run):
    report = batch_run.out / "report.html"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requests: list[str] = []

    def guard(route) -> None:
        url = route.request.url
        requests.append(url)
        if url.startswith(("file://", "data:")):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    try:
        page.goto(report.as_uri())
        assert page.title().startswith("Batch report")
        rows = page.locator("table tbody tr")
        assert rows.count() == 12
        first = rows.first.locator("td").nth(1).inner_text()
        records = batch_run.second["done"] + batch_run.second["skipped"]
        assert first == max(records, key=lambda r: (r["peak"], r["anomalous_seconds"]))["video"]
        images = page.locator("figure img")
        assert images.count() >= 1
        assert page.evaluate("() => [...document.images].every((img) => img.complete && img.naturalWidth > 0)")
        page.screenshot(path=str(ARTIFACTS / "batch-report.png"), full_page=True)
    finally:
        context.close()
    off_file = [u for u in requests if not u.startswith(("file://", "data:"))]
    assert not off_file, f"the report asked for {off_file}"


def test_uploads_scored_as_a_batch(browser, batch_app):
    clips = sorted((REPO / "assets" / "samples" / "test").glob("*.mp4"))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        opens = score_as_a_batch(page, batch_app, clips, WAIT_S)
        assert sorted(t.removeprefix("Open ").strip() for t in opens.all_inner_texts()) == [c.name for c in clips]
        assert page.get_by_text("Batch scored").count() >= 1
    finally:
        context.close()
