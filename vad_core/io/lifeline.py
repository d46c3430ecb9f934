"""Child processes that die with the process that started them, however it dies (Linux: PR_SET_PDEATHSIG).

    die_with_parent(parent)                                   # first thing in a child's own main
    env = os.environ | {PARENT_PID_VARIABLE: str(os.getpid())}  # a `python -m vad_core` child calls it itself

Set in the child, not in a preexec_fn: Python's subprocess docs call a preexec_fn unsafe in a threaded parent,
such as a Streamlit server. The kernel sends the signal when the thread that forked the child ends, so the
parent forks from a thread that outlives the child.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_PID_VARIABLE = "VAD_PARENT_PID"


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when parent dies, even by SIGKILL; exit now if parent died before the prctl (the
    child was then already handed to another parent)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the parent's own cleanup bounds the child
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        sys.exit(1)
