"""Batch scoring on Ray: inputs, the stored analysis, the 12 Ped2 clips killed and resumed, a real Ray cluster,
and the 1- vs 2-worker speed-up.

The Ped2 run is shared with the browser test (tests/helpers/batch.py): one run per session.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers.batch import BROKEN, batch_env, ped2_batch
from tests.helpers.paths import REPO
from vad_core.batch.inputs import content_hash, find_videos, read_manifest
from vad_core.errors import BadInput

SAMPLE_CLIPS = REPO / "assets" / "samples" / "test"


# ---- inputs -------------------------------------------------------------------------------------------------


def test_inputs_from_files_folders_and_manifests(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    for path in ("a/x.mp4", "a/deep/y.avi", "b/x.mp4", "a/notes.md"):
        (tmp_path / path).write_bytes(b"v")
    frames = tmp_path / "a" / "frames"
    frames.mkdir()
    (frames / "001.tif").write_bytes(b"i")
    (tmp_path / "list.txt").write_text("# clips\na/x.mp4\n\nmissing.mp4\n")
    (tmp_path / "list.csv").write_text("path,camera\nb/x.mp4,2\na/deep/y.avi,1\n")

    videos = find_videos([tmp_path / "a", tmp_path / "list.txt", tmp_path / "list.csv"])
    names = [v.name for v in videos]
    assert names == ["y.avi", "frames", "a/x.mp4", "missing.mp4", "b/x.mp4"]  # unique names, order kept
    assert read_manifest(tmp_path / "list.csv") == [tmp_path / "b/x.mp4", tmp_path / "a/deep/y.avi"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="no videos found"):
        find_videos([tmp_path / "empty"])
    (tmp_path / "bad.csv").write_text("file\nx.mp4\n")
    with pytest.raises(BadInput, match="'path' column"):
        find_videos([tmp_path / "bad.csv"])


def test_content_hash_follows_bytes_not_names(tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    assert content_hash(a) == content_hash(b)
    b.write_bytes(b"other")
    assert content_hash(a) != content_hash(b)


# ---- the stored analysis and the worker, without Ray -----------------------------------------------------------


@pytest.fixture
def in_process_worker_settings(monkeypatch):
    """A replica's process has its CPU share (VAD_CPU_THREADS, from Ray; torch threads, set by the replica); here
    that process is the tests'."""
    import torch

    monkeypatch.setenv("VAD_CPU_THREADS", "1")  # restored (unset) afterwards
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_worker_scores_with_analyze_and_the_stored_analysis_reads_back(
    tmp_path, analysis_model, analysis_stem, in_process_worker_settings
):
    from vad_core.batch.stored import read_analysis
    from vad_core.batch.worker import ScoringWorker, checkpoint_files
    from vad_core.pipeline.analysis import analyze

    clip = SAMPLE_CLIPS / "Test004.mp4"
    worker = ScoringWorker(device="cpu", threads=1)
    worker.load(checkpoint_files(analysis_stem))
    result = worker.score("Test004.mp4", clip.read_bytes())  # shipped as bytes, as to a cluster node
    assert result["ok"], result
    assert {"scores.csv", "segments.json", "error_maps.npz", "analysis.npz"} <= set(result["files"])
    for name, data in result["files"].items():
        (tmp_path / name).write_bytes(data)

    reference = analyze(clip, analysis_model)
    stored = pd.read_csv(tmp_path / "scores.csv")
    expected = reference.scores_frame()
    assert list(stored.columns) == list(expected.columns)
    np.testing.assert_allclose(stored["score"], expected["score"], rtol=1e-6)

    again = read_analysis(tmp_path, analysis_model)
    np.testing.assert_array_equal(again.score, reference.score)  # the raw errors travel exactly
    assert again.frame_count == reference.frame_count
    assert again.segments() == reference.segments()
    np.testing.assert_array_equal(again.inputs, reference.inputs)
    np.testing.assert_array_equal(again.recons, reference.recons)
    scale = 4 * reference.pixel_tau  # maps come back at error_maps.npz's 8-bit steps, cut at 4 pixel taus
    for kind, maps in reference.maps.items():
        expected = np.minimum(np.asarray(maps, dtype=np.float32), scale)
        np.testing.assert_allclose(again.maps[kind].astype(np.float32), expected, rtol=2e-3, atol=scale / 255 * 1.01)
    assert again.scene_check() == reference.scene_check()
    assert again.latent_trajectory() is not None

    bad = worker.score("empty.mp4", b"")
    assert bad == {"ok": False, "reason": "empty.mp4: the file is empty"}


