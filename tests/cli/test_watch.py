"""`python -m vad_core watch`: a real RTSP stream is scored as it plays (the alert comes before the stream ends,
and c(t) equals analyze's), a growing file is followed, SIGTERM stops cleanly with the outputs written, the
alert command gets the segment on stdin, and a source that cannot be opened is exit 2 with one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers.live import RtspServer, write_growing_ts
from tests.helpers.paths import REPO
from vad_core.io.video import stream_raw_gray


@pytest.fixture(scope="module")
def clip(samples) -> Path:
    return samples / "test" / "Test004.mp4"  # labelled anomalous from frame 30 (0-based) to its end


def _watch(*args: str) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("VAD_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "vad_core", "watch", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Lines:
    """A watch process's stdout lines as JSON, each with the time it arrived, read in a thread."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process, self.items = process, []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.items.append((time.monotonic(), json.loads(line)))

    def wait_for(self, predicate, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, item in list(self.items):
                if predicate(item):
                    return item
            if self.process.poll() is not None and not self.thread.is_alive():
                break
            time.sleep(0.05)
        pytest.fail(f"no such line within {timeout} s; stderr: {self.process.stderr.read()[-800:]}")

    def finish(self, timeout: float) -> tuple[int, str]:
        code = self.process.wait(timeout)
        self.thread.join(5)
        return code, self.process.stderr.read()

    def of(self, kind: str) -> list[tuple[float, dict]]:
        return [(at, item) for at, item in self.items if item["event"] == kind]


def _same_scores(live_csv: Path, offline_csv: Path, reach: int = 15) -> int:
    """Compare c(t) where the live run lost nothing near a frame (its window and the smoothing's reach)."""
    live, offline = pd.read_csv(live_csv), pd.read_csv(offline_csv).set_index("frame")
    frames = live["frame"].to_numpy()
    gaps = np.flatnonzero(np.diff(frames) != 1)
    near_gap = np.zeros(len(frames), bool)
    for gap in gaps:
        near_gap[max(0, gap - reach) : gap + reach + 2] = True
    kept = live[~near_gap]
    difference = np.abs(kept["score"].to_numpy() - offline.loc[kept["frame"], "score"].to_numpy())
    assert difference.max(initial=0.0) < 1e-3
    return len(kept)


@pytest.mark.slow
def test_watch_scores_an_rtsp_stream_as_it_plays_and_matches_analyze(clip, tmp_path, cli):
    with RtspServer(clip) as server:
        lines = Lines(_watch(server.url, "--json-lines", "--out", str(tmp_path / "live")))
        code, stderr = lines.finish(timeout=120)
    assert code == 0, stderr
    assert len(stderr.strip().splitlines()) == 1 and "180 frames received" in stderr
    (summary_at, summary), *_ = lines.of("summary")
    # the cart enters at about frame 30; the fused default's held motion opens a few frames before it
    opened = [(at, item) for at, item in lines.of("open") if 20 <= item["source_start"] < 180]
    assert opened, f"no segment opened over the labelled anomaly: {lines.items}"
    open_at, event = opened[0]
    # the stream plays 18 s; the alert must come while it still plays, not when it has ended
    assert open_at < summary_at - 3.0, f"opened {summary_at - open_at:.1f} s before the end"
    assert summary["received"] == 180 and summary["source_dropped"] == 0
    closed = [item for _, item in lines.of("close") if item["start"] == event["start"]]
    assert closed and closed[0]["end"] >= event["start"]
    done = cli("analyze", str(clip), "--out", str(tmp_path / "offline"))
    assert done.returncode == 0, done.stderr
    compared = _same_scores(tmp_path / "live" / "scores.csv", tmp_path / "offline" / "scores.csv")
    assert compared == 180 or (summary["dropped"] > 0 and compared > 0)
    document = json.loads((tmp_path / "live" / "segments.json").read_text())
    assert document["frames"] == summary["scored"] and document["segments"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("rtsp://127.0.0.1:9/clip", "rtsp://127.0.0.1:9/clip: cannot open the stream"),
        ("gopher://127.0.0.1/clip", "not a stream this reads"),
        ("no_such_clip.mp4", "no such file"),
    ],
)
def test_a_source_that_cannot_be_opened_is_exit_2_with_one_line(cli, tmp_path, source, message):
    done = cli("watch", source, "--open-timeout", "3", "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


@pytest.mark.slow
def test_sigterm_mid_stream_stops_cleanly_and_writes_the_outputs(clip, tmp_path):
    out = tmp_path / "live"
    lines = Lines(_watch(str(clip), "--realtime", "--frames", "--json-lines", "--out", str(out)))
    lines.wait_for(lambda item: item["event"] == "frame" and item["frame"] >= 20, timeout=60)
    lines.process.send_signal(signal.SIGTERM)
    code, stderr = lines.finish(timeout=30)
    assert code == 0, stderr
    (_, summary), *_ = lines.of("summary")
    assert summary["state"] == "stopped" and 20 < summary["received"] < 180
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == summary["scored"] and (out / "segments.json").is_file()
    printed = [item["frame"] for _, item in lines.of("frame")]
    assert printed == scores["frame"].tolist()  # every scored frame printed once, in order, with its final score
    assert np.allclose([item["score"] for _, item in lines.of("frame")], scores["score"], atol=1e-6)


@pytest.mark.slow
def test_the_alert_command_gets_each_opened_segment_as_json_on_stdin(clip, tmp_path):
    alerts = tmp_path / "alerts.jsonl"
    command = f"{sys.executable} -c \"import sys; open(sys.argv[1], 'a').write(sys.stdin.read())\" {alerts}"
    lines = Lines(_watch(str(clip), "--json-lines", "--alert-cmd", command, "--out", str(tmp_path / "out")))
    code, stderr = lines.finish(timeout=120)
    assert code == 0, stderr
    received = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert received == [item for _, item in lines.of("open")] and received
    assert received[0]["event"] == "open" and received[0]["end"] is None


@pytest.mark.slow
def test_watch_follows_a_growing_mpegts_file_until_it_stops_growing(clip, tmp_path):
    path = tmp_path / "camera.ts"
    writer = write_growing_ts(path, list(stream_raw_gray(clip)), fps=10, pace=40)  # 4.5 s of writing
    out = tmp_path / "live"
    lines = Lines(_watch(str(path), "--follow", "--idle-timeout", "2", "--json-lines", "--out", str(out)))
    code, stderr = lines.finish(timeout=120)
    writer.join()
    assert code == 0, stderr
    (_, summary), *_ = lines.of("summary")
    assert summary["received"] == 180 and summary["source_dropped"] == 0
    assert len(pd.read_csv(out / "scores.csv")) == summary["scored"] == 180 - summary["dropped"]


@pytest.mark.slow
def test_bench_reports_the_live_figure(cli):
    done = cli("bench", "--live-only", "--live-rates", "20", "--live-seconds", "1", "--json")
    assert done.returncode == 0, done.stderr
    live = json.loads(done.stdout)["live"]
    row = live["rates"]["20"]
    assert row["received"] == 20 and row["scored"] + row["dropped"] == 20 and row["delay_median_s"] > 0
    assert live["highest_rate_in_full"] in (0.0, 20.0) and "goal" not in live  # the goal is at 25 fps


@pytest.mark.slow
def test_watch_isolated_in_a_child_scores_a_file_as_analyze(clip, tmp_path, cli):
    done = cli("watch", str(clip), "--isolate", "--json-lines", "--out", str(tmp_path / "live"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["scored"] == 180  # a file in a child waits for the engine too
    assert cli("analyze", str(clip), "--out", str(tmp_path / "offline")).returncode == 0
    assert _same_scores(tmp_path / "live" / "scores.csv", tmp_path / "offline" / "scores.csv") == 180


def test_a_source_shorter_than_one_window_is_exit_2_with_one_line(cli, tmp_path):
    from vad_core.io.video import write_h264

    short = write_h264(tmp_path / "short.mp4", [np.zeros((64, 64, 3), np.uint8)] * 5, fps=10)
    done = cli("watch", str(short), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "fewer than one window" in done.stderr or "at least 10" in done.stderr


def _looped(clip: Path, path: Path, frames: int, fps: int = 10) -> Path:
    """clip's frames over and over, `frames` of them at fps, as an MPEG-TS written with PyAV: a long stream."""
    import av

    gray = list(stream_raw_gray(clip))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = gray[0].shape
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            image = np.repeat(gray[i % len(gray)][..., None], 3, axis=2)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


@pytest.mark.slow
def test_watch_with_segment_minutes_keeps_bounded_disk(clip, tmp_path):
    """5 minutes of stream (600 frames at 2 fps: the parts follow the stream's clock, and fewer frames keep the test
    short) cut into 1-minute parts, 2 kept: the folder holds 2 parts and the part in progress at the end, whatever
    the length of the watch."""
    stream = _looped(clip, tmp_path / "looped.ts", frames=600, fps=2)
    out = tmp_path / "watch"
    options = ("--json-lines", "--out", str(out), "--segment-minutes", "1", "--keep-segments", "2")
    lines = Lines(_watch(str(stream), *options))
    code, stderr = lines.finish(timeout=600)
    assert code == 0, stderr
    (_, summary), *_ = lines.of("summary")
    assert (summary["received"], summary["scored"], summary["parts_written"]) == (600, 600, 4), summary
    parts = sorted(p.name for p in out.glob("part-*"))
    assert parts == ["part-000003", "part-000004"], parts
    part_sizes = [_size(out / name) for name in parts]
    assert _size(out) <= 3.1 * max(part_sizes), (_size(out), part_sizes)  # two parts and the last, never five
    for name in parts:
        scores = pd.read_csv(out / name / "scores.csv")
        assert len(scores) == 120 and scores["frame"].diff().dropna().eq(1).all()
    last = pd.read_csv(out / "scores.csv")  # the contract: the part in progress when it stopped
    assert len(last) == 120 and last["frame"].iloc[0] == 480
    assert json.loads((out / "segments.json").read_text())["frames"] == 120
