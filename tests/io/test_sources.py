"""Live sources: a file gives analyze's frames (paced or not), a growing file is read while it is written,
gaps in a stream's timestamps are counted and never padded, an RTSP stream that stalls reconnects a bounded
number of times and says so, and a source in a child costs one sentence when its FFmpeg crashes."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time

import av
import numpy as np
import pytest

from tests.helpers.live import RtspServer, write_growing_ts
from vad_core import BadInput
from vad_core.io.sandbox import SandboxLimits
from vad_core.io.sources import ChildSource, FileSource, PushSource, SourceSpec, open_source, redact
from vad_core.io.video import stream_raw_gray


@pytest.fixture(scope="module")
def clip(samples):
    return samples / "test" / "Test004.mp4"


@pytest.fixture(scope="module")
def clip_frames(clip):
    return list(stream_raw_gray(clip))


def test_a_file_gives_analyzes_frames_as_fast_as_it_decodes_or_paced(clip, clip_frames):
    source = open_source(SourceSpec.parse(str(clip)))
    assert isinstance(source, FileSource) and source.fps == 10 and source.lossless
    frames = list(source.frames())
    assert [f.index for f in frames] == list(range(180)) and frames[-1].time_s == pytest.approx(17.9)
    assert all(np.array_equal(f.image, g) for f, g in zip(frames, clip_frames, strict=True))
    paced = open_source(SourceSpec.parse(str(clip), realtime=True))
    started, count = time.monotonic(), 0
    for _ in paced.frames():
        count += 1
        if count == 8:
            paced.close()
    assert count == 8 and time.monotonic() - started >= 0.65  # frame 7 is due at 0.7 s


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rtsp://user:secret@127.0.0.1:9/clip", "rtsp://127.0.0.1:9/clip: cannot open the stream"),
        ("ftp://127.0.0.1/clip.mp4", "not a stream this reads"),
        ("/nonexistent/clip.mp4", "no such file"),
        ("/dev/video97", "cannot open the capture device"),
    ],
)
def test_a_source_that_cannot_be_opened_is_one_bad_input_line(text, message):
    with pytest.raises(BadInput, match=message) as raised:
        open_source(SourceSpec.parse(text, open_timeout=3))
    assert "\n" not in str(raised.value) and "secret" not in str(raised.value)


def test_a_url_is_printed_without_its_password():
    assert redact("rtsp://admin:pw@cam.local:554/s?x=1") == "rtsp://cam.local:554/s?x=1"


def test_a_growing_mpegts_file_is_read_while_it_is_written(tmp_path, clip_frames):
    path = tmp_path / "growing.ts"
    frames = clip_frames[:60]
    writer = write_growing_ts(path, frames, fps=10, pace=30)  # 2 s of writing
    source = open_source(SourceSpec.parse(str(path), follow=True, idle_timeout=1.5))
    got, first_at = [], None
    for frame in source.frames():
        first_at = first_at or time.monotonic()
        got.append(frame)
    writer.join()
    finished = time.monotonic()
    assert len(got) == 60 and [f.index for f in got] == list(range(60)) and source.stats.dropped == 0
    assert first_at < finished - 2.0, "the first frame came only after the file was complete"
    assert np.abs(got[30].image.astype(int) - frames[30]).mean() < 4  # the same pictures, through H.264


def _ts_with_a_gap(path, frames, missing: range) -> None:
    """An MPEG-TS clip whose timestamps skip the frames in `missing` (as a stream that lost them)."""
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"preset": "ultrafast", "bf": "0"}
        for pts, gray in enumerate(frames):
            if pts in missing:
                continue
            frame = av.VideoFrame.from_ndarray(gray, format="gray").reformat(format="yuv420p")
            frame.pts = pts
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_frames_missing_from_a_streams_timestamps_are_counted_never_padded(tmp_path, clip_frames):
    path = tmp_path / "gap.ts"
    _ts_with_a_gap(path, clip_frames[:40], missing=range(20, 25))
    source = open_source(SourceSpec("tail", str(path), idle_timeout=0.2))
    frames = list(source.frames())
    assert [f.index for f in frames] == list(range(35))
    assert source.stats.dropped == 5 and source.stats.received == 35
    assert frames[20].time_s == pytest.approx(2.5)


def test_a_source_in_a_child_gives_the_same_frames_and_a_crash_costs_one_sentence(clip, clip_frames):
    source = open_source(SourceSpec.parse(str(clip)), sandbox=SandboxLimits(stall_seconds=5))
    assert isinstance(source, ChildSource) and (source.name, source.fps) == ("Test004.mp4", 10.0)
    frames = list(source.frames())
    assert len(frames) == 180 and all(np.array_equal(f.image, g) for f, g in zip(frames, clip_frames, strict=True))
    crashing = open_source(SourceSpec.parse(str(clip), realtime=True), sandbox=SandboxLimits(stall_seconds=5))
    with pytest.raises(BadInput, match="crashed"):
        for frame in crashing.frames():
            if frame.index == 3:
                os.kill(crashing._child.pid, signal.SIGSEGV)
    stopped = open_source(SourceSpec.parse(str(clip), realtime=True), sandbox=SandboxLimits(stall_seconds=5))
    count = 0
    for _ in stopped.frames():  # close() from the consumer's side: a clean end, no error
        count += 1
        if count == 2:
            stopped.close()
    assert count <= 3 and stopped._child.poll() is not None


def test_a_child_that_cannot_open_its_source_says_why_in_one_line():
    with pytest.raises(BadInput, match=r"^rtsp://127.0.0.1:9/clip: cannot open the stream"):
        open_source(SourceSpec.parse("rtsp://127.0.0.1:9/clip", open_timeout=3), sandbox=SandboxLimits())


def test_pushed_frames_are_dropped_and_counted_when_the_reader_is_behind():
    source = PushSource("webcam", fps=30, buffer=4)
    accepted = [source.push(np.full((8, 8, 3), i, np.uint8)) for i in range(6)]
    assert accepted == [True] * 4 + [False] * 2 and source.stats.dropped == 2
    source.close()
    frames = list(source.frames())
    assert [f.index for f in frames] == [0, 1, 2, 3] and frames[3].image.shape == (8, 8)


@pytest.mark.slow
def test_an_rtsp_stream_that_stalls_reconnects_then_gives_up_after_its_retries(clip):
    with RtspServer(clip) as server:
        spec = SourceSpec.parse(server.url, open_timeout=3, read_timeout=1.5, retries=2, backoff=0.2)
        source = open_source(spec)
        frames, after = [], 0  # frames since the reconnect
        for frame in source.frames():
            frames.append(frame)
            if len(frames) == 30:
                server.pause()  # once the buffered frames are read, reads time out: reconnect
                threading.Timer(4.5, server.resume).start()  # back while the reconnect waits
            after += source.stats.reconnects > 0
            if after == 10 or len(frames) == 170:
                source.close()
        assert source.stats.reconnects == 1 and source.stats.notice.startswith("reconnecting (1 of 2)")
        assert after == 10, "no frame came after the reconnect"
        assert [f.index for f in frames] == list(range(len(frames)))
        assert all(b.time_s > a.time_s for a, b in itertools.pairwise(frames))
        assert source.stats.dropped > 0  # the time it was away

        source = open_source(spec)
        with pytest.raises(BadInput, match="the stream failed after 2 reconnects"):
            for frame in source.frames():
                if frame.index == 0:
                    server.pause()
        server.resume()


def test_a_source_shorter_than_a_window_ends_the_run_with_one_sentence_not_a_hang(analysis_model):
    from vad_core.pipeline.live import LiveRun

    for count in (0, 5):
        source = PushSource("short", fps=10)
        for _ in range(count):
            source.push(np.zeros((24, 36), np.uint8))
        source.close()
        run = LiveRun(source, analysis_model).start()
        with pytest.raises(BadInput, match="at least 10"):
            run.wait(timeout=30)
        assert not run.running


@pytest.fixture
def http_folder(tmp_path):
    """tmp_path served over HTTP on 127.0.0.1 (quietly); yields the base URL."""
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_hls_playlist_over_http_gives_every_frame_and_may_not_reach_local_files(tmp_path, http_folder, clip_frames):
    options = {"hls_time": "2", "hls_list_size": "0", "hls_playlist_type": "vod"}
    with av.open(str(tmp_path / "clip.m3u8"), "w", format="hls", options=options) as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 360, 240, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "10"}
        for gray in clip_frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(gray, format="gray").reformat(format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    source = open_source(f"{http_folder}/clip.m3u8")
    frames = list(source.frames())
    assert (source.fps, len(frames), source.stats.dropped) == (10.0, 180, 0)
    assert np.abs(frames[90].image.astype(int) - clip_frames[90]).mean() < 4
    segment = next(tmp_path.glob("clip0.ts"))
    (tmp_path / "local.m3u8").write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nfile://{segment}\n#EXT-X-ENDLIST\n"
    )
    with pytest.raises(BadInput):  # a network playlist may not reach local files (FFmpeg and our whitelist agree)
        list(open_source(f"{http_folder}/local.m3u8", sandbox=None).frames())
