"""The store under faults and load: a writer killed with SIGKILL mid-write loses no committed event; two batch
workers, a watch and two app-style writers at once lose and duplicate nothing (counted against their outputs)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.helpers.batch import batch_env
from tests.helpers.paths import REPO, SAMPLES
from vad_core.events.store import EventFilter, EventStore

KILL_AFTER = 40  # committed events before the SIGKILL


def test_a_writer_killed_mid_write_loses_no_committed_event(store_url):
    child = subprocess.Popen([sys.executable, "-m", "tests.helpers.event_writers", "loop", store_url], cwd=REPO,
                             env=batch_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    committed = []
    try:
        while len(committed) < KILL_AFTER:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            committed.append(line.strip())
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    committed += [line.strip() for line in child.stdout if line.strip()]  # printed before the kill landed
    store = EventStore.open(store_url)
    try:
        stored = {e.key for e in store.events(EventFilter(limit=100_000))}
    finally:
        store.close()
    assert set(committed) <= stored and len(stored) <= len(committed) + 1  # at most the one in flight


def _findings(segments_json: Path) -> int:
    document = json.loads(segments_json.read_text())
    return len(document["segments"]) + len(document["health"])


def test_batch_workers_a_watch_and_app_writers_at_once_lose_and_duplicate_nothing(analysis_stem, tmp_path):
    url, env = f"sqlite:///{tmp_path / 'events.db'}", batch_env()
    clips = tmp_path / "clips"
    clips.mkdir()
    for clip in [*sorted((SAMPLES / "test").glob("*.mp4")), *sorted((SAMPLES / "train").glob("*.mp4"))]:
        shutil.copyfile(clip, clips / clip.name)
    stop = tmp_path / "stop"
    python = [sys.executable, "-m"]
    common = {"cwd": REPO, "env": env, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    writers = [subprocess.Popen([*python, "tests.helpers.event_writers", "app", url, f"app{n}", str(analysis_stem),
                                 str(stop), str(tmp_path / f"app{n}.jsonl")], **common) for n in (1, 2)]  # fmt: skip
    model = ["--checkpoint", str(analysis_stem), "--events-url", url]
    batch = subprocess.Popen([*python, "vad_core", "batch", str(clips), "--out", str(tmp_path / "batch"), "--workers",
                              "2", *model, "--json"], **common)  # fmt: skip
    watch = subprocess.Popen([*python, "vad_core", "watch", str(SAMPLES / "test" / "Test001.mp4"), "--out",
                              str(tmp_path / "watch"), *model, "--camera", "gate"], **common)  # fmt: skip
    for process in (batch, watch):
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    stop.touch()
    for process in writers:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err

    store = EventStore.open(url)
    try:
        events = store.events(EventFilter(limit=100_000))
    finally:
        store.close()
    found = Counter((e.origin, e.source) for e in events)
    expected = Counter()
    for folder in (tmp_path / "batch" / "videos").iterdir():
        expected["batch", folder.name] += _findings(folder / "segments.json")
    expected["watch", "gate"] += _findings(tmp_path / "watch" / "segments.json")
    for n in (1, 2):
        rounds = [json.loads(line) for line in (tmp_path / f"app{n}.jsonl").read_text().splitlines()]
        expected["app", f"app{n}"] += sum(r["findings"] for r in rounds)
    assert +found == +expected
    assert len({(e.run, e.kind, e.start) for e in events}) == len(events)  # no finding twice
    print(f"load: {len(events)} events stored, {sum(expected.values())} findings in the outputs: {dict(found)}")
