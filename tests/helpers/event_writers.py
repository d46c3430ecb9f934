"""A child process that writes the event store, for the SIGKILL test.

python -m tests.helpers.event_writers loop URL   # adds events forever, printing each committed key
"""

from __future__ import annotations

import sys

from vad_core.events.store import EventRecord, EventStore


def loop(url: str) -> None:
    """One event a transaction, its key printed (flushed) once add() has returned."""
    store = EventStore.open(url)
    for n in range(1_000_000):
        key = f"kill/anomaly/{n}"
        store.add(EventRecord(key=key, source="cam", run="kill", origin="watch", kind="anomaly", start=n, end=n + 3,
                              peak=2.0, peak_frame=n + 1, fps=10.0, thumbnail=b"x" * 2000))  # fmt: skip
        print(key, flush=True)


if __name__ == "__main__":
    loop(sys.argv[2])