def test_batch_refuses_no_inputs_with_exit_2(cli, tmp_path):
    (tmp_path / "nothing").mkdir()
    result = cli("batch", str(tmp_path / "nothing"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no videos found" in result.stderr
    assert "Traceback" not in result.stderr


# ---- the 12 Ped2 test clips, two broken files, a kill and a resume --------------------------------------------


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory, ped2):
    return ped2_batch(tmp_path_factory.getbasetemp(), ped2)


@pytest.mark.slow
@pytest.mark.dataset
def test_ped2_batch_killed_and_resumed(shared_run, ped2):
    run = shared_run
    first_done = {r["video"] for r in run.first["done"]}
    assert len(first_done) >= 2 and not run.first["complete"]

    summary = run.second
    assert summary["complete"]
    assert run.returncode == 2  # two videos failed as bad input; everything else is written
    done = {r["video"] for r in summary["done"]}
    skipped = {r["video"] for r in summary["skipped"]}
    clips = {p.name for p in (ped2 / "test").glob("Test*.mp4")}
    assert len(clips) == 12 and done | skipped == clips and not done & skipped
    assert first_done <= skipped  # finished before the kill: not recomputed
    for record in summary["skipped"]:  # their folders predate the rerun
        assert (run.out / record["folder"] / "result.json").stat().st_mtime < run.rerun_started
    failed = {f["video"]: f["reason"] for f in summary["failed"]}
    assert set(failed) == set(BROKEN)
    for name, reason in BROKEN.items():
        assert reason in failed[name] and failed[name].startswith(name)
        assert f"error: {failed[name]}" in run.stderr
    assert summary["model"]["name"] == "ped2-fused" and len(summary["model"]["hash"]) == 16
    for record in summary["done"] + summary["skipped"]:
        assert record["scene"]["familiar"] is True and "score" in record["scene"]
    assert summary["frames_per_second"] > 0 and summary["wall_seconds"] > 0
    assert not list((run.out / "videos").glob(".partial-*"))


@pytest.mark.slow
@pytest.mark.dataset
def test_ped2_batch_report_is_self_contained(shared_run):
    import re

    page = (shared_run.out / "report.html").read_text()
    ranked = re.findall(r"<tr><td>\d+</td><td>(Test\d+\.mp4)</td>", page)
    records = shared_run.second["done"] + shared_run.second["skipped"]
    by_peak = sorted(records, key=lambda r: (-r["peak"], -r["anomalous_seconds"], r["video"]))
    assert ranked == [r["video"] for r in by_peak]
    assert page.count("<svg") == 12 and page.count('src="data:image/png;base64,') >= 1
    assert not re.search(r"(src|href)=\"(?!data:)", page) and "<script" not in page


@pytest.mark.slow
@pytest.mark.dataset
def test_ped2_batch_tables_and_scores_equal_analyze(shared_run, ped2):
    from vad_core.model.checkpoint import load_checkpoint
    from vad_core.pipeline.analysis import analyze

    frames = pd.read_parquet(shared_run.out / "frames.parquet")
    segments = pd.read_parquet(shared_run.out / "segments.parquet")
    assert list(frames.columns) == ["video", "frame", "time_s", "error", "score", "anomalous"]
    assert {"video", "start", "end", "peak", "peak_frame"} <= set(segments.columns)
    model = load_checkpoint(device="cpu")  # the bundled default, as the batch ran without --checkpoint
    clips = sorted((ped2 / "test").glob("Test*.mp4"))
    assert sorted(frames["video"].unique()) == [c.name for c in clips]
    total = 0
    for clip in clips:
        expected = analyze(clip, model).scores_frame()
        got = frames[frames["video"] == clip.name].reset_index(drop=True)
        total += len(expected)
        assert len(got) == len(expected), clip.name
        np.testing.assert_array_equal(got["frame"], expected["frame"])
        np.testing.assert_allclose(got["error"], expected["error"], rtol=1e-6, err_msg=clip.name)
        np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-6, err_msg=clip.name)
        np.testing.assert_array_equal(got["anomalous"], expected["anomalous"])
        per_video = pd.read_csv(shared_run.out / "videos" / clip.name / "scores.csv")
        assert list(per_video.columns) == ["frame", "time_s", "error", "regularity", "score", "anomalous"]
        doc = json.loads((shared_run.out / "videos" / clip.name / "segments.json").read_text())
        rows = segments[(segments["video"] == clip.name) & (segments["kind"] == "anomaly")]
        assert [(s["start"], s["end"]) for s in doc["segments"]] == list(zip(rows["start"], rows["end"], strict=True))
    assert len(frames) == total


