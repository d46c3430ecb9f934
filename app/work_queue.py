"""A server-wide cap on heavy work (analyses, exports, trainings), with a first-come first-served queue.

    with heavy_slot(f"analysis of {name}"):            # in a page: a notice with the place in the queue
        clip = open_clip(...)                           # and a "Leave the queue" button while it waits
    with work_queue().slot("training cam", on_wait=job.on_queue, should_leave=job.cancel_requested): ...

At most VAD_MAX_HEAVY_JOBS (2) jobs run at once: a 2-core server that runs four analyses at once runs each
four times slower and holds four analyses' memory. A job that waits sees how many are ahead of it; it leaves
the queue when its session reruns or stops (Streamlit raises in the waiting script), when the session's
browser is gone, when should_leave() says so, or on any exception. A slot is always given back.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

LOG = logging.getLogger(__name__)
DEFAULT_CAPACITY = 2
POLL_S = 1.0  # a waiter looks at its session (and redraws its notice) at least this often
LEFT_KEY = "work_queue_left"  # session state: the label of the job this session chose to leave the queue of


class LeftQueue(Exception):
    """The waiting job left the queue (its session is gone, or should_leave() said so); it never ran."""


@dataclass(frozen=True)
class Ticket:
    """One job's place: in the queue, then in a slot."""

    number: int
    label: str
    owner: str = ""


@dataclass(frozen=True)
class Wait:
    """Where a waiting job stands: jobs ahead of it (running ones and those queued before it)."""

    running: int
    queued_ahead: int
    capacity: int

    @property
    def ahead(self) -> int:
        return self.running + self.queued_ahead

    def message(self) -> str:
        jobs = "1 job" if self.ahead == 1 else f"{self.ahead} jobs"
        return (
            f"**Waiting for the server:** {jobs} ahead of you. It runs {self.capacity} heavy "
            f"{'job' if self.capacity == 1 else 'jobs'} (analyses, exports, trainings) at a time; yours starts "
            "as soon as a place is free."
        )


class WorkQueue:
    """capacity slots and a FIFO line of tickets waiting for one; thread-safe."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"a work queue needs at least 1 slot, not {capacity}")
        self.capacity = capacity
        self._cond = threading.Condition()
        self._numbers = itertools.count(1)
        self._waiting: list[Ticket] = []
        self._running: list[Ticket] = []

    def join(self, label: str, owner: str = "") -> Ticket:
        """A ticket at the end of the line."""
        with self._cond:
            ticket = Ticket(next(self._numbers), label, owner)
            self._waiting.append(ticket)
            return ticket

    def position(self, ticket: Ticket) -> int | None:
        """Tickets waiting ahead of this one (0: it is next), or None when it runs or is not queued."""
        with self._cond:
            return self._waiting.index(ticket) if ticket in self._waiting else None

    def _wait_state(self, ticket: Ticket) -> Wait | None:
        if ticket not in self._waiting:
            return None
        return Wait(len(self._running), self._waiting.index(ticket), self.capacity)

    def running(self) -> list[Ticket]:
        with self._cond:
            return list(self._running)

    def waiting(self) -> list[Ticket]:
        with self._cond:
            return list(self._waiting)

    def acquire(
        self,
        ticket: Ticket,
        on_wait: Callable[[Wait], None] | None = None,
        should_leave: Callable[[], bool] | None = None,
        poll_s: float = POLL_S,
    ) -> None:
        """Block until the ticket holds a slot. on_wait(Wait) is called while it waits (at first, on every change
        and every poll_s); LeftQueue when should_leave() turns true. On any exception the ticket leaves the line."""
        try:
            while True:
                with self._cond:
                    if ticket not in self._waiting:
                        raise LeftQueue(f"{ticket.label} is no longer queued")
                    if self._waiting[0] == ticket and len(self._running) < self.capacity:
                        self._waiting.remove(ticket)
                        self._running.append(ticket)
                        self._cond.notify_all()
                        return
                    state = self._wait_state(ticket)
                if on_wait is not None:
                    on_wait(state)  # outside the lock: it may draw, and Streamlit may raise from it
                if should_leave is not None and should_leave():
                    raise LeftQueue(f"{ticket.label} left the queue")
                with self._cond:
                    if self._wait_state(ticket) == state:
                        self._cond.wait(poll_s)
        except BaseException:
            self.leave(ticket)
            raise

    def release(self, ticket: Ticket) -> None:
        """Give a slot back, or leave the line: whichever the ticket holds. Idempotent."""
        self.leave(ticket)

    def leave(self, ticket: Ticket) -> None:
        with self._cond:
            if ticket in self._running:
                self._running.remove(ticket)
            elif ticket in self._waiting:
                self._waiting.remove(ticket)
            else:
                return
            self._cond.notify_all()

    @contextmanager
    def slot(
        self,
        label: str,
        on_wait: Callable[[Wait], None] | None = None,
        should_leave: Callable[[], bool] | None = None,
        owner: str = "",
        poll_s: float = POLL_S,
    ) -> Iterator[Ticket]:
        """Hold a slot for the block: join the line, wait (on_wait, should_leave as acquire), always release."""
        ticket = self.join(label, owner)
        self.acquire(ticket, on_wait, should_leave, poll_s)
        started = time.monotonic()
        try:
            yield ticket
        finally:
            self.release(ticket)
            LOG.debug("%s held a heavy slot for %.1f s", label, time.monotonic() - started)


def capacity_from_env() -> int:
    """VAD_MAX_HEAVY_JOBS, at least 1; 2 when unset."""
    text = os.environ.get("VAD_MAX_HEAVY_JOBS") or str(DEFAULT_CAPACITY)
    try:
        return max(1, int(text))
    except ValueError:
        LOG.warning("VAD_MAX_HEAVY_JOBS=%r is not a whole number; using %d", text, DEFAULT_CAPACITY)
        return DEFAULT_CAPACITY


@st.cache_resource
def work_queue() -> WorkQueue:
    """The one queue of this server process, shared by every session and the training runner."""
    return WorkQueue(capacity_from_env())


def session_id() -> str | None:
    """The id of the Streamlit session whose script runs on this thread, or None off a script thread."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else None


