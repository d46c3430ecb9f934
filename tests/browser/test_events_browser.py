"""The Events page in real Chromium: the segments of two uploads, analyzed on the analysis page and scored as a
batch, and of a live run on the live page, listed with thumbnails, still there after a server restart, reviewed
(one by its keyboard shortcut), and exported as clips that play in the browser."""

from __future__ import annotations

import base64
import re
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.helpers.browser import (
    ANALYSIS_S,
    Player,
    Server,
    open_dashboard,
    score_as_a_batch,
    serve,
    until,
    upload,
)
from tests.helpers.paths import ARTIFACTS
from vad_core import analyze
from vad_core.events import EventStore
from vad_core.events.record import analysis_events

pytestmark = pytest.mark.browser

CLIPS = ("Test004.mp4", "Test001.mp4")
LIVE_CLIP, LIVE_CAMERA, LIVE_S = "Test004.mp4", "gate-cam", 30  # the clip plays once in 18 s
BATCH_S = 300  # Ray starts, two workers score; the 2-core CPU may be shared
PLAYS = """async (data) => {
    const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
    const video = document.createElement('video');
    video.muted = true;
    video.src = URL.createObjectURL(new Blob([bytes], {type: 'video/mp4'}));
    document.body.appendChild(video);
    await new Promise((ok, fail) => { video.oncanplay = ok; video.onerror = () => fail(video.error.code); });
    await video.play();
    const start = video.currentTime;
    await new Promise(ok => setTimeout(ok, 400));
    const result = [video.readyState, video.currentTime > start];
    video.remove();
    return result;
}"""


@pytest.fixture
def environment(analysis_stem, chromium, tmp_path) -> dict[str, str]:
    return {
        "VAD_CHECKPOINT": str(analysis_stem),
        "VAD_EVENTS_URL": f"sqlite:///{tmp_path / 'events.db'}",
        "VAD_MODELS_DIR": str(tmp_path / "models"),
    }


@contextmanager
def page_on(browser, env: dict[str, str]) -> Iterator[tuple[object, Server]]:
    """A server (started fresh) and a guarded page on it."""
    with serve(env, "events-streamlit.log", args=("--server.address", "localhost")) as server:
        context, board = open_dashboard(browser, server.url)
        try:
            yield board, server
        finally:
            context.close()
        assert not board.outside, f"requests left localhost: {board.outside}"


def watch_live(page, url: str, clip: str) -> None:
    """The live page on a recorded clip played in real time, for LIVE_S (or until the clip ends), then stopped."""
    page.goto(f"{url}/live")
    page.get_by_text("A recorded clip, played in real time").click()
    page.get_by_label("Clip (UCSD Ped2), played at its own frame rate").click()
    page.get_by_role("option", name=clip).click()
    page.get_by_text("Events and alerts").click()
    name = page.get_by_role("textbox", name="Camera name")
    name.fill(LIVE_CAMERA)
    name.press("Enter")
    page.get_by_role("button", name="Start").click()
    recorded = page.get_by_role("heading", name=re.compile(r"^Recorded: "))
    deadline = time.monotonic() + LIVE_S
    while time.monotonic() < deadline and not recorded.count():
        time.sleep(0.5)
    page.screenshot(path=str(ARTIFACTS / "events-live.png"))
    if not recorded.count():
        page.get_by_role("button", name="Stop").click()
    recorded.wait_for(timeout=BATCH_S * 1000)


def stored(env: dict[str, str]) -> list:
    store = EventStore.open(env["VAD_EVENTS_URL"])
    try:
        return store.events()
    finally:
        store.close()


def listed_with_thumbnails(page, url: str, events: list) -> None:
    """Every event has its card on the Events page, and every card's thumbnail has loaded."""
    page.goto(f"{url}/events")
    for event in events:
        page.get_by_text(f"Select #{event.id}", exact=True).wait_for(timeout=60_000)
    images = page.locator("[data-testid='stMain'] [data-testid='stImage'] img")
    until(lambda: images.count() == len(events), 90, f"{images.count()} thumbnails for {len(events)} events")
    until(
        lambda: all(images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(len(events))),
        30,
        "a thumbnail did not load",
    )


