"""The server under attack, in real Chromium: hostile uploads cost their sender one sentence, and nobody else
anything. After each: the server answers /_stcore/health, a second session that analyzed a normal clip
meanwhile got the same scores as alone, the page shows no traceback, and the server (children included)
stays under 2 GB (summed PSS). The peaks per input go to test-artifacts/hostile-memory.json.

The server is started as a user would, from an unrelated folder and without --server.address, so the
shipped config alone must keep it on loopback.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers.browser import ANALYSIS_S, PLAYER, Player, open_dashboard, serve, upload
from tests.helpers.hostile import make_hostile
from tests.helpers.memory import TreeMemory
from tests.helpers.paths import ARTIFACTS, SAMPLES
from vad_core import analyze

pytestmark = pytest.mark.browser

NORMAL = SAMPLES / "test" / "Test001.mp4"
MAX_FRAMES = 500  # the server's frame limit here: the under-reported clip decodes 1,000
MEMORY_LIMIT = 2 << 30
ERROR_ALERT = "[data-testid='stAlert']"
CASES = {  # input -> what its sender must read (a regex on the page's alerts)
    "truncated": r"decoded \d+ of 180 frames",
    "tall": r"more than 2 gigapixels decoded",
    "under_reported": rf"more than {MAX_FRAMES} frames",
    "ffconcat": r"a text file",
    "empty": r"the file is empty",
    "nested_labels": r"Labels not used: .*nested",
}
PEAKS: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory) -> dict[str, Path]:
    return make_hostile(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def hostile_server(analysis_stem, chromium, tmp_path_factory):
    env = {
        "VAD_CHECKPOINT": str(analysis_stem),
        "VAD_MODELS_DIR": str(tmp_path_factory.mktemp("hostile-models")),
        "VAD_MAX_FRAMES": str(MAX_FRAMES),
        "VAD_DECODE_STALL_SECONDS": "5",
    }
    with serve(env, "streamlit-hostile.log", cwd=tmp_path_factory.mktemp("elsewhere")) as server:
        yield server
    ARTIFACTS.joinpath("hostile-memory.json").write_text(json.dumps(PEAKS, indent=1))


@pytest.fixture(scope="module")
def alone_scores(analysis_model) -> np.ndarray:
    return analyze(NORMAL, analysis_model).score


def _listening_addresses(port: int) -> set[str]:
    """Local addresses in LISTEN state on port, from /proc/net/tcp and tcp6 (hex, little-endian per word)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                words = [bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, len(address), 8)]
                raw = b"".join(words)
                found.add(".".join(str(b) for b in raw) if len(raw) == 4 else raw.hex())
    return found


def test_the_shipped_config_listens_on_loopback_only(hostile_server):
    assert _listening_addresses(hostile_server.port) == {"127.0.0.1"}


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as response:
        return response.status == 200


def _scores_csv(page) -> pd.DataFrame:
    with page.expect_download(timeout=ANALYSIS_S * 1000) as download:
        page.get_by_role("button", name="Scores (CSV)").click()
    return pd.read_csv(io.StringIO(Path(download.value.path()).read_text()))


def _alert_with(page, pattern: str):
    return page.locator(ERROR_ALERT).filter(has_text=re.compile(pattern)).first


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_input_costs_its_sender_one_sentence(
    name, browser, hostile_server, hostile_files, alone_scores, tmp_path
):
    url = hostile_server.url
    context_a, attacker = open_dashboard(browser, url)
    context_b, bystander = open_dashboard(browser, url)
    try:
        for board in (attacker, bystander):
            board.page.goto(url)
            Player(board.page).ready(ANALYSIS_S)
        normal = tmp_path / f"normal-{name}.mp4"  # a name of its own: analyzed afresh, not served from the cache
        shutil.copy(NORMAL, normal)
        with TreeMemory(hostile_server.process.pid) as memory:
            upload(bystander.page, normal)
            if name == "nested_labels":
                uploader = attacker.page.locator("[data-testid='stFileUploader']").filter(has_text="labels")
                uploader.locator("input[type='file']").set_input_files(str(hostile_files[name]))
            else:
                upload(attacker.page, hostile_files[name])
            _alert_with(attacker.page, CASES[name]).wait_for(timeout=ANALYSIS_S * 1000)
            bystander.page.get_by_text(f"{normal.name} · model").wait_for(timeout=ANALYSIS_S * 1000)
            Player(bystander.page).ready(ANALYSIS_S)
            scores = _scores_csv(bystander.page)
        PEAKS[name] = {"rss_mb": memory.peak_rss >> 20, "pss_mb": memory.peak_pss >> 20}
        attacker.screenshot(f"hostile-{name}")
        assert _healthy(url)
        assert np.allclose(scores["score"].to_numpy(), alone_scores, atol=1e-5), "the bystander's scores changed"
        text = attacker.page.locator("body").inner_text()
        assert "Traceback" not in text and 'File "' not in text
        assert memory.peak_pss < MEMORY_LIMIT, f"{name}: the server's tree peaked at {PEAKS[name]}"
    finally:
        context_a.close()
        context_b.close()
    assert not attacker.outside and not bystander.outside


