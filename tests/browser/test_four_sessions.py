"""Four users at once on one server that runs one heavy job at a time: two analyze uploads, one trains, one exports.

The training holds the only slot for its whole run (a minute and its calibration), so the other sessions' heavy
work (the default sample's analysis on opening, then the uploads' analyses) waits behind it, with the queue notice
on its page for tens of seconds, and then runs one job at a time, the export too. All four finish, each uploader
saw the notice for its upload and the exporter for its clip, and none sees another's clip. Then the player of a
clip whose media is gone from the server says so (instead of "Loading frames…") and recovers on a rerun. The
server is this test's own (VAD_MAX_HEAVY_JOBS=1, its own temp folder), so its queue starts empty.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from tests.helpers.browser import (
    ANALYSIS_S,
    PLAYER,
    TRAINING_S,
    Player,
    open_dashboard,
    serve,
    start_training,
    threshold_slider,
    upload,
)
from tests.helpers.paths import ARTIFACTS, PED2

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PED2_TEST = PED2 / "test"
UPLOADS = [PED2_TEST / "Test001.mp4", PED2_TEST / "Test002.mp4"]  # not the default sample (Test004): own clips
EXPORTED = "Test004.mp4"  # the exporting session's clip: the default sample
ALL_S = TRAINING_S + 120  # the training, then the three others' jobs one at a time (seconds each)
GONE = "no longer on the server"


@pytest.fixture
def capped_server(analysis_stem, chromium, tmp_path) -> Iterator[tuple[str, Path]]:
    """(url, the server's temp folder): `streamlit run` with VAD_MAX_HEAVY_JOBS=1."""
    temp = tmp_path / "server-tmp"
    temp.mkdir()
    env = {"VAD_CHECKPOINT": str(analysis_stem), "VAD_MAX_HEAVY_JOBS": "1"}
    env |= {"VAD_MODELS_DIR": str(tmp_path / "models"), "TMPDIR": str(temp)}
    with serve(env, "streamlit-four-sessions.log", args=("--server.address", "localhost")) as server:
        yield server.url, temp


def shows(page, text: str) -> bool:
    return page.get_by_text(text).count() > 0


def waits(role: str, page) -> bool:
    """The page shows the queue notice: an uploader's for the analysis of its upload, the exporter's for any job."""
    notice = page.get_by_text("ahead of you")
    return (notice if role == "exporter" else notice.filter(has_text=f"(analysis of {role})")).count() > 0


def player_ready(page) -> bool:
    return page.frame_locator(PLAYER).locator("#player[data-ready='1']").count() > 0


def captions(page) -> str:
    return " ".join(page.locator("[data-testid='stCaptionContainer']").all_inner_texts())


@dataclass
class Export:
    """The exporter's progress: it asks for the annotated video once, then downloads it."""

    asked: bool = False
    download: object = None  # Playwright's download event, once the file came


def exporter_finished(page, export: Export) -> bool:
    ready = not export.asked and player_ready(page) and f"{EXPORTED} · model" in captions(page)
    if ready and page.get_by_role("button", name="Annotated video", exact=True).count():
        page.get_by_role("button", name="Annotated video", exact=True).click()  # made in a slot
        export.asked = True
    elif export.asked and page.get_by_role("button", name="Download the annotated video").count():
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="Download the annotated video").click()
        export.download = download
    return export.download is not None


def finished(role: str, page, export: Export) -> bool:
    if role == "trainer":
        return shows(page, "Finished.")
    if role == "exporter":
        return exporter_finished(page, export)
    return player_ready(page) and f"{role} · model" in captions(page)


