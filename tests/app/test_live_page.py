"""The live page without a browser (AppTest): a recorded clip played in real time is scored as it plays (throughput,
the rolling plot, an alert), and once it ends it opens in the analysis view with the run's own scores, equal to
analyze's; the run held a heavy slot only while it ran. Hostile live frames (2x16382, from a real stream on
127.0.0.1 and from the camera callback) are refused in one sentence with the server's peak RSS under 2 GB."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app.work_queue import work_queue
from tests.helpers.apptest import TIMEOUT, metric, open_page, player_args
from tests.helpers.live import http_folder, tall_frames, write_tall_stream
from tests.helpers.paths import APP
from vad_core import BadInput, analyze
from vad_core.pipeline.live import LiveRun

pytestmark = pytest.mark.slow


def button(app: AppTest, label: str):
    return next(b for b in app.button if b.label == label)


def test_a_clip_played_live_alerts_then_opens_in_the_analysis_view(analysis_stem, analysis_model, samples, monkeypatch):
    app = live_page(
        analysis_stem, monkeypatch, "clip"
    )  # the camera (streamlit-webrtc) needs a browser: see tests/browser
    assert not app.exception, app.exception
    assert app.title[0].value == "Watch a live source"
    assert not app.error, [e.value for e in app.error]
    app.selectbox(key="live_sample").set_value("Test004.mp4").run()
    button(app, "Start").click().run()
    assert not app.exception, app.exception
    assert button(app, "Start").disabled and not button(app, "Stop").disabled
    assert len(work_queue().running()) == 1  # the run holds a heavy slot

    scored, alerts, deadline = [], False, time.monotonic() + 120
    while time.monotonic() < deadline and not any(s.value.startswith("Recorded") for s in app.subheader):
        time.sleep(1.0)
        app.run()
        assert not app.exception, app.exception
        if any(m.label == "Scored" for m in app.metric):
            scored.append(int(metric(app, "Scored")))
            alerts = alerts or any("Anomaly" in m.value for m in app.markdown)
    assert len(set(scored)) >= 3 and scored == sorted(scored), scored  # it grew while the clip played
    assert alerts, "no alert while the clip played"
    assert not work_queue().running()  # the slot is back once the run is over

    recorded = np.asarray(player_args(app)["score"], dtype=float)  # the analysis view, on the run's own scores
    assert len(recorded) >= 60 and (180 - len(recorded)) % 10 == 0  # a busy machine skips whole windows, counted
    if len(recorded) == 180:  # nothing skipped: the live c(t) is analyze's
        offline = analyze(samples / "test" / "Test004.mp4", analysis_model)
        assert np.abs(recorded - offline.score).max() < 1e-3
    assert int(metric(app, "Anomalous segments")) >= 1


@pytest.fixture
def http_samples(samples):
    with http_folder(samples / "test") as url:
        yield url


def peak_rss_mb() -> int:
    """This process's peak resident memory (the AppTest server runs in it)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) >> 10


def live_page(stem, monkeypatch, source: str, stream_hosts: str = "127.0.0.1") -> AppTest:
    monkeypatch.setenv("VAD_CHECKPOINT", str(stem))
    monkeypatch.setenv("VAD_STREAM_HOSTS", stream_hosts)
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    app.session_state["live_source"] = source
    return open_page(app.run(), "live")


def test_a_stream_url_is_scored_in_the_sandboxed_child_and_opens_when_it_ends(analysis_stem, http_samples, monkeypatch):
    app = live_page(analysis_stem, monkeypatch, "stream")
    app.text_input(key="live_url").input(f"{http_samples}/Test004.mp4").run()
    button(app, "Start").click().run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(s.value.startswith("Recorded") for s in app.subheader):
        time.sleep(1.0)
        app.run()
    assert not app.exception, app.exception
    assert any(s.value.startswith("Recorded") for s in app.subheader), [s.value for s in app.subheader]
    scored = len(player_args(app)["score"])  # read as fast as it arrives: whole windows may have been skipped
    assert scored >= 10 and (180 - scored) % 10 == 0, scored
    assert not work_queue().running()


@pytest.mark.parametrize("text", ["/etc/passwd", "file:///etc/passwd", "assets/samples/test/Test004.mp4"])
def test_a_stream_url_that_is_not_a_network_url_is_refused(analysis_stem, monkeypatch, text):
    app = live_page(analysis_stem, monkeypatch, "stream")
    app.text_input(key="live_url").input(text).run()
    button(app, "Start").click().run()
    assert not app.exception, app.exception
    assert any("cannot be watched" in e.value for e in app.error), [e.value for e in app.error]
    assert not button(app, "Start").disabled and not work_queue().running()


