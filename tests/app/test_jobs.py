"""Children of the server (app.jobs, app.batch_runs): a chatty child never blocks on its stderr, the batch
command gets the app's limits, and folders of batch uploads are swept like the app's other temporary folders."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from app.batch_runs import BatchJob, _run, _watch, limit_options
from app.components.player import TEMP_PREFIXES
from app.jobs import STDERR_TAIL, ChildJob, run_child
from app.work_queue import WorkQueue
from vad_core.io.limits import AnalysisLimits
from vad_core.io.tempdirs import owned_prefix, sweep_dead

CHATTY = "import sys; sys.stderr.write('x' * 300_000 + '\\nlast line\\n'); sys.stderr.flush(); print('done')"


def test_a_child_writing_300_kb_of_stderr_does_not_block():
    job = ChildJob([sys.executable, "-c", CHATTY], label="chatty")
    lines: list[str] = []
    result: list[tuple[int, str]] = []
    runner = threading.Thread(target=lambda: result.append(run_child(job, WorkQueue(1), lines.append)), daemon=True)
    runner.start()
    runner.join(60)
    if runner.is_alive():
        job.kill()
        raise AssertionError("the child blocked on its stderr")
    returncode, stderr = result[0]
    assert returncode == 0 and lines == ["done\n"]
    assert stderr.endswith("last line\n") and len(stderr) <= STDERR_TAIL


def test_the_batch_command_gets_the_apps_limits():
    limits = AnalysisLimits(max_frames=3000, max_seconds=600.0, max_pixels=3840 * 2160, max_total_pixels=2 * 10**9)
    assert limit_options(limits) == ["--max-frame-pixels", "8294400", "--max-frames", "3000", "--max-seconds",
                                     "600.0", "--max-gigapixels", "2.0"]  # fmt: skip


def test_batch_upload_folders_of_a_dead_server_are_swept(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = tmp_path / f"{owned_prefix('vad-batch-upload-', child.pid)}abc"
    dead.mkdir()
    (dead / "videos").mkdir()
    live = tmp_path / f"{owned_prefix('vad-batch-upload-')}def"
    live.mkdir()
    assert sweep_dead(tmp_path, TEMP_PREFIXES) == [dead]
    assert live.is_dir()


def test_a_batch_past_its_deadline_is_stopped(tmp_path):
    job = BatchJob([sys.executable, "-c", "import time; time.sleep(120)"], "sleeper", out=tmp_path, videos=1,
                   deadline_s=2.0)  # fmt: skip
    threads = [threading.Thread(target=_run, args=(job, WorkQueue(1)), daemon=True),
               threading.Thread(target=_watch, args=(job,), daemon=True)]  # fmt: skip
    started = time.monotonic()
    for thread in threads:
        thread.start()
    threads[0].join(60)
    assert job.finished and time.monotonic() - started < 30
    assert job.state == "cancelled" and job.message == "stopped after 2 s (the time limit of the batch)"