def test_events_page_lists_restarts_reviews_and_exports(browser, environment, analysis_model, samples):
    expected = set()
    for name in CLIPS:
        records = analysis_events(analyze(samples / "test" / name, analysis_model), source=name, run="x",
                                  origin="app", model=analysis_model)  # fmt: skip
        expected |= {(name, r.kind, r.start, r.end) for r in records}
    assert expected

    with page_on(browser, environment) as (board, server):
        page, url = board.page, server.url
        page.goto(url)
        Player(page).ready(ANALYSIS_S)  # the default sample, Test004: its events are the upload's (same content)
        for name in CLIPS:
            upload(page, samples / "test" / name)
            page.get_by_text(f"{name} · model").wait_for(timeout=ANALYSIS_S * 1000)
        score_as_a_batch(page, url, [samples / "test" / name for name in CLIPS], BATCH_S)  # its workers store events
        watch_live(page, url, LIVE_CLIP)
        events = stored(environment)
        for origin in ("app", "batch"):  # each producer stored every segment it found, once
            found = [(e.source, e.kind, e.start, e.end) for e in events if e.origin == origin]
            assert sorted(found) == sorted(expected), origin
        live = [(e.kind, e.start, e.end) for e in events if e.origin == "live" and e.source == LIVE_CAMERA]
        assert sorted(live) == sorted((k, a, b) for name, k, a, b in expected if name == LIVE_CLIP)
        listed_with_thumbnails(page, url, events)
        board.screenshot("events-01-listed")
        server.process.kill()  # SIGKILL: no shutdown of any kind; the store must hold every committed event
        server.process.wait(timeout=30)

    with page_on(browser, environment) as (board, server):  # a restarted server: read from the store again
        page, url = board.page, server.url
        listed_with_thumbnails(page, url, stored(environment))
        first, second = stored(environment)[:2]

        page.goto(f"{url}/events?event={first.id}")
        Player(page).ready(ANALYSIS_S)  # the excerpt in the synchronized player
        board.screenshot("events-03-opened")
        page.locator(".st-key-event_false_alarm button").wait_for()
        page.locator("body").press("f")  # the keyboard shortcut
        until(lambda: stored_review(environment, first.id) == "false_alarm", 30, "f did not mark a false alarm")
        page.goto(f"{url}/events?event={second.id}")
        page.locator(".st-key-event_confirmed button").click()
        until(lambda: stored_review(environment, second.id) == "confirmed", 30, "Confirm did not confirm")

        page.goto(f"{url}/events")
        page.get_by_text(f"Select #{first.id}", exact=True).wait_for()
        page.set_viewport_size({"width": 1280, "height": 1300})  # the page scrolls inside: grow the window instead
        page.screenshot(path=str(board.artifact("events-page.png")))  # docs/images/events-page.png
        page.set_viewport_size({"width": 1280, "height": 800})
        for event in (first, second):
            page.get_by_text(f"Select #{event.id}", exact=True).click()
        page.get_by_role("button", name="Export 2 as clips + CSV").click()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download events.zip").click()
        board.screenshot("events-02-reviewed")
        with zipfile.ZipFile(download.value.path()) as archive:
            clips = {n: archive.read(n) for n in archive.namelist() if n.endswith(".mp4")}
            table = archive.read("events.csv").decode()
        assert set(clips) == {f"event-{first.id}.mp4", f"event-{second.id}.mp4"}
        assert "false_alarm" in table and "confirmed" in table
        for data in clips.values():
            ready, advanced = page.evaluate(PLAYS, base64.b64encode(data).decode())
            assert ready >= 2 and advanced


def stored_review(env: dict[str, str], event_id: int) -> str:
    return next(e.review for e in stored(env) if e.id == event_id)
