"""Reading clips (files and frame folders, gray and colour) and writing browser-playable H.264."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vad_core.errors import BadInput
from vad_core.io.video import (
    DEFAULT_FPS,
    list_clips,
    probe,
    read_clip,
    resize_scale,
    stream_gray,
    stream_raw_gray,
    to_gray,
    write_h264,
)


@pytest.mark.parametrize(("split", "clip"), [("test", "Test004"), ("test", "Test001"), ("train", "Train001")])
def test_probe_and_stream_real_sample(samples, sample_labels, split, clip):
    path = samples / split / f"{clip}.mp4"
    expected = sample_labels[split][clip]["num_frames"]
    info = probe(path)
    assert (info.frame_count, info.fps) == (expected, sample_labels["fps"])
    assert (info.height, info.width) == (sample_labels["frame_height"], sample_labels["frame_width"]) == (240, 360)
    n = 0
    for frame in stream_raw_gray(path):
        assert frame.shape == (240, 360) and frame.dtype == np.uint8
        n += 1
    assert n == expected
    frames = read_clip(path, 35)
    assert frames.shape == (expected, 35, 35) and frames.dtype == np.float32
    assert 0.0 <= frames.min() < frames.max() <= 1.0
    assert frames.std(axis=0).mean() > 0.001  # the scene moves: frames differ


def test_stream_gray_matches_resize_of_raw(samples):
    path = samples / "train" / "Train002.mp4"
    raw = next(iter(stream_raw_gray(path)))
    first = next(iter(stream_gray(path, 43)))
    assert np.array_equal(first, resize_scale(raw, 43))
    # Down-scaling by area averaging keeps the mean brightness.
    assert first.mean() == pytest.approx(raw.mean() / 255.0, abs=0.01)


def test_frame_folder(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (30, 40), dtype=np.uint8) for _ in range(12)]
    for i, frame in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), frame)
    (tmp_path / "notes.txt").write_text("not a frame")
    info = probe(tmp_path)
    assert (info.frame_count, info.fps, info.width, info.height) == (12, DEFAULT_FPS, 40, 30)
    read = list(stream_raw_gray(tmp_path))
    assert len(read) == 12
    assert all(np.array_equal(a, b) for a, b in zip(read, frames, strict=True))  # PNG is lossless, order by name


def test_colour_frame_folder_becomes_gray(tmp_path):
    bgr = np.zeros((16, 16, 3), np.uint8)
    bgr[..., 2] = 255  # pure red
    cv2.imwrite(str(tmp_path / "a.png"), bgr)
    (gray,) = list(stream_raw_gray(tmp_path))
    assert gray.shape == (16, 16)
    assert abs(int(gray.mean()) - 76) <= 1  # luma of red: 0.299 * 255


def test_unreadable_image_in_folder(tmp_path):
    (tmp_path / "000.png").write_bytes(b"definitely not a png")
    with pytest.raises(BadInput, match="unreadable image"):
        probe(tmp_path)


def test_to_gray_handles_gray_bgr_and_bgra():
    gray = np.full((4, 4), 9, np.uint8)
    assert to_gray(gray) is gray
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 1] = 255
    assert to_gray(bgr).shape == (4, 4) and abs(int(to_gray(bgr)[0, 0]) - 150) <= 1
    bgra = np.dstack([bgr, np.full((4, 4), 255, np.uint8)])
    assert np.array_equal(to_gray(bgra), to_gray(bgr))


def test_colour_clip_written_with_h264_reads_as_luma(tmp_path):
    colours = {(255, 0, 0): 76, (0, 255, 0): 150, (0, 0, 255): 29, (255, 255, 255): 255, (0, 0, 0): 0}
    frames = [np.tile(np.array(rgb, np.uint8), (49, 67, 1)) for rgb in colours for _ in range(3)]
    path = write_h264(tmp_path / "colour.mp4", frames, fps=10)
    info = probe(path)
    assert (info.frame_count, info.fps) == (15, 10.0)
    assert (info.width, info.height) == (66, 48)  # odd sizes are cropped to even for yuv420p
    means = [float(f.mean()) for f in stream_raw_gray(path)]
    expected = [luma for luma in colours.values() for _ in range(3)]
    assert np.allclose(means, expected, atol=4)


def test_write_h264_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    base = cv2.resize(rng.integers(0, 256, (12, 16), dtype=np.uint8), (64, 48), interpolation=cv2.INTER_CUBIC)
    frames = [np.dstack([np.roll(base, 2 * i, axis=1)] * 3) for i in range(20)]
    path = write_h264(tmp_path / "out.mp4", iter(frames), fps=12.5)
    info = probe(path)
    assert (info.frame_count, info.width, info.height) == (20, 64, 48)
    assert info.fps == pytest.approx(12, abs=1)  # libx264 takes an integer rate
    decoded = list(stream_raw_gray(path))
    assert len(decoded) == 20
    err = np.mean([np.abs(d.astype(int) - f[..., 0].astype(int)).mean() for d, f in zip(decoded, frames, strict=True)])
    assert err < 6  # lossy, but the same picture
    import av

    with av.open(str(path)) as container:  # H.264 yuv420p in MP4: what browsers play
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")


def test_write_h264_without_frames(tmp_path):
    with pytest.raises(BadInput, match="no frames"):
        write_h264(tmp_path / "empty.mp4", [], fps=10)


@pytest.mark.parametrize("size", [35, 131, 227, 400])
def test_resize_scale_ranges(size):
    gray = np.zeros((240, 360), np.uint8)
    gray[:, 180:] = 255
    out = resize_scale(gray, size)
    assert out.shape == (size, size) and out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0
    assert out.mean() == pytest.approx(0.5, abs=0.02)


def test_bad_inputs(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        probe(tmp_path / "missing.mp4")
    with pytest.raises(BadInput, match="no frame images"):
        probe(tmp_path)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(BadInput, match="the file is empty"):
        probe(tmp_path / "empty.mp4")
    (tmp_path / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(BadInput):
        probe(tmp_path / "noise.mp4")
    with pytest.raises(BadInput, match="no such file"):
        list(stream_raw_gray(tmp_path / "missing.mp4"))
    (tmp_path / "frame%03d.mp4").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))  # a pattern name, image bytes
    with pytest.raises(BadInput, match=r"frame%03d\.mp4: a PNG image, not a video"):
        probe(tmp_path / "frame%03d.mp4")


def test_list_clips(samples, tmp_path):
    assert [p.name for p in list_clips(samples / "train")] == ["Train001.mp4", "Train002.mp4"]
    (tmp_path / "b.mp4").write_bytes(b"")
    frames = tmp_path / "a_frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0.png"), np.zeros((4, 4), np.uint8))
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "readme.txt").write_text("x")
    assert [p.name for p in list_clips(tmp_path)] == ["a_frames", "b.mp4"]
    with pytest.raises(BadInput, match="not a folder"):
        list_clips(tmp_path / "nope")
    with pytest.raises(BadInput, match="no video files"):
        list_clips(tmp_path / "empty_dir")
