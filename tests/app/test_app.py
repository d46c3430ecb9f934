"""The Streamlit app without a browser (streamlit.testing AppTest): start, analyze, threshold, upload, errors."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers.apptest import TIMEOUT, intro_kind, metric, player_args, start_app
from tests.helpers.paths import APP, REPO, SAMPLES


@pytest.fixture
def app(analysis_stem, monkeypatch) -> AppTest:
    app = start_app(analysis_stem, monkeypatch)
    assert not app.exception, app.exception
    return app


def test_app_opens_with_the_default_sample_analyzed(app):
    assert app.title[0].value == "Video anomaly detection"
    assert not app.error
    assert intro_kind(app) == "autoencoder"
    assert metric(app, "Frames") == "180"
    assert metric(app, "Frame AUC") != "–"  # the bundled sample's labels are known
    args = player_args(app)
    assert args["media"].startswith("media/") and len(args["score"]) == 180
    assert args["truth"] is not None and sum(args["truth"]) == 150  # Test004: anomalous from frame 31 (1-based)
    assert any("Test004.mp4" in c.value for c in app.caption)


def test_threshold_slider_changes_the_segment_count(app):
    slider = app.slider(key="score_threshold")
    assert slider.value == 1.0  # the calibration threshold
    slider.set_value(0.0).run()
    assert metric(app, "Anomalous segments") == "1"  # every frame is above 0
    app.slider(key="score_threshold").set_value(app.slider(key="score_threshold").max).run()
    assert metric(app, "Anomalous segments") == "0"
    assert not app.exception


def test_threshold_on_regularity(app):
    app.radio(key="curve").set_value("regularity").run()
    slider = app.slider(key="regularity_threshold")
    slider.set_value(0.0).run()
    assert metric(app, "Anomalous segments") == "0"  # s(t) is never below 0
    app.slider(key="regularity_threshold").set_value(1.0).run()
    assert metric(app, "Anomalous segments") != "0"
    assert player_args(app)["figure"]["layout"]["yaxis"]["title"]["text"] == "s(t)"


def test_display_controls_reach_the_player(app):
    app.radio(key="view_mode").set_value("side").run()
    app.selectbox(key="colormap").set_value("turbo").run()
    app.toggle(key="boxes").set_value(False).run()
    args = player_args(app)
    assert (args["mode"], args["boxes"]) == ("side", False)
    assert len(args["lut"]) == 256 * 4


@pytest.mark.slow
def test_upload_of_a_ped2_test_clip(app):
    data = (SAMPLES / "test" / "Test001.mp4").read_bytes()
    app.file_uploader(key="upload").set_value(("my clip.mp4", data, "video/mp4")).run()
    assert not app.exception and not app.error
    assert metric(app, "Frames") == "180"
    assert metric(app, "Frame AUC") != "–"  # recognised as the bundled Test001 by its content
    assert any("my clip.mp4" in c.value and "Test001" in c.value for c in app.caption)


@pytest.mark.slow
def test_a_link_can_open_another_sample(analysis_stem, monkeypatch):
    monkeypatch.setenv("VAD_CHECKPOINT", str(analysis_stem))
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    app.query_params["sample"] = "Test001.mp4"
    app.run()
    assert app.selectbox(key="sample").value == "Test001.mp4"
    assert sum(player_args(app)["truth"]) == 120  # Test001: anomalous from frame 61 (1-based)


def test_an_upload_that_is_not_a_video_shows_an_error(app):
    app.file_uploader(key="upload").set_value(("clip.mp4", b"not a video at all", "video/mp4")).run()
    assert not app.exception
    assert "cannot be analyzed" in app.error[0].value


def test_uploaded_labels_are_used_and_bad_ones_explained(app):
    labels = "label\n" + "\n".join(["0"] * 90 + ["1"] * 90) + "\n"
    app.file_uploader(key="labels_upload").set_value(("gt.csv", labels.encode(), "text/csv")).run()
    assert sum(player_args(app)["truth"]) == 90
    app.file_uploader(key="labels_upload").set_value(("gt.csv", b"label\n0\n1\n", "text/csv")).run()
    assert "cover 2 frames but the clip has 180" in app.sidebar.error[0].value
    assert sum(player_args(app)["truth"]) == 150  # back to the sample's own labels


def test_a_missing_model_is_a_clear_error(monkeypatch, tmp_path):
    app = start_app(tmp_path / "nothing", monkeypatch)
    assert not app.exception
    assert "No usable model" in app.error[0].value


def test_the_clip_store_evicts_the_oldest_clip_and_its_player_media():
    from app.components.player import SERVE_DIR
    from app.state import Clip, ClipStore

    store = ClipStore(budget_bytes=2)  # each clip holds only its 2-byte media file
    clips = []
    for key in ("aa", "bb"):
        (SERVE_DIR / "media" / f"{key}.json").write_text("{}")
        clips.append(
            Clip(key, f"{key}.mp4", key, analysis=None, frames=None, media=f"media/{key}.json", selection=None)
        )
        store.put(clips[-1])
    assert store.get("aa") is None and store.get("bb") is clips[1]
    assert not (SERVE_DIR / "media" / "aa.json").exists() and (SERVE_DIR / "media" / "bb.json").exists()


# The bad-input corpus (tests/corpus.py) as uploads: each gets the CLI's own message in an st.error.
REJECTED_UPLOADS = ["empty file", "random bytes", "text file", "PNG image", "fewer frames than T", "audio only"]


def cli_message(path: Path, stem: Path) -> str:
    """The one line `python -m vad_core analyze` prints for a file, without its "error: " prefix."""
    import contextlib
    import io

    from vad_core.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["analyze", str(path), "--checkpoint", str(stem), "--out", str(path.parent / "out")]) == 2
    return err.getvalue().strip().removeprefix("error: ")


def upload_dir_is_empty(folder: Path) -> bool:
    return not any(folder.iterdir())


@pytest.mark.slow
def test_bad_uploads_show_the_cli_message_and_the_app_keeps_working(analysis_stem, corpus, monkeypatch, tmp_path):
    monkeypatch.setenv("VAD_UPLOAD_DIR", str(tmp_path))
    app = start_app(analysis_stem, monkeypatch)
    renamed = tmp_path.parent / "renamed"
    renamed.mkdir()
    for name in REJECTED_UPLOADS:
        case = corpus[name]
        # The uploader itself refuses other extensions (.png, .m4a); a hostile user renames the file to .mp4.
        upload = renamed / (case.path.stem + ".mp4")
        upload.write_bytes(case.path.read_bytes())
        app.file_uploader(key="upload").set_value((upload.name, upload.read_bytes(), "video/mp4")).run()
        assert not app.exception, (name, app.exception)
        expected = cli_message(upload, analysis_stem)
        assert [e.value for e in app.error] == [f"**This video cannot be analyzed.** {expected}"], name
        assert upload_dir_is_empty(tmp_path), f"{name}: upload left behind after a failed analysis"
    truncated = corpus["truncated at half"]  # analyzed as far as it decodes, with a warning
    app.file_uploader(key="upload").set_value(("truncated.mp4", truncated.path.read_bytes(), "video/mp4")).run()
    assert not app.exception and not app.error
    assert any("decoded" in w.value and "unreadable" in w.value for w in app.warning)
    assert 10 <= int(metric(app, "Frames")) < 180
    portrait = corpus["portrait"]  # and the next good upload analyzes normally
    app.file_uploader(key="upload").set_value(("portrait.mp4", portrait.path.read_bytes(), "video/mp4")).run()
    assert not app.exception and not app.error
    assert all("does not know this scene" in w.value for w in app.main.warning)  # a synthetic clip is not Ped2's scene
    assert metric(app, "Frames") == str(portrait.frames)
    assert upload_dir_is_empty(tmp_path)


@pytest.mark.slow
def test_a_clip_over_the_frame_limit_gets_a_stride_instead_of_failing(analysis_stem, monkeypatch):
    monkeypatch.setenv("VAD_MAX_FRAMES", "100")
    app = start_app(analysis_stem, monkeypatch)  # the default sample, Test004, has 180 frames
    assert not app.exception and not app.error
    assert any("over the limit of 100 frames" in w.value for w in app.warning)

    def number(label: str):
        return next(n for n in app.number_input if n.label == label)

    assert number("Every k-th frame").value == 2
    assert metric(app, "Frames") == "90"
    assert sum(player_args(app)["truth"]) == 75  # the sample's labels, every other frame
    number("Every k-th frame").set_value(1).run()  # all 180 frames: over the limit again, a clear error
    assert not app.exception and "over the limit of 100 frames" in app.error[0].value
    number("First frame").set_value(100).run()  # frames 100-179: fits
    assert not app.exception and not app.error
    assert metric(app, "Frames") == "80"


def test_upload_names_never_become_paths(tmp_path, monkeypatch):
    from app.state import ClipSource, safe_upload_name

    assert safe_upload_name("../../etc/passwd.mp4") == "passwd.mp4"
    assert safe_upload_name("..\\..\\boot.ini") == "boot.ini"
    assert safe_upload_name("frame%03d.mp4") == "frame_03d.mp4"  # no FFmpeg pattern
    assert safe_upload_name("..") == safe_upload_name("") == "upload.mp4"
    assert safe_upload_name("my clip (2).mp4") == "my clip (2).mp4"
    monkeypatch.setenv("VAD_UPLOAD_DIR", str(tmp_path))
    source = ClipSource.upload("../../../escape.mp4", b"data")
    with source.as_file() as path:
        assert path.parent.parent == tmp_path and path.name == "escape.mp4" and path.read_bytes() == b"data"
    assert upload_dir_is_empty(tmp_path)


def test_upload_temp_files_are_removed_when_analysis_is_cancelled(analysis_model, samples, tmp_path, monkeypatch):
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    from app.state import ClipSource, open_clip

    monkeypatch.setenv("VAD_UPLOAD_DIR", str(tmp_path))
    source = ClipSource.upload("cancelled.mp4", (samples / "test" / "Test001.mp4").read_bytes() + b"\0")  # uncached

    def cancel(done: int, total: int) -> None:  # Streamlit stops a script run by raising from its next st call
        assert not upload_dir_is_empty(tmp_path)
        raise StopException()

    with pytest.raises(StopException):
        open_clip(source, analysis_model, cancel, lambda: None)
    assert upload_dir_is_empty(tmp_path)


def _at_once(fn, count: int = 3) -> list[Exception]:
    """Run fn in `count` threads released together; the exceptions they raised."""
    barrier, errors = threading.Barrier(count), []

    def run() -> None:
        barrier.wait()
        try:
            fn()
        except Exception as err:  # reported by the test
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_sessions_opening_the_same_clip_at_once_analyze_it_once(analysis_model, samples, monkeypatch):
    import app.state as state
    from app.components.player import SERVE_DIR, publish_media

    calls = []

    def slow_analyze(*args, **kwargs):  # holds the door open: the other sessions arrive during the analysis
        calls.append(1)
        time.sleep(0.5)
        return analyze(*args, **kwargs)

    analyze = state.analyze
    monkeypatch.setattr(state, "analyze", slow_analyze)
    source = state.ClipSource.upload("same.mp4", (samples / "test" / "Test001.mp4").read_bytes() + b"\0\0")  # uncached
    clips = []
    errors = _at_once(lambda: clips.append(state.open_clip(source, analysis_model, lambda d, t: None, lambda: None)))
    assert not errors and len(calls) == 1
    assert len(clips) == 3 and all(clip is clips[0] for clip in clips)
    # Publishing the same media from several sessions at once (the race a shared ".part" name lost).
    clip = clips[0]
    errors = _at_once(lambda: publish_media("abc-123", clip.analysis, clip.frames))
    assert not errors and json.loads((SERVE_DIR / "media" / "abc-123.json").read_text())["frames"] == 180
    assert not list((SERVE_DIR / "media").glob("*.part"))


def test_upload_size_limit_is_configured():
    import tomllib

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert 0 < config["server"]["maxUploadSize"] <= 200