@pytest.mark.slow
@pytest.mark.dataset
def test_a_crashed_worker_is_restarted_and_its_video_retried(tmp_path, ped2):
    clips = tmp_path / "in"
    clips.mkdir()
    for name in ("Test001.mp4", "Test002.mp4"):
        (clips / name).symlink_to(ped2 / "test" / name)
    marker = tmp_path / "crashed"
    command = [sys.executable, "-m", "vad_core", "batch", str(clips), "--out", str(tmp_path / "out"), "--json"]
    process = subprocess.Popen(command, cwd=REPO, env=batch_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)  # fmt: skip
    try:
        _kill_a_scoring_replica(process, marker, time.monotonic() + 600)
        stdout, stderr = process.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever of the run's Ray is left, should the test fail
    assert marker.exists(), "the worker never crashed"
    assert process.returncode == 0, stderr
    summary = json.loads(stdout)
    assert sorted(r["video"] for r in summary["done"]) == ["Test001.mp4", "Test002.mp4"]


def _kill_a_scoring_replica(process: subprocess.Popen, marker: Path, deadline: float) -> None:
    """SIGKILL the first model replica of this batch run (its own session) seen scoring a video, as a crash would
    end it; note its pid in marker. Ray titles a replica's process `ray::ScoringWorker.score` while it scores."""
    while process.poll() is None and time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            try:
                title = (entry / "cmdline").read_bytes()
                session = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3])
            except (OSError, ValueError, IndexError):  # not a process, or one that just ended
                continue
            if session == process.pid and title.startswith(b"ray::ScoringWorker.score"):
                os.kill(int(entry.name), signal.SIGKILL)
                marker.write_text(entry.name)
                return
        time.sleep(0.05)


# ---- a real Ray cluster: a head and a worker node on 127.0.0.1 ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ray_status(ray: str, address: str, env: dict) -> str:
    result = subprocess.run([ray, "status", "--address", address], env=env, capture_output=True, text=True, timeout=60)
    return result.stdout


@pytest.fixture
def ray_cluster(tmp_path):
    """`ray start --head` plus a second node, one CPU each, on 127.0.0.1. Each runs with --block in a process
    group of its own and is stopped by a signal to that group: never `ray stop`, which would stop every Ray
    process of this user on the machine (other test runs' too)."""
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray, "the ray command is missing from the virtual environment"
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = batch_env() | {"RAY_AUTH_MODE": "token"}  # the head turns token auth on; a joining node must too
    common = ["--num-cpus", "1", "--disable-usage-stats", "--node-ip-address", "127.0.0.1", "--block"]
    head = [ray, "start", "--head", "--port", str(port), "--include-dashboard=false", *common]
    node = [ray, "start", "--address", address, *common]
    started: list[subprocess.Popen] = []

    def start(command: list[str], log: str) -> None:
        with (tmp_path / log).open("w") as out:
            started.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True))  # fmt: skip

    try:
        start(head, "head.log")
        deadline = time.monotonic() + 180
        while "1.0 CPU" not in _ray_status(ray, address, env):
            assert time.monotonic() < deadline, (tmp_path / "head.log").read_text()[-2000:]
            time.sleep(1)
        start(node, "node.log")
        while "2.0 CPU" not in _ray_status(ray, address, env):
            assert time.monotonic() < deadline, (tmp_path / "node.log").read_text()[-2000:]
            time.sleep(1)
        yield address
    finally:
        for process in started:  # each with every process it started (SIGTERM makes Ray wait 30 s for them)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in started:
            process.wait(timeout=60)