def test_a_page_that_frames_the_app_cannot_drive_the_player(browser, hostile_server, tmp_path):
    context, board = open_dashboard(browser, hostile_server.url)
    try:
        page = board.page
        page.set_content(f'<iframe id="app" src="{hostile_server.url}" width="1200" height="800"></iframe>')
        player = page.frame_locator("#app").frame_locator(PLAYER)
        player.locator("#player[data-ready='1']").wait_for(timeout=ANALYSIS_S * 1000)
        media = player.locator("#player").get_attribute("data-media")
        page.evaluate(  # to every frame inside the app: a render with script in a field and a foreign media URL
            """() => { const app = document.getElementById('app').contentWindow;
                 const message = {type: 'streamlit:render', args: {mode: 'hostile', media: 'https://evil.example/x.json',
                   figure: {data: [], layout: {title: '<img src=x onerror="top.pwned=1">'}}, score: [],
                   regularity: [], flags: []}};
                 app.postMessage(message, '*');
                 for (let i = 0; i < app.frames.length; i++) app.frames[i].postMessage(message, '*'); }"""
        )
        page.wait_for_timeout(1500)
        root = player.locator("#player")
        assert root.get_attribute("data-mode") != "hostile" and root.get_attribute("data-media") == media
        assert page.evaluate("() => window.pwned") is None
        assert _healthy(hostile_server.url)
    finally:
        context.close()
    assert not board.outside, board.outside


def _decoder_children(server_pid: int) -> list[int]:
    """The server's decoder children (python -m vad_core.io.sandbox), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if parent == server_pid and b"vad_core.io.sandbox" in command:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize(("sig", "sentence"), [(signal.SIGSEGV, "crashed on this file"), (signal.SIGSTOP, "stalled")])
def test_a_decoder_killed_or_stuck_mid_file_costs_one_sentence(sig, sentence, browser, hostile_server, tmp_path):
    """SIGSEGV stands for FFmpeg crashing on a truncated file; SIGSTOP for a decode that hangs (the server's
    stall deadline here is 5 s). Both sessions get one sentence, and the next upload works."""
    url = hostile_server.url
    boards = [open_dashboard(browser, url) for _ in range(2)]
    try:
        for _, board in boards:
            board.page.goto(url)
            Player(board.page).ready(ANALYSIS_S)
        clips = []
        for index, (_, board) in enumerate(boards):
            clip = tmp_path / f"victim-{sig.name}-{index}.mp4"
            shutil.copy(NORMAL, clip)
            clips.append(clip)
            upload(board.page, clip)
        killed: set[int] = set()
        deadline = time.monotonic() + 120
        while len(killed) < 2:  # Playwright's route guard runs only while we call into it: wait through it
            assert time.monotonic() < deadline, f"decoder children seen: {killed}"
            boards[0][1].page.wait_for_timeout(20)
            for pid in set(_decoder_children(hostile_server.process.pid)) - killed:
                os.kill(pid, sig)
                killed.add(pid)
        for _, board in boards:
            _alert_with(board.page, sentence).wait_for(timeout=ANALYSIS_S * 1000)
            assert "Traceback" not in board.page.locator("body").inner_text()
        assert _healthy(url)
        again = tmp_path / f"again-{sig.name}.mp4"
        shutil.copy(NORMAL, again)
        page = boards[0][1].page
        upload(page, again)
        page.get_by_text(f"{again.name} · model").wait_for(timeout=ANALYSIS_S * 1000)
        Player(page).ready(ANALYSIS_S)
    finally:
        for index, (context, board) in enumerate(boards):
            board.screenshot(f"decoder-{sig.name}-{index}")
            context.close()
