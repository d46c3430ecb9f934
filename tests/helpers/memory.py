"""The memory of a server and every process it started, sampled while a test drives it.

with TreeMemory(server.process.pid) as memory:
    ...                                  # drive the page
memory.peak_rss, memory.peak_pss         # bytes, summed over the tree
"""

from __future__ import annotations

import threading
from pathlib import Path


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


class TreeMemory:
    """Samples a process and all its descendants every 50 ms: peak summed RSS, and peak summed PSS (shared
    pages divided among their sharers, so a library mapped by the server and a child is counted once)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_rss, self.peak_pss, self._stop = pid, 0, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> set[int]:
        parents = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except OSError:
                    continue
        tree, grew = {self.pid}, True
        while grew:
            children = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= children
            grew = bool(children)
        return tree

    def _run(self) -> None:
        root = _cmdline(self.pid)
        while not self._stop.wait(0.05):
            totals = {"Rss:": 0, "Pss:": 0}
            # A child between fork and exec still runs the server's program in the server's memory (vfork
            # shares it outright): counting it would count the server twice.
            for pid in {p for p in self._tree() if p == self.pid or _cmdline(p) != root}:
                try:
                    lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                except OSError:
                    continue
                for line in lines:
                    key, *value = line.split()
                    if key in totals:
                        totals[key] += int(value[0]) << 10
            self.peak_rss = max(self.peak_rss, totals["Rss:"])
            self.peak_pss = max(self.peak_pss, totals["Pss:"])
