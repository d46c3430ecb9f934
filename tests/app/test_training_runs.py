"""Training runs on a shared server: the real training child, started by the runner, fenced in.

Its own process group; a Cancel before its first step saves nothing; a second Cancel kills the group; it dies with
a SIGKILL-ed server; only the session that started it can cancel it; its clips obey the app's limits; a folder
source must lie under VAD_DATA_ROOT; what killed servers leave in the models folder is swept. No mocks: each run
is `python -m vad_core train` on a bundled sample clip, cancelled or failing within seconds.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.models import RUN_LOCK, RUN_MODEL, record_trainer, sweep_models_folder, user_models
from app.state import SAMPLES
from app.training import ClipFile, TrainingRequest, TrainingRunner
from tests.helpers.apptest import wait_finished
from tests.helpers.paths import REPO
from vad_core import BadInput

CLIP = SAMPLES / "train" / "Train001.mp4"  # 120 frames
ONE_CLIP = (ClipFile(CLIP.name, path=CLIP),)


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv("VAD_MODELS_DIR", str(folder))
    monkeypatch.delenv("VAD_DATA_ROOT", raising=False)
    return folder


def started(job, timeout: float = 30):
    """The job's child process, once the runner's thread has started it."""
    deadline = time.monotonic() + timeout
    while job.process is None:
        assert time.monotonic() < deadline, "the training child did not start"
        time.sleep(0.01)
    return job.process


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie waiting for a reaper that may never come in a container does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in {"Z", "X"}


def test_child_has_its_own_group_only_its_session_cancels_it_and_an_early_cancel_saves_nothing(models_dir):
    runner = TrainingRunner()
    job = runner.start(TrainingRequest(name="early", minutes=5, clips=ONE_CLIP, owner="tok-a"))
    child = started(job)
    pgid = os.getpgid(child.pid)
    assert pgid == child.pid and pgid != os.getpgid(0)  # a group (and session) of its own
    with pytest.raises(BadInput, match=r"only session \w+, which started this run, can cancel it"):
        job.cancel("tok-b")
    assert not job.cancel_requested and child.poll() is None  # the other session changed nothing
    job.cancel("tok-a")  # before its first step: nothing to calibrate or save, so it is killed
    snap = wait_finished(job, timeout=30)
    assert snap.state == "cancelled" and snap.checkpoint is None and not snap.steps, snap
    assert "nothing saved" in snap.message and child.returncode == -signal.SIGKILL
    assert group_gone(pgid)
    assert list(models_dir.iterdir()) == []  # no model files, and the staging folder is gone


def test_a_second_cancel_kills_the_group_and_saves_nothing(models_dir):
    job = TrainingRunner().start(TrainingRequest(name="twice", minutes=5, clips=ONE_CLIP, owner="tok-a"))
    child = started(job)
    deadline = time.monotonic() + 120
    while not job.snapshot().steps:
        assert time.monotonic() < deadline and child.poll() is None, job.snapshot()
        time.sleep(0.05)
    job.cancel("tok-a")  # the first: stop after this step, then calibrate and save
    assert job.snapshot().state == "calibrating" and child.poll() is None
    job.cancel("tok-a")  # the second: at once
    assert job.snapshot().state == "stopping"
    snap = wait_finished(job, timeout=30)
    assert snap.state == "cancelled" and snap.checkpoint is None and "stopped at once" in snap.message, snap
    assert child.returncode == -signal.SIGKILL and group_gone(child.pid)
    assert list(models_dir.iterdir()) == []


SERVER = """
import sys, time
from app.training import ClipFile, TrainingRequest, TrainingRunner
from pathlib import Path
clip = ClipFile("a.mp4", path=Path(sys.argv[1]))
job = TrainingRunner().start(TrainingRequest(name="orphan", minutes=5, clips=(clip,)))
while job.process is None:
    time.sleep(0.01)
