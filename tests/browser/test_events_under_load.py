"""The event store under load: two batch workers, a watch and two real browser sessions on one Streamlit server
write one SQLite store at once, and no event is lost or duplicated (counted against their outputs).

The sessions upload the two test clips in opposite orders, so both write at the same moments; the same content and
model in two sessions is one run (see app/event_store.py: app_run), so the app's expectation is each clip's
findings once. batch's and watch's are the findings in their segments.json."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers.batch import batch_env
from tests.helpers.browser import ANALYSIS_S, Player, open_dashboard, serve, upload
from tests.helpers.paths import REPO
from vad_core import analyze
from vad_core.events.record import analysis_events
from vad_core.events.store import EventFilter, EventStore

pytestmark = pytest.mark.browser

ORDERS = (("Test004.mp4", "Test001.mp4"), ("Test001.mp4", "Test004.mp4"))  # session 1's, session 2's
WATCHED, CAMERA = "Test001.mp4", "gate"
PROCESS_S = 600  # Ray starts, two workers score, a watch and two analyses share the 2-core CPU


def findings(segments_json: Path) -> int:
    document = json.loads(segments_json.read_text())
    return len(document["segments"]) + len(document["health"])


def start_producers(url: str, stem: Path, samples: Path, out: Path) -> list[subprocess.Popen]:
    """`batch --workers 2` on the four sample clips and `watch --realtime` on one, both storing their events."""
    clips = out / "clips"
    clips.mkdir()
    for clip in [*sorted((samples / "test").glob("*.mp4")), *sorted((samples / "train").glob("*.mp4"))]:
        shutil.copyfile(clip, clips / clip.name)
    python, model = [sys.executable, "-m", "vad_core"], ["--checkpoint", str(stem), "--events-url", url]
    common = {"cwd": REPO, "env": batch_env(), "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    batch = [*python, "batch", str(clips), "--out", str(out / "batch"), "--workers", "2", *model, "--json"]
    watch = [*python, "watch", str(samples / "test" / WATCHED), "--out", str(out / "watch"), *model]
    return [subprocess.Popen(batch, **common), subprocess.Popen([*watch, "--camera", CAMERA, "--realtime"], **common)]


def upload_in_both(pages: list, samples: Path) -> None:
    """Each session its clips in its order: both upload, then both wait, so their analyses overlap."""
    for page in pages:
        Player(page).ready(ANALYSIS_S)  # the default sample, Test004, analyzed as the page opened
    for step in range(2):
        for page, order in zip(pages, ORDERS, strict=True):
            upload(page, samples / "test" / order[step])
        for page, order in zip(pages, ORDERS, strict=True):
            page.get_by_text(f"{order[step]} · model").wait_for(timeout=ANALYSIS_S * 1000)


def test_batch_workers_a_watch_and_two_browser_sessions_lose_and_duplicate_nothing(
    browser, analysis_stem, analysis_model, samples, tmp_path
):
    url = f"sqlite:///{tmp_path / 'events.db'}"
    env = {"VAD_CHECKPOINT": str(analysis_stem), "VAD_EVENTS_URL": url, "VAD_MODELS_DIR": str(tmp_path / "models")}
    started = time.monotonic()
    with serve(env, "events-load-streamlit.log", args=("--server.address", "localhost")) as server:
        sessions = [open_dashboard(browser, server.url) for _ in ORDERS]  # two contexts: two sessions
        try:
            producers = start_producers(url, analysis_stem, samples, tmp_path)  # first: Ray takes a while to start
            for _, board in sessions:
                board.page.goto(server.url)
            upload_in_both([board.page for _, board in sessions], samples)
            for process in producers:
                _, err = process.communicate(timeout=PROCESS_S)
                assert process.returncode == 0, err
        finally:
            for context, _ in sessions:
                context.close()
        assert not [u for _, board in sessions for u in board.outside], "requests left localhost"
    wall = time.monotonic() - started

    store = EventStore.open(url)
    try:
        events = store.events(EventFilter(limit=100_000))
    finally:
        store.close()
    expected = Counter()
    for folder in (tmp_path / "batch" / "videos").iterdir():
        expected["batch", folder.name] += findings(folder / "segments.json")
    expected["watch", CAMERA] += findings(tmp_path / "watch" / "segments.json")
    app = []  # each clip's findings once, whichever session stored them
    for name in ORDERS[0]:
        records = analysis_events(analyze(samples / "test" / name, analysis_model), source=name, run="x",
                                  origin="app", model=analysis_model)  # fmt: skip
        app += [(name, r.kind, r.start, r.end) for r in records]
        expected["app", name] += len(records)
    found = Counter((e.origin, e.source) for e in events)
    assert +found == +expected
    assert sorted((e.source, e.kind, e.start, e.end) for e in events if e.origin == "app") == sorted(app)
    assert len({(e.run, e.kind, e.start) for e in events}) == len({e.key for e in events}) == len(events)
    print(f"load: {len(events)} events stored, {sum(expected.values())} findings in the outputs, {wall:.0f} s")
    for producer in sorted(set(found) | set(expected)):
        print(f"  {producer}: {found[producer]} events, {expected[producer]} findings")