def test_four_sessions_train_analyze_and_export_at_once(browser, capped_server):
    url, temp = capped_server
    sessions = {role: open_dashboard(browser, url) for role in ("trainer", "exporter", *(p.name for p in UPLOADS))}
    pages = {role: board.page for role, (_, board) in sessions.items()}
    started = time.monotonic()
    try:
        start_training(pages["trainer"], url, "four-sessions")  # the run holds the only slot
        pages["trainer"].get_by_text("Training · step").first.wait_for(timeout=120_000)
        for role, page in pages.items():
            if role != "trainer":
                page.goto(url)  # each opens on the default sample, whose analysis waits for the training
        for path in UPLOADS:  # uploaded at once: the default sample's waiting analysis in these two leaves the queue
            uploader = pages[path.name].locator("[data-testid='stFileUploader']").filter(has_text="upload a video")
            uploader.locator("input[type='file']").wait_for(state="attached", timeout=60_000)
            upload(pages[path.name], path)

        done: dict[str, float] = {}
        queued: dict[str, float] = {}  # role -> when it first showed the queue notice
        export = Export()
        deadline = time.monotonic() + ALL_S
        while len(done) < len(pages):
            assert time.monotonic() < deadline, f"not finished after {ALL_S} s: {sorted(set(pages) - set(done))}"
            for role, page in pages.items():
                if role in done:
                    continue
                if role != "trainer" and role not in queued and waits(role, page):
                    queued[role] = time.monotonic() - started
                    sessions[role][1].screenshot(f"four-sessions-queued-{Path(role).stem}")
                if finished(role, page, export):
                    done[role] = time.monotonic() - started
            time.sleep(0.2)
        (ARTIFACTS / "four-sessions.txt").write_text(
            "".join(f"{role}: queue notice after {seconds:.0f} s\n" for role, seconds in queued.items())
            + "".join(f"{role}: finished after {seconds:.0f} s\n" for role, seconds in done.items())
        )

        waited = set(pages) - {"trainer"}
        assert set(queued) == waited, (
            f"{sorted(waited - set(queued))} never showed the queue notice, yet the training held the only slot "
            f"until {done['trainer']:.0f} s"
        )
        names = [EXPORTED, *(p.name for p in UPLOADS)]
        for role in ("exporter", *(p.name for p in UPLOADS)):
            page = pages[role]
            own = EXPORTED if role == "exporter" else role
            text = captions(page)
            assert f"{own} · model" in text, role
            assert not any(f"{name} · model" in text for name in names if name != own), f"{role} sees another clip"
        for role, page in pages.items():
            assert page.locator("[data-testid='stException']").count() == 0, role
            assert page.locator("[data-testid='stAlertContentError']").count() == 0, role
        with av.open(export.download.value.path()) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264" and sum(1 for _ in container.decode(stream)) == 180
        media = {Player(pages[role]).attr("data-media") for role in pages if role != "trainer"}
        assert len(media) == 3, f"sessions share player media: {media}"

        # The exporter's media vanishes (a restart, a cleanup): the player says so, then a rerun recovers it.
        page, player = pages["exporter"], Player(pages["exporter"])
        url_of_media = player.attr("data-media")
        (served,) = [p for p in temp.glob("vad-player-*") if (p / url_of_media).exists()]
        (served / url_of_media).unlink()
        page.frame_locator(PLAYER).locator("body").evaluate("() => location.reload()")  # the player loads anew
        loading = page.frame_locator(PLAYER).locator("#loading")
        loading.filter(has_text=GONE).wait_for(timeout=30_000)
        assert "open the clip again" in loading.inner_text()
        sessions["exporter"][1].screenshot("four-sessions-media-gone")
        (served / url_of_media).write_text('{"frames": ')  # a cut-off file: the same sentence
        page.frame_locator(PLAYER).locator("body").evaluate("() => location.reload()")
        loading.filter(has_text=GONE).wait_for(timeout=30_000)
        (served / url_of_media).unlink()
        threshold_slider(page).press("Home")  # a rerun: the clip is analyzed again and its media published
        player.ready(ANALYSIS_S)
        assert (served / url_of_media).exists()
    finally:
        for context, board in sessions.values():
            context.close()
            assert not board.outside, f"requests left localhost: {board.outside}"