print(job.process.pid, flush=True)
time.sleep(600)
"""


def test_the_child_dies_with_a_killed_server_and_the_next_start_sweeps_its_staging(models_dir):
    env = os.environ | {"PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(CLIP)], cwd=REPO, env=env, stdout=subprocess.PIPE)
    try:
        child = int(server.stdout.readline())
        assert alive(child)
        server.kill()  # SIGKILL: no atexit, no signal handler runs in the server
        server.wait(timeout=10)
        deadline = time.monotonic() + 10
        while alive(child):
            assert time.monotonic() < deadline, "the training child outlived its killed server"
            time.sleep(0.05)
    finally:
        server.kill()
        server.stdout.close()
    (staging,) = models_dir.glob(".staging-orphan-*")  # the killed server could not clean up
    assert sweep_models_folder(models_dir) == [staging] and list(models_dir.iterdir()) == []


def test_sweep_removes_what_killed_runs_left_and_keeps_models_and_live_runs(models_dir):
    models_dir.mkdir()
    card = json.dumps({"library": "vad_core", "model": {}, "calibration": {}})
    files = {
        "ok.safetensors": "w", "ok.json": card,  # a complete model
        "half.safetensors": "w",  # its card was never written
        "lonely.json": card,  # its weights are gone
        "cut.safetensors": "w", "cut.json": '{"library": "vad',  # killed while writing the card
        ".ok.json.3f2a.tmp": card,  # an interrupted replace
        "dead.resume.safetensors": "w",  # a killed run's minute-by-minute save
        "live.resume.safetensors": "w",  # a run of a live server sharing the folder
        "notes.json": '{"mine": true}',  # not a model card: not ours to remove
    }  # fmt: skip
    for name, text in files.items():
        (models_dir / name).write_text(text)
    record_trainer(models_dir / "ok", "tok-a")
    record_trainer(models_dir / "gone", "tok-a")  # a record whose model was deleted
    stale = models_dir / ".staging-old-1234"
    (stale / "train").mkdir(parents=True)
    (stale / "train" / "clip.mp4").write_bytes(b"x")
    (stale / RUN_LOCK).touch()  # nobody holds it
    live = models_dir / ".staging-live-5678"
    live.mkdir()
    (live / RUN_MODEL).write_text("live\n")
    with (live / RUN_LOCK).open("wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        removed = sweep_models_folder(models_dir)
    assert sorted(p.name for p in removed) == [
        ".ok.json.3f2a.tmp", ".staging-old-1234", "cut.json", "cut.safetensors", "dead.resume.safetensors",
        "gone.trainer", "half.safetensors", "lonely.json",
    ]  # fmt: skip
    kept = sorted(p.name for p in models_dir.iterdir())
    assert kept == [
        ".staging-live-5678",
        "live.resume.safetensors",
        "notes.json",
        "ok.json",
        "ok.safetensors",
        "ok.trainer",
    ]
    assert user_models() == [models_dir / "ok"]
    shutil.rmtree(live)
    assert sweep_models_folder(models_dir) == [models_dir / "live.resume.safetensors"]  # its run has ended


def test_clips_are_decoded_under_the_apps_analysis_limits(models_dir, monkeypatch):
    monkeypatch.setenv("VAD_MAX_FRAMES", "50")
    monkeypatch.setenv("VAD_MAX_SECONDS", "30")
    job = TrainingRunner().start(TrainingRequest(name="long", minutes=5, clips=ONE_CLIP))
    assert job.env == {"VAD_TRAIN_MAX_FRAMES": "50", "VAD_TRAIN_MAX_SECONDS": "30.0"}
    snap = wait_finished(job, timeout=120)
    assert snap.state == "failed" and "more than 50 frames (the limit per clip)" in snap.message, snap
    assert list(models_dir.iterdir()) == []


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """VAD_DATA_ROOT with a dataset of two sample clips, and beside it (outside) a folder of the same."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    for folder in (root / "ds" / "train", outside / "train"):
        folder.mkdir(parents=True)
        for clip in sorted((SAMPLES / "train").glob("*.mp4")):
            shutil.copy(clip, folder / clip.name)
    monkeypatch.setenv("VAD_DATA_ROOT", str(root))
    return root, outside


def start_folder(folder: str | Path):
    return TrainingRunner().start(TrainingRequest(name="from-folder", minutes=5, dataset=Path(folder), owner="a"))


def test_folder_source_stays_under_the_data_root_and_within_the_caps(models_dir, data_root, monkeypatch):
    import app.training as training

    root, outside = data_root
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "sneaky" / "train").mkdir(parents=True)
    (root / "sneaky" / "train" / "clip.mp4").symlink_to(outside / "train" / "Train001.mp4")
    refusals = {
        str(outside): "not under the allowed data folder",
        "../outside": "not under the allowed data folder",
        "escape": "not under the allowed data folder",  # a link inside the root that leads out of it
        "sneaky": "a link to a file outside the allowed data folder",
        "nothing-here": "no such folder",
    }
    for folder, message in refusals.items():
        with pytest.raises(BadInput, match=message):
            start_folder(folder)
    monkeypatch.setattr(training, "MAX_CLIPS", 1)
    with pytest.raises(BadInput, match="holds 2 clips: at most 1 per run"):
        start_folder("ds")
    monkeypatch.setattr(training, "MAX_CLIPS", 50)
    monkeypatch.setattr(training, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(BadInput, match="GB of clips"):
        start_folder("ds")
    monkeypatch.setattr(training, "MAX_UPLOAD_BYTES", 2 << 30)
    job = start_folder("ds")  # relative to the root: accepted, and trained from where it resolved
    assert job.command[job.command.index("--data") + 1] == str(root / "ds")
    job.cancel("a")
    assert wait_finished(job, timeout=30).state == "cancelled" and list(models_dir.iterdir()) == []
    monkeypatch.delenv("VAD_DATA_ROOT")
    with pytest.raises(BadInput, match="folders on this server are off"):
        start_folder(root / "ds")


def test_a_run_waits_for_a_heavy_work_slot_and_a_cancel_while_waiting_leaves_the_queue(models_dir):
    from app.work_queue import work_queue

    queue = work_queue()
    held = [queue.join(f"analysis {i}") for i in range(queue.capacity)]
    for ticket in held:
        queue.acquire(ticket)
    try:
        job = TrainingRunner().start(TrainingRequest(name="queued", minutes=5, clips=ONE_CLIP, owner="tok-a"))
        deadline = time.monotonic() + 10
        while "ahead of you" not in job.snapshot().queued:
            assert time.monotonic() < deadline, "the run never said it was waiting"
            time.sleep(0.05)
        assert job.process is None  # no child while it waits
        job.cancel("tok-a")
        snap = wait_finished(job, timeout=30)
        assert snap.state == "cancelled" and "waiting for a free slot" in snap.message and job.process is None
        assert not list(models_dir.glob("queued*"))
    finally:
        for ticket in held:
            queue.release(ticket)
