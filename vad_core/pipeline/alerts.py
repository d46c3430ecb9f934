"""The alert command of a live run: each opened segment, as JSON on a command's stdin, without stalling scoring.

alerts = AlertRunner("./page-me --urgent", timeout=10.0, log=print)
alerts.submit({"event": "open", "start": 120, ...})
alerts.close(timeout=11.0)

`python -m vad_core watch --alert-cmd` (vad_core.cli.watch) runs one beside vad_core.pipeline.live.LiveRun.
"""

from __future__ import annotations

import json
import queue
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable

from vad_core.errors import BadInput

ALERT_QUEUE = 100  # alerts waiting for a slow command; past that, new ones are reported and skipped


class AlertRunner:
    """Runs a command (no shell: shlex.split) for each alert, one at a time in its own thread, each under a
    timeout, so a slow or hanging command never stalls scoring. Its stdout goes to our stderr."""

    def __init__(self, command: str, timeout: float, log: Callable[[str], None]) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as err:
            raise BadInput(f"{command!r}: {err}", option="alert_cmd") from None
        if not self.argv or shutil.which(self.argv[0]) is None:
            what = self.argv[0] if self.argv else "an empty command"
            raise BadInput(f"{what}: command not found", option="alert_cmd")
        self.timeout, self.log = timeout, log
        self.sent = self.failed = 0
        self._queue: queue.Queue = queue.Queue(maxsize=ALERT_QUEUE)
        self._thread = threading.Thread(target=self._work, name="vad-alerts", daemon=True)
        self._thread.start()

    def submit(self, payload: dict) -> None:
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.failed += 1
            self.log(f"alert skipped: {ALERT_QUEUE} alerts already wait for the command")

    def close(self, timeout: float) -> None:
        """Let queued alerts run, for at most about timeout seconds."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _work(self) -> None:
        while (payload := self._queue.get()) is not None:
            try:
                done = subprocess.run(
                    self.argv,
                    input=json.dumps(payload) + "\n",
                    text=True,
                    stdout=sys.stderr,
                    stderr=subprocess.PIPE,
                    timeout=self.timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                self.failed += 1
                self.log(f"alert command stopped after {self.timeout:g} s")
                continue
            except OSError as err:
                self.failed += 1
                self.log(f"alert command failed: {err}")
                continue
            self.sent += 1
            if done.returncode != 0:
                self.failed += 1
                last = (done.stderr or "").strip().splitlines()[-1:] or [""]
                self.log(f"alert command exited with status {done.returncode} {last[0]}".strip())
