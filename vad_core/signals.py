"""How a long command stops on Ctrl-C or SIGTERM: the first signal asks it to stop (it finishes cleanly: saves,
writes its outputs), a second Ctrl-C aborts at once.

stop = threading.Event()
on_stop_signal(stop.set)                    # training, watch: checked between steps
on_stop_signal(interrupt, (signal.SIGTERM,))  # batch: unwind through the finally blocks, as Ctrl-C does
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterable


def on_stop_signal(
    request_stop: Callable[[], None], signals: Iterable[signal.Signals] = (signal.SIGINT, signal.SIGTERM)
) -> None:
    """Call request_stop on the first of `signals`; Ctrl-C is Python's own KeyboardInterrupt from then on.
    Outside the main thread (where handlers cannot be set) nothing changes."""

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        request_stop()

    with contextlib.suppress(ValueError):  # not the main thread
        for number in signals:
            signal.signal(number, handler)


def interrupt() -> None:
    """A request_stop that stops like Ctrl-C: KeyboardInterrupt where the main thread is."""
    raise KeyboardInterrupt