def test_stream_urls_are_off_unless_the_operator_lists_their_hosts(analysis_stem, http_samples, monkeypatch):
    app = live_page(analysis_stem, monkeypatch, "stream", stream_hosts="")
    assert "live_url" not in [field.key for field in app.text_input]  # no URL field at all
    assert any("VAD_STREAM_HOSTS" in info.value for info in app.info), [i.value for i in app.info]
    app = live_page(analysis_stem, monkeypatch, "stream", stream_hosts="cam1.site")
    app.text_input(key="live_url").input(f"{http_samples}/Test004.mp4").run()
    button(app, "Start").click().run()
    assert any("streams from 127.0.0.1 are not allowed" in e.value for e in app.error), [e.value for e in app.error]
    assert not work_queue().running()


def test_a_run_whose_browser_session_is_gone_stops_and_gives_its_slot_back(analysis_model, monkeypatch):
    from app.views import live as page
    from vad_core.io.sources import PushSource

    source = PushSource("camera", fps=10.0)
    for _ in range(25):
        source.push(np.zeros((24, 32), np.uint8))
    queue = work_queue()
    ticket = queue.join("live run test")
    queue.acquire(ticket)
    tap = page.Tapped(source, keep=100)
    run = LiveRun(tap, analysis_model).start()
    session = page.LiveSession(run, tap, "camera", ticket, "stem")
    monkeypatch.setattr(page, "session_alive", lambda _session: False)
    watcher = threading.Thread(target=page._watch, args=(session,))
    watcher.start()
    watcher.join(timeout=60)
    assert not watcher.is_alive()
    assert not run.running, run.status()
    assert ticket not in queue.running()
    assert run.status().state in {"stopped", "failed"}


def test_the_page_opens_on_the_camera_and_says_so_where_the_camera_cannot_work(analysis_stem, monkeypatch):
    app = live_page(analysis_stem, monkeypatch, "camera")  # AppTest's runtime has no WebRTC signalling
    assert not app.exception, app.exception
    assert not app.warning, "the camera component is drawn (and would answer an offer) before a run holds a slot"
    button(app, "Start").click().run()
    assert any("camera is not available" in w.value for w in app.warning), [w.value for w in app.warning]
    button(app, "Stop").click().run()
    assert not button(app, "Start").disabled and button(app, "Stop").disabled
    assert not work_queue().running()


def test_a_stream_of_2x16382_frames_is_refused_in_one_sentence(analysis_stem, monkeypatch, tmp_path):
    write_tall_stream(tmp_path / "tall.ts")
    with http_folder(tmp_path) as url:
        app = live_page(analysis_stem, monkeypatch, "stream")
        app.text_input(key="live_url").input(f"{url}/tall.ts").run()
        button(app, "Start").click().run()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not app.error:
            time.sleep(0.5)
            app.run()
    assert not app.exception, app.exception
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "2x16382, more than 64 times as long as it is wide" in errors[0], errors
    assert not work_queue().running()
    assert peak_rss_mb() < 2048, peak_rss_mb()


def test_camera_frames_of_2x16382_are_refused_before_they_are_converted(analysis_model):
    from app.state import app_limits
    from app.views import live as page
    from vad_core.io.sources import PushSource

    camera = page.CameraCallback(PushSource("camera", 10.0, page.CAMERA_BUFFER, app_limits()))
    tap = page.Tapped(camera.source, keep=100)
    run = LiveRun(tap, analysis_model, limits=app_limits()).start()
    for frame in tall_frames(20):  # what aiortc hands the sink's callback, on the WebRTC event loop
        camera(frame)
    with pytest.raises(BadInput, match=r"^camera: frame 0 is 2x16382, more than 64 times as long as it is wide$"):
        run.wait(timeout=30)
    assert run.status().state == "failed" and camera.source.stats.received == 0
    assert peak_rss_mb() < 2048, peak_rss_mb()


def test_the_camera_callback_takes_at_most_its_cap_of_frames_a_second():
    from app.views import live as page
    from vad_core.io.sources import PushSource

    camera = page.CameraCallback(PushSource("camera", 10.0, buffer=1000))
    frame = av.VideoFrame.from_ndarray(np.zeros((24, 32, 3), np.uint8), format="rgb24")
    for _ in range(200):  # a browser sending as fast as it can
        camera(frame)
    assert camera.source.stats.received == page.CAMERA_MAX_FPS
    assert camera.source.stats.dropped == 200 - page.CAMERA_MAX_FPS
