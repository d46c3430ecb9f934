"""Whether anyone still looks at a background job's page: the one test of a left page, for batch and live runs.

    viewer = Viewer(session_id())      # made with the job, in the page that starts it
    viewer.seen()                      # the page, on each redraw
    if viewer.gone():                  # the job's own watcher thread: stop the job

A page is left when it has not been redrawn for leave_s (another page, a closed tab, or a browser that keeps its
websocket open and reruns nothing), or when its Streamlit session is gone. The browser cannot keep a job alive
by staying connected: only redraws count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.work_queue import session_alive

LEAVE_S = 20.0  # unseen this long: its page was left


@dataclass
class Viewer:
    """The session that shows a job, and when its page last drew it."""

    session: str | None
    leave_s: float = LEAVE_S
    _seen: float = field(default_factory=time.monotonic)

    def seen(self) -> None:
        self._seen = time.monotonic()

    def unseen_for(self) -> float:
        return time.monotonic() - self._seen

    def gone(self, alive: Callable[[str | None], bool | None] = session_alive) -> bool:
        """Unseen for leave_s, or its session gone (alive: how a session is looked up)."""
        return self.unseen_for() > self.leave_s or alive(self.session) is False