def session_alive(session: str | None) -> bool | None:
    """Whether a session's browser is still connected; None when no Streamlit server can tell (bare runs, tests)."""
    if session is None:
        return None
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    try:
        return Runtime.instance().is_active_session(session)
    except Exception:  # the runtime is shutting down
        return None


def _leave_clicked(label: str) -> None:
    st.session_state[LEFT_KEY] = label


@contextmanager
def heavy_slot(
    label: str, on_wait: Callable[[Wait], None] | None = None, requested: bool = False, place: object | None = None
) -> Iterator[Ticket]:
    """In a page script: hold one of the server's heavy slots for the block.

    While it waits the page shows its place in the queue, updated as it moves, and a "Leave the queue" button
    (on_wait, if given, is told too). Leaving, a rerun, a stop or a closed browser ends the wait: a rerun or a
    stop by Streamlit's own exception, a closed browser as LeftQueue. A session that pressed the button sees
    "You left the queue" with a button to join again, and its page stops there (st.stop), on every rerun
    until it joins again or asks for another job; requested=True (the user just pressed a button for this very
    job) joins again at once. place: a placeholder the page draws anyway (a progress bar's), where the notice
    goes, so that waiting adds no element above what follows (a player that moves in the page remounts)."""
    if st.session_state.get(LEFT_KEY) == label and not requested:
        st.info(f"You left the queue for the {label}.", icon=":material/logout:")
        if st.button("Join the queue again", key=f"rejoin_{label}"):
            st.session_state.pop(LEFT_KEY, None)
            st.rerun()
        st.stop()
    st.session_state.pop(LEFT_KEY, None)
    queue = work_queue()
    session = session_id()
    notice: list = []  # (the notice, the button), drawn on the first wait: a job that starts at once shows nothing

    def waiting(state: Wait) -> None:
        if not notice:
            slot = place if place is not None else st.empty()
            notice.append(slot)
            area = slot.container()
            notice.extend((area.empty(), area.empty()))
            notice[2].button("Leave the queue", key=f"leave_{label}", on_click=_leave_clicked, args=(label,))
        notice[1].info(f"{state.message()} ({label})", icon=":material/hourglass_top:")
        if on_wait is not None:
            on_wait(state)

    try:
        with queue.slot(label, waiting, lambda: session_alive(session) is False, owner=session or "") as ticket:
            if notice:
                notice[0].empty()
            yield ticket
    except LeftQueue:
        LOG.info("%s left the queue: its session is gone", label)
        st.stop()
