"""Child processes that write the event store, for the load and SIGKILL tests.

python -m tests.helpers.event_writers loop URL             # adds events forever, printing each committed key
python -m tests.helpers.event_writers app URL NAME STEM STOP OUT   # as the app publishes analyses, until STOP exists
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from vad_core.events.store import EventRecord, EventStore


def loop(url: str) -> None:
    """One event a transaction, its key printed (flushed) once add() has returned."""
    store = EventStore.open(url)
    for n in range(1_000_000):
        key = f"kill/anomaly/{n}"
        store.add(EventRecord(key=key, source="cam", run="kill", origin="watch", kind="anomaly", start=n, end=n + 3,
                              peak=2.0, peak_frame=n + 1, fps=10.0, thumbnail=b"x" * 2000))  # fmt: skip
        print(key, flush=True)


def app(url: str, name: str, stem: str, stop: Path, out: Path) -> None:
    """Analyze a sample clip once, then publish it as the app does, under a new run name each round (at least
    two), until the stop file exists; one JSON line per round in out: the run and how many findings it holds."""
    import torch

    from tests.helpers.paths import SAMPLES
    from vad_core.events.record import publish_analysis
    from vad_core.model.checkpoint import load_checkpoint
    from vad_core.pipeline.analysis import analyze

    torch.set_num_threads(1)
    model = load_checkpoint(stem, device="cpu")
    analysis = analyze(SAMPLES / "test" / "Test004.mp4", model)
    store = EventStore.open(url)
    rounds = 0
    while rounds < 2 or not stop.exists():
        run = f"{name}-{rounds}"
        publish_analysis(store, analysis, source=name, run=run, origin="app", model=model)
        findings = len(analysis.segments()) + len(analysis.health_segments())
        with out.open("a") as lines:
            lines.write(json.dumps({"run": run, "findings": findings}) + "\n")
        rounds += 1
        time.sleep(1.0)  # a steady writer, leaving the CPU to the batch and the watch


if __name__ == "__main__":
    if sys.argv[1] == "loop":
        loop(sys.argv[2])
    else:
        app(sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5]), Path(sys.argv[6]))
