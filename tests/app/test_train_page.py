"""Train your scene: the background runner trains, cancels and fails cleanly; the model picker and comparison use
what it saves. Real training runs on the bundled normal sample clips (fast preset, seconds of budget), a best-of-three
run on one of them made small (the fast preset trains it at 35 px)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app.models import SESSION_KEY, available_models, check_model_name, record_trainer, session_label, user_models
from app.state import SAMPLES
from app.training import ClipFile, TrainingRequest, TrainingRunner
from tests.helpers.apptest import TIMEOUT, player_args, trace_values, wait_finished
from tests.helpers.paths import APP
from vad_core import BadInput, load_checkpoint
from vad_core.bench.clips import make_long_video
from vad_core.model.card import read_card
from vad_core.pipeline.curves import CURVE_LABELS

pytestmark = pytest.mark.slow
SAMPLE_CLIPS = tuple(ClipFile(p.name, path=p) for p in sorted((SAMPLES / "train").glob("*.mp4")))


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv("VAD_MODELS_DIR", str(folder))
    return folder


def test_a_run_trains_calibrates_and_saves_a_pickable_model(models_dir):
    runner = TrainingRunner()
    job = runner.start(TrainingRequest(name="cam-1", preset="fast", minutes=0.1, clips=SAMPLE_CLIPS, owner="tok-a"))
    assert runner.busy()
    with pytest.raises(BadInput, match="in progress"):
        runner.start(TrainingRequest(name="cam-2", minutes=0.1, clips=SAMPLE_CLIPS))
    snap = wait_finished(job)
    assert snap.state == "done", snap.message
    assert len(snap.losses) == len(snap.steps) >= 2 and snap.fraction == 1.0
    assert snap.checkpoint == models_dir / "cam-1.safetensors"
    model = load_checkpoint(models_dir / "cam-1")
    assert model.cfg.input_size == 131 and model.calibration.frames > 0 and model.calibration.tau > 0
    assert model.card.training.clips == ["000_Train001.mp4", "001_Train002.mp4"]
    assert user_models() == [models_dir / "cam-1"]
    assert [e.label for e in available_models()] == [
        "ped2-fused (bundled default, UCSD Ped2; fused: autoencoder + motion)",
        "ped2 (bundled, UCSD Ped2; autoencoder)",  # one click away
        f"cam-1 (trained by {session_label('tok-a')})",
    ]
    assert sorted(p.name for p in models_dir.iterdir()) == ["cam-1.json", "cam-1.safetensors", "cam-1.trainer"]
    with pytest.raises(BadInput, match="exists already"):
        check_model_name("cam-1")


def test_a_cancelled_run_keeps_what_it_learned(models_dir):
    runner = TrainingRunner()
    job = runner.start(TrainingRequest(name="cam-cancel", minutes=30, clips=SAMPLE_CLIPS[:1] * 2))
    while not job.snapshot().steps:
        time.sleep(0.1)
    job.cancel("")  # the session that started it (none: a run started outside the app)
    snap = wait_finished(job)
    assert snap.state == "cancelled" and snap.fraction < 0.1
    assert load_checkpoint(models_dir / "cam-cancel").card.training.cancelled is True


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({"name": "../escape"}, "not a usable model name"),
        ({"name": "ok", "clips": ()}, "at least one normal clip"),
        ({"name": "ok", "clips": (), "dataset": "/no/such/folder"}, "folders on this server are off"),
        ({"name": "x.resume"}, "not ending in"),
    ],
)
def test_bad_requests_are_refused_before_anything_runs(models_dir, request_kwargs, message):
    kwargs = {"clips": SAMPLE_CLIPS} | request_kwargs
    if "dataset" in kwargs:
        kwargs["dataset"] = Path(kwargs["dataset"])
    runner = TrainingRunner()
    with pytest.raises(BadInput, match=message):
        runner.start(TrainingRequest(**kwargs))
    assert runner.job is None and not runner.busy()


def test_runs_are_bounded_in_upload_size_and_time(models_dir, monkeypatch):
    import app.training as training

    monkeypatch.setattr(training, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(BadInput, match="GB of clips"):
        TrainingRunner().start(TrainingRequest(name="big", clips=(ClipFile("a.mp4", data=b"x" * 1001),)))
    epochs = training._train_command(TrainingRequest(name="e", minutes=None, epochs=500), Path("d"), Path("o"))
    assert epochs[-4:] == ["--epochs", "500", "--minutes", str(training.MAX_MINUTES)]


def test_an_unreadable_upload_fails_with_its_reason_and_leaves_nothing(models_dir):
    runner = TrainingRunner()
    bad = ClipFile("notes.mp4", data=b"this is not a video")
    snap = wait_finished(runner.start(TrainingRequest(name="broken", minutes=0.1, clips=(bad,))))
    assert snap.state == "failed" and "notes.mp4" in snap.message and "internal error" not in snap.message
    assert list(models_dir.iterdir()) == []  # no model, no staged upload


def test_picker_offers_user_models_and_compares_two_curves(models_dir, trained_tiny, analysis_stem, monkeypatch):
    monkeypatch.setenv("VAD_CHECKPOINT", str(analysis_stem))
    models_dir.mkdir()
    for name in ("mine", "theirs", "cli"):
        for suffix in (".safetensors", ".json"):
            shutil.copy(trained_tiny.stem.with_suffix(suffix), models_dir / f"{name}{suffix}")
    record_trainer(models_dir / "mine", "tok-mine")
    record_trainer(models_dir / "theirs", "tok-theirs")
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    app.session_state[SESSION_KEY] = "tok-mine"
    app.run()
    assert not app.exception, app.exception
    picker = app.selectbox(key="model_picker")
    assert picker.options[0].startswith(analysis_stem.name)
    assert sorted(picker.options[1:]) == [
        "cli (in the models folder)",  # no session recorded: trained with the CLI
        "mine (trained in this session)",
        f"theirs (trained by {session_label('tok-theirs')})",
    ]
    picker.set_value(str(models_dir / "mine")).run()
    assert not app.exception, app.exception
    assert any("model `mine`" in c.value for c in app.caption)
    assert player_args(app)["figure"]["data"][0]["name"] == CURVE_LABELS["score"]  # one curve, no model names
    app.selectbox(key="compare_picker").set_value(str(analysis_stem)).run()
    assert not app.exception, app.exception
    curves = [t for t in player_args(app)["figure"]["data"] if " · " in t.get("name", "")]
    assert [t["name"] for t in curves] == ["c(t) · mine", f"c(t) · {analysis_stem.name}"]
    mine, other = (trace_values(t["y"]) for t in curves)
    assert len(mine) == len(other) == 180 and not np.allclose(mine, other)


def train_page(session: str) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    app.session_state[SESSION_KEY] = session
    app.run()
    app._page_hash = next(h for h, page in app._registered_pages.items() if page.get("url_pathname") == "train")
    return app.run()


def test_the_train_page_starts_a_best_of_three_run_that_only_its_session_can_cancel(models_dir, monkeypatch):
    app = train_page("tok-owner")
    assert not app.exception, app.exception
    assert app.multiselect(key="train_samples").value == ["Train001.mp4", "Train002.mp4"]
    app.radio(key="train_source").set_value("folder").run()
    assert any(i.value.startswith("Folders on this server are off") for i in app.info)
    assert "train_folder" not in [t.key for t in app.text_input]  # off: VAD_DATA_ROOT is unset
    app.radio(key="train_source").set_value("samples").run()
    assert app.radio(key="train_kind").value == "best"  # the first choice: the best the tool can make
    minutes = app.number_input(key="train_best_minutes")
    assert (minutes.value, minutes.min) == (10.0, 3.0)  # as `train`: the whole run's budget
    assert "train_init" not in [s.key for s in app.selectbox]  # every kind is fitted afresh
    app.text_input(key="train_name").set_value("page-run")
    app.button(key="start_training").click().run()
    assert not app.exception, app.exception
    from app.training import training_runner

    job = training_runner().job
    assert job is not None and job.request.name == "page-run" and job.request.kind == "best"
    assert job.command[job.command.index("--kind") :][:6] == ["--kind", "best", "--preset", "fast", "--minutes", "10.0"]
    deadline = time.monotonic() + 120
    while len(job.snapshot().stages) < 2:  # the motion detector is fitted (and saved beside): the autoencoder trains
        assert time.monotonic() < deadline and not job.snapshot().finished, job.snapshot()
        time.sleep(0.1)
    app.run()
    phases = "fitting the motion detector → **training the autoencoder for "
    assert any(c.value.startswith(phases) for c in app.caption), [c.value for c in app.caption]
    other = train_page("tok-other")  # another browser: sees the run and whose it is, and cannot cancel it
    owner = session_label("tok-owner")
    assert any(f"started by {owner}" in h.value for h in other.subheader), [h.value for h in other.subheader]
    assert any(f"A training run of {owner} is in progress" in i.value for i in other.info)
    assert "cancel_training" not in [b.key for b in other.button] and other.button(key="start_training").disabled
    app.run()
    assert any("(yours)" in h.value for h in app.subheader)
    app.button(key="cancel_training").click().run()
    if not job.snapshot().finished and job.snapshot().state != "stopping":  # it had stepped: Cancel again
        app.run().button(key="kill_training").click().run()
    snap = wait_finished(job)
    assert snap.state == "cancelled" and snap.checkpoint is None and not list(models_dir.iterdir())  # no candidate
    app.run()
    assert any("nothing saved" in i.value for i in app.info), [i.value for i in app.info]
    assert not app.button(key="start_training").disabled  # the next run can start


def test_staged_upload_names_never_become_paths(tmp_path):
    from app.training import _stage_clips

    _stage_clips((ClipFile("../../escape.mp4", data=b"x"), ClipFile("a/b\\c.mp4", data=b"y")), tmp_path / "run")
    staged = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert staged == [Path("run/train/000_escape.mp4"), Path("run/train/001_c.mp4")]


@pytest.fixture
def small_clip(tmp_path) -> ClipFile:
    """A sample clip at 96 x 64 px: the fast preset trains it at 35 px, so a best-of-three run takes seconds."""
    path = make_long_video(tmp_path / "small.mp4", 0.2, [SAMPLES / "train" / "Train001.mp4"], fps=10, size=(96, 64))
    return ClipFile(path.name, path=path)


def test_a_best_of_three_run_shows_its_phases_and_offers_the_kind_it_chose(models_dir, small_clip):
    from app.training import training_runner

    request = TrainingRequest(name="scene", kind="best", minutes=3, epochs=1, clips=(small_clip,), owner="tok-best")
    snap = wait_finished(training_runner().start(request))
    assert snap.state == "done", snap.message
    assert snap.stages[0] == "fitting the motion detector" and snap.stages[2] == "fusing them and choosing the best"
    assert snap.stages[1].startswith("training the autoencoder for") and len(snap.stages) == 3 and snap.steps
    assert snap.checkpoint == models_dir / "scene.safetensors"  # the kept copy: what "Analyze with this model" opens
    card = read_card(models_dir / "scene.json")
    ranking = card.detector_selection
    assert {c.name.split()[0] for c in ranking.candidates} == {"autoencoder", "motion", "fused"}
    assert snap.chosen == card.detector and snap.verdict == ranking.verdict
    stems = {models_dir / name for name in ("scene", "scene-autoencoder", "scene-motion", "scene-fused")}
    assert set(user_models()) == stems  # the candidates are in the picker too, each its trainer's
    assert all(stem.with_suffix(".trainer").is_file() for stem in stems)
    app = train_page("tok-best")
    assert not app.exception, app.exception
    (success,) = app.success
    assert f"The **{card.detector}** detector ranked first of the three" in success.value
    assert ranking.verdict[1:] in success.value and "**scene-motion**" in success.value
    assert any(b.label == "Analyze with this model" for b in app.button)
