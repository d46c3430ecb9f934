"""The store under faults: a writer killed with SIGKILL mid-write loses no committed event. The store under load
(two batch workers, a watch and two browser sessions at once) is tests/browser/test_events_under_load.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.helpers.batch import batch_env
from tests.helpers.paths import REPO
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
