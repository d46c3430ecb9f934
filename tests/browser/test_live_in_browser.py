"""The live page in real Chromium with a fake camera that plays a Ped2 test clip (Test004, a cart from about frame 61):
the webcam source starts through streamlit-webrtc (no STUN or TURN server), the rolling plot grows, an alert for
the anomaly appears while the camera plays, and Stop opens the recorded part in the analysis view (the player
becomes ready). Any request off localhost fails the test. A camera run whose page freezes (its JavaScript paused:
the websocket stays open, no rerun comes) is stopped by the server within app.viewers.LEAVE_S, and its heavy-work
slot goes to the next page waiting for it. Each camera start makes exactly one peer connection: two or three made at
once (streamlit-webrtc asked to play before it had mounted) cross their offers and answers, and no frame may come.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import av
import pytest

from app.viewers import LEAVE_S
from tests.helpers.browser import CHROMIUM_ARGS, open_dashboard, serve, until
from tests.helpers.paths import ARTIFACTS, SAMPLES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLIP = SAMPLES / "test" / "Test004.mp4"  # = Ped2's Test004
PLAYER = "iframe[title$='player']"
START_S = 120  # the camera's connection and the first windows, on a 2-core machine shared with others
ALERT_S = 120
READY_S = 180
PLOT_POINTS = """() => {
    const plot = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
    return plot && plot.calcdata && plot.calcdata.length ? plot.calcdata[0].length : 0;
}"""  # points plotly drew on the rolling c(t) plot


def write_y4m(video: Path, out: Path) -> Path:
    """The clip as raw yuv420p frames behind a Y4M header: what Chromium's fake camera plays (and loops)."""
    with av.open(str(video)) as container, out.open("wb") as file:
        stream = container.streams.video[0]
        rate = stream.average_rate or 10
        for index, frame in enumerate(container.decode(stream)):
            yuv = frame.reformat(format="yuv420p")
            w, h = yuv.width, yuv.height
            if index == 0:
                file.write(f"YUV4MPEG2 W{w} H{h} F{rate.numerator}:{rate.denominator} Ip A1:1 C420jpeg\n".encode())
            file.write(b"FRAME\n")
            for plane, (pw, ph) in zip(yuv.planes, [(w, h), (w // 2, h // 2), (w // 2, h // 2)], strict=True):
                data = memoryview(plane).cast("B")
                for row in range(ph):  # planes may be padded: each row's visible pixels only
                    file.write(data[row * plane.line_size : row * plane.line_size + pw])
    return out


@pytest.fixture(scope="module")
def fake_camera(tmp_path_factory) -> Path:
    if not CLIP.is_file():
        pytest.skip(f"{CLIP} is not here")
    return write_y4m(CLIP, tmp_path_factory.mktemp("camera") / "Test004.y4m")


@pytest.fixture(scope="module")
def camera_browser(playwright_driver, chromium, fake_camera):
    camera = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    args = [*CHROMIUM_ARGS, *camera, f"--use-file-for-fake-video-capture={fake_camera}"]
    browser = playwright_driver.chromium.launch(executable_path=str(chromium), args=args)
    yield browser
    browser.close()


COUNT_PEER_CONNECTIONS = """(() => {
    const Native = window.RTCPeerConnection;
    if (!Native) return;
    window.RTCPeerConnection = class extends Native {
        constructor(...args) {
            super(...args);
            window.top.peerConnections = (window.top.peerConnections || 0) + 1;
        }
    };
})()"""  # in every frame of the page (the camera component's too): the peer connections it made, on the top window


def camera_context(browser, url: str):
    """(context, Dashboard) allowed the camera, its peer connections counted (peer_connections)."""
    context, board = open_dashboard(browser, url)
    context.grant_permissions(["camera"], origin=url)
    context.add_init_script(COUNT_PEER_CONNECTIONS)
    return context, board


def peer_connections(page) -> int:
    return page.evaluate("() => window.peerConnections || 0")


def camera_started(page, name: str, started: float) -> None:
    """The first frame came from the camera (Received > 0) within START_S of started, over one peer connection; the
    time it took goes to test-artifacts/live-camera-{name}.txt."""
    left = START_S - (time.monotonic() - started)
    until(lambda: (metric_value(page, "Received") or 0) > 0, left, f"no camera frame within {START_S} s")
    made = peer_connections(page)
    (ARTIFACTS / f"live-camera-{name}.txt").write_text(
        f"first frame after {time.monotonic() - started:.1f} s; peer connections: {made}\n"
    )
    assert made == 1, f"{made} peer connections for one camera start"


def metric_value(page, label: str) -> int | None:
    found = page.locator("[data-testid='stMetric']").filter(has_text=re.compile(rf"^{label}"))
    if not found.count():
        return None
    text = found.first.locator("[data-testid='stMetricValue']").inner_text()
    return int(text) if text.strip().isdigit() else None


def test_the_camera_is_scored_live_and_its_recording_opens_in_the_analysis_view(camera_browser, app_url):
    context, board = camera_context(camera_browser, app_url)
    page = board.page
    try:
        page.goto(f"{app_url}/live")
        page.get_by_role("heading", name="Watch a live source").wait_for(timeout=60_000)
        page.get_by_role("button", name="Start").click()
        started = time.monotonic()
        camera_started(page, "scored", started)

        deadline, seen = started + START_S, []
        while time.monotonic() < deadline and len(set(seen)) < 3:  # the rolling plot grows
            points = page.evaluate(PLOT_POINTS)
            if points:
                seen.append(points)
            time.sleep(1.0)
        board.screenshot("live-running")
        assert len(set(seen)) >= 3 and seen == sorted(seen), f"the plot did not grow: {seen}"
        assert metric_value(page, "Scored") >= seen[-1]

        alert = page.get_by_text(re.compile(r"^Anomaly · frames")).first
        alert.wait_for(timeout=ALERT_S * 1000)
        board.screenshot("live-alert")
        assert metric_value(page, "Received") > 0

        page.get_by_role("button", name="Stop").click()
        page.get_by_role("heading", name=re.compile(r"^Recorded: live-camera")).wait_for(timeout=READY_S * 1000)
        page.frame_locator(PLAYER).locator("#player[data-ready='1']").wait_for(timeout=READY_S * 1000)
        board.screenshot("live-recorded")
        assert page.get_by_role("button", name="Start").is_enabled()
    finally:
        context.close()
    assert not board.outside, f"requests left localhost: {board.outside}"


def test_a_run_whose_page_stops_rerunning_ends_and_frees_its_slot(camera_browser, analysis_stem):
    env = {"VAD_CHECKPOINT": str(analysis_stem), "VAD_MAX_HEAVY_JOBS": "1"}
    with serve(env, "streamlit-live-frozen.log", args=("--server.address", "localhost")) as server:
        frozen_context, frozen = camera_context(camera_browser, server.url)
        other_context, other = open_dashboard(camera_browser, server.url)
        try:
            page = frozen.page
            page.goto(f"{server.url}/live")
            page.get_by_role("button", name="Start").click()
            camera_started(page, "frozen", time.monotonic())
            cdp = frozen_context.new_cdp_session(page)
            cdp.send("Debugger.enable")
            cdp.send("Debugger.pause")  # the page's scripts stop; its websocket stays open
            frozen_at = time.monotonic()

            second = other.page
            second.goto(f"{server.url}/live")
            second.get_by_text("A recorded clip, played in real time").click()
            second.get_by_role("button", name="Start").click()
            second.get_by_text("Waiting for the server").first.wait_for(timeout=60_000)  # the frozen run holds it
            started = second.locator("[data-testid='stMetric']").filter(has_text=re.compile("^Received"))
            started.first.wait_for(timeout=(LEAVE_S + 60) * 1000)
            other.screenshot("live-after-frozen")
            assert time.monotonic() - frozen_at < LEAVE_S + 60
        finally:
            other_context.close()
            frozen_context.close()
