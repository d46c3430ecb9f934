"""Heavy work in a child process of the server: a `python -m vad_core ...` command run in one of the server's
heavy-work slots (app.work_queue), its stdout relayed line by line. Training runs (app.training) and batch runs
(app.batch_runs) both run through run_child.

    job = ChildJob(command=[sys.executable, "-m", "vad_core", ...], label="batch of 3 videos", owner=session)
    returncode, stderr = run_child(job, work_queue(), on_line=print)   # on a thread that outlives the child
    job.stop()                                                         # SIGTERM: the command stops cleanly
    job.kill()                                                         # SIGKILL to its whole process group

A process, not a thread: the server's interpreter stays free for the pages. The child is fenced in: a process
group of its own (a kill reaches its children, and Ctrl-C in the server's terminal does not), and it dies with
the server, even a SIGKILL-ed one (vad_core.io.lifeline: Linux PR_SET_PDEATHSIG, with the thread that started it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from app.work_queue import Wait, WorkQueue
from vad_core.io.lifeline import PARENT_PID_VARIABLE
from vad_core.io.paths import REPO_ROOT

STDERR_TAIL = 64 << 10  # what run_child returns of the child's stderr, which goes to a file as it comes (never a
# pipe read after the exit, which a child writing more than the pipe holds would wait on forever)


@dataclass
class ChildJob:
    """A command to run as a child of the server, the child once it runs, and what has been asked of it."""

    command: list[str]
    label: str = ""  # its name in the heavy-work queue ("training of cam")
    owner: str = ""  # the starting session's id
    env: dict[str, str] = field(default_factory=dict)  # added to the server's environment for the child
    process: subprocess.Popen | None = None
    queued: str = ""  # while it waits for a heavy-work slot: how many jobs are ahead of it
    _stop: threading.Event = field(default_factory=threading.Event)
    _kill: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cancel_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def killed(self) -> bool:
        return self._kill.is_set()

    def on_queue(self, wait: Wait | None) -> None:
        """Where the job stands in the server's heavy-work queue (None: it has its slot)."""
        with self._lock:
            self.queued = wait.message() if wait is not None else ""

    def stop(self) -> None:
        """Ask the child to stop (SIGTERM, which a vad_core command turns into a clean stop); before it starts,
        the job leaves the queue."""
        self._stop.set()
        self.signal_child()

    def kill(self) -> None:
        """Kill the child's process group now (the server is going, or a second cancel): nothing is saved."""
        self._kill.set()
        self._stop.set()
        self.signal_child()

    def signal_child(self) -> None:
        """Send the child what the requests so far ask for (none yet: nothing); run_child calls it again once the
        child starts."""
        child = self.process
        if child is None or child.poll() is not None or not self._stop.is_set():
            return
        try:
            if self._kill.is_set():
                os.killpg(child.pid, signal.SIGKILL)  # its own group (start_new_session): the child and its children
            else:
                child.send_signal(signal.SIGTERM)
        except ProcessLookupError:  # it ended meanwhile
            pass


def run_child(
    job: ChildJob, queue: WorkQueue, on_line: Callable[[str], None], pass_fds: tuple[int, ...] = ()
) -> tuple[int, str]:
    """Run the job's command in one of the queue's slots and return (exit status, the last STDERR_TAIL of its
    stderr); each stdout line goes to on_line as it comes. A cancel while it waits leaves the queue (LeftQueue,
    and no child ever starts). pass_fds: open files the child inherits (the training run's lock)."""
    with tempfile.TemporaryFile() as errors:
        # The child dies with the server (vad_core.io.lifeline): with this thread, which outlives it.
        env = os.environ | {"PYTHONPATH": str(REPO_ROOT), PARENT_PID_VARIABLE: str(os.getpid())} | job.env
        with queue.slot(job.label, on_wait=job.on_queue, should_leave=lambda: job.cancel_requested, owner=job.owner):
            job.on_queue(None)
            child = subprocess.Popen(
                job.command,
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                start_new_session=True,
                pass_fds=pass_fds,
            )
            job.process = child
            with child:
                job.signal_child()  # cancelled while it was starting
                for line in child.stdout:
                    on_line(line)
        errors.seek(max(0, errors.seek(0, os.SEEK_END) - STDERR_TAIL))  # a chatty child: its last lines
        return child.returncode, errors.read().decode("utf-8", "replace")
