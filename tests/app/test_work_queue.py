"""The server-wide cap on heavy work (app.work_queue): slots, the FIFO line, leaving it, and no leak on errors."""

from __future__ import annotations

import threading
import time

import pytest

from app.work_queue import LeftQueue, Wait, WorkQueue, capacity_from_env


def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def waiter(queue: WorkQueue, label: str, log: list, hold: threading.Event | None = None, **kwargs) -> threading.Thread:
    """A thread that waits for a slot, notes when it got one, and holds it until hold is set."""

    def run() -> None:
        try:
            with queue.slot(label, poll_s=0.05, **kwargs):
                log.append(label)
                if hold is not None:
                    hold.wait(5)
        except LeftQueue:
            log.append(f"left {label}")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_no_more_jobs_run_at_once_than_the_cap():
    queue = WorkQueue(2)
    running, peak, lock = [0], [0], threading.Lock()

    def job() -> None:
        with queue.slot("job", poll_s=0.05):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=job) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert peak[0] == 2
    assert queue.running() == [] and queue.waiting() == []


def test_waiting_jobs_start_first_come_first_served_and_see_their_place():
    queue = WorkQueue(1)
    holds = {label: threading.Event() for label in ("first", "second", "third")}
    order, seen, threads = [], {}, []
    threads.append(waiter(queue, "first", order, holds["first"]))
    until(lambda: order == ["first"])
    for label in ("second", "third"):
        told = lambda state, label=label: seen.update({label: state})  # noqa: E731
        threads.append(waiter(queue, label, order, holds[label], on_wait=told))
        until(lambda label=label: label in seen)  # joined in this order
    second, third = queue.waiting()
    assert (queue.position(second), queue.position(third)) == (0, 1)
    assert seen["third"] == Wait(running=1, queued_ahead=1, capacity=1) and seen["third"].ahead == 2
    assert "2 jobs ahead of you" in seen["third"].message()
    holds["first"].set()
    until(lambda: order == ["first", "second"])
    until(lambda: seen["third"] == Wait(running=1, queued_ahead=0, capacity=1))  # told when the line moved
    assert queue.position(second) is None and queue.position(third) == 0
    holds["second"].set()
    holds["third"].set()
    for thread in threads:
        thread.join(5)
    assert order == ["first", "second", "third"]


def test_a_job_can_leave_the_line_and_the_ones_behind_move_up():
    queue = WorkQueue(1)
    hold, log, leave = threading.Event(), [], threading.Event()
    waiter(queue, "holder", log, hold)
    until(lambda: log == ["holder"])
    leaver = waiter(queue, "leaver", log, hold, should_leave=leave.is_set)
    until(lambda: len(queue.waiting()) == 1)
    behind = waiter(queue, "behind", log, hold)
    until(lambda: len(queue.waiting()) == 2)
    leave.set()
    leaver.join(5)
    assert log == ["holder", "left leaver"]
    assert [t.label for t in queue.waiting()] == ["behind"] and queue.position(queue.waiting()[0]) == 0
    hold.set()
    behind.join(5)
    assert log[-1] == "behind" and queue.waiting() == [] and queue.running() == []


def test_a_ticket_taken_out_of_the_line_stops_waiting():
    queue = WorkQueue(1)
    hold, log = threading.Event(), []
    waiter(queue, "holder", log, hold)
    until(lambda: log == ["holder"])
    thread = waiter(queue, "removed", log, hold)
    until(lambda: len(queue.waiting()) == 1)
    queue.leave(queue.waiting()[0])
    thread.join(5)
    assert log == ["holder", "left removed"]
    hold.set()


def test_slots_are_given_back_on_exceptions_in_the_job_and_in_the_wait():
    queue = WorkQueue(1)
    with pytest.raises(RuntimeError), queue.slot("fails"):
        raise RuntimeError("the analysis failed")
    assert queue.running() == []

    hold, log = threading.Event(), []
    waiter(queue, "holder", log, hold)
    until(lambda: log == ["holder"])

    def stop(state: Wait) -> None:  # Streamlit stops a waiting script by raising from its next st call
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), queue.slot("stopped", on_wait=stop):
        pass
    assert queue.waiting() == []
    hold.set()
    until(lambda: queue.running() == [])
    with queue.slot("next", poll_s=0.05):  # the slot is free again
        assert [t.label for t in queue.running()] == ["next"]


def test_the_cap_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("VAD_MAX_HEAVY_JOBS", raising=False)
    assert capacity_from_env() == 2
    monkeypatch.setenv("VAD_MAX_HEAVY_JOBS", "3")
    assert capacity_from_env() == 3
    monkeypatch.setenv("VAD_MAX_HEAVY_JOBS", "0")
    assert capacity_from_env() == 1
    monkeypatch.setenv("VAD_MAX_HEAVY_JOBS", "many")
    assert capacity_from_env() == 2
    with pytest.raises(ValueError):
        WorkQueue(0)


# The pages: a session that left the queue stays out until it joins again; the annotated video is made in a slot.


def test_a_session_that_left_the_queue_stays_out_until_it_joins_again(analysis_stem, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.helpers.apptest import player_args
    from tests.helpers.paths import APP

    monkeypatch.setenv("VAD_CHECKPOINT", str(analysis_stem))
    monkeypatch.setenv("VAD_MAX_FRAMES", "2999")  # a clip key of its own: earlier tests' cached Test004 skips the queue
    app = AppTest.from_file(str(APP), default_timeout=300)
    app.session_state["work_queue_left"] = "analysis of Test004.mp4"  # as the "Leave the queue" button sets it
    app.run()
    assert not app.exception
    assert any("You left the queue for the analysis of Test004.mp4" in info.value for info in app.info)
    assert not app.get("component_instance")  # no player: nothing was analyzed
    app.button(key="rejoin_analysis of Test004.mp4").click().run()
    assert not app.exception and len(player_args(app)["score"]) == 180


def test_the_annotated_video_is_made_on_request_then_offered(analysis_stem, monkeypatch):
    from tests.helpers.apptest import start_app

    app = start_app(analysis_stem, monkeypatch)
    assert "annotated_video" not in app.session_state
    app.button(key="make_mp4").click().run()
    assert not app.exception
    data = app.session_state["annotated_video"][1]
    assert data[4:8] == b"ftyp"  # an MP4
    app.slider(key="score_threshold").set_value(0.0).run()  # another threshold: the button comes back
    assert [b for b in app.button if b.key == "make_mp4"]