@pytest.mark.slow
def test_batch_joins_a_running_ray_cluster(ray_cluster, tmp_path, cli):
    out = tmp_path / "out"
    result = cli("batch", str(SAMPLE_CLIPS), "--out", str(out), "--address", ray_cluster, "--workers", "2", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert sorted(r["video"] for r in summary["done"]) == ["Test001.mp4", "Test004.mp4"]
    assert summary["address"] == ray_cluster and summary["workers"] == 2 and summary["cluster_cpus"] == 2
    assert len({r["node"] for r in summary["done"]}) == 2  # one replica on each node (one CPU each)
    assert (out / "frames.parquet").is_file() and (out / "videos" / "Test004.mp4" / "scores.csv").is_file()


# ---- 1 vs 2 workers -------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.dataset
def test_scaling_reports_frames_per_second_for_one_and_two_workers(ped2, tmp_path, cli):
    """The figure, not a timed assertion: on a shared machine the ratio moves with other work (the README and
    the closing note carry it, measured on a quiet machine: 1.88x)."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("Test001.mp4", "Test004.mp4"):
        (clips / name).symlink_to(ped2 / "test" / name)
    command = ["batch", str(clips), "--out", str(tmp_path / "scaling"), "--scaling", "1,2", "--rounds", "1"]
    result = cli(*command, "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    one, two = figures["scaling"]
    assert one["workers"] == 1 and two["workers"] == 2 and one["frames"] == two["frames"] == 180 + 180
    assert one["frames_per_second"] > 0 and figures["speedup"]["2"] == pytest.approx(
        two["frames_per_second"] / one["frames_per_second"], rel=1e-3
    )
    assert figures["machine"]


def test_output_ledger_keys_on_content_and_model(tmp_path):
    from vad_core.batch.inputs import Video
    from vad_core.batch.outputs import BatchOutput

    scores = "frame,time_s,error,regularity,score,anomalous\n0,0.0,1.0,1.0,0.5,0\n1,0.1,3.0,0.0,1.5,1\n"
    segments = {"fps": 10.0, "segments": [{"kind": "anomaly", "start": 1, "end": 1, "frames": 1, "peak": 1.5,
                                           "peak_frame": 1, "start_s": 0.1, "end_s": 0.2}], "health": []}  # fmt: skip
    result = {"ok": True, "seconds": 0.1, "files": {"scores.csv": scores.encode(),
              "segments.json": json.dumps(segments).encode()}}  # fmt: skip
    video = Video("cam/a.mp4", tmp_path / "cam" / "a.mp4")
    out = BatchOutput(tmp_path / "out", "m", "hash1", "ckpt")
    record = out.store(video, "digest1", result)
    assert (record.peak, record.peak_frame, record.anomalous_seconds, record.frames) == (1.5, 1, 0.1, 2)
    (tmp_path / "out" / "videos" / ".partial-stale-x").mkdir()  # a run killed while writing
    again = BatchOutput(tmp_path / "out", "m", "hash1", "ckpt")
    assert not list((tmp_path / "out" / "videos").glob(".partial-*"))
    assert again.finished(video, "digest1") == record
    assert again.finished(video, "digest2") is None  # other bytes under the same name
    assert BatchOutput(tmp_path / "out", "m", "hash2", "ckpt").finished(video, "digest1") is None  # other model
    again.skip(record)
    again.write_tables()
    summary = again.write_summary(complete=True)
    assert summary["skipped"][0]["video"] == "cam/a.mp4" and summary["done"] == []
    assert pd.read_parquet(tmp_path / "out" / "frames.parquet")["video"].tolist() == ["cam/a.mp4"] * 2
    assert pd.read_parquet(tmp_path / "out" / "segments.parquet")[["start", "end", "peak"]].values.tolist() == [
        [1, 1, 1.5]
    ]
