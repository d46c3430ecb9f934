"""The Reconstruction lab page (AppTest): it opens on the analyzed clip and shows the chosen frame's own numbers; under
a fused model it teaches the same steps with the model's autoencoder part, then how the parts' errors make its score."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from app.views.detector_kind import FUSED_LAB_NOTE
from tests.helpers.apptest import TIMEOUT, metric
from tests.helpers.paths import APP
from vad_core import analyze, load_checkpoint
from vad_core.pipeline.explain import autoencoder_part, explain_frame
from vad_core.pipeline.render import PreviewFrames


@pytest.fixture(scope="module")
def analysis(analysis_model, samples):
    """The default sample, analyzed outside the app: the values the page must show."""
    return analyze(samples / "test" / "Test004.mp4", analysis_model)


def open_lab(app: AppTest) -> AppTest:
    """Switch to the lab (a callable page, which AppTest.switch_page cannot name by file) and run it."""
    app._page_hash = next(h for h, page in app._registered_pages.items() if page.get("url_pathname") == "lab")
    return app.run()


@pytest.fixture
def lab(analysis_stem, monkeypatch) -> AppTest:
    monkeypatch.setenv("VAD_CHECKPOINT", str(analysis_stem))
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()  # the analysis page opens first
    open_lab(app)
    assert not app.exception, app.exception
    return app


def shown(app: AppTest, label: str) -> float:
    return float(re.sub(r"[^0-9.eE+-]", "", metric(app, label)))


def latex(app: AppTest, starts: str) -> str:
    return next(e.value for e in app.get("latex") if e.value.strip("$\n").startswith(starts))


def last_number(text: str) -> float:
    return float(re.findall(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text.strip("$\n "))[-1])


def assert_frame_shown(app: AppTest, analysis, t: int) -> None:
    steps = explain_frame(analysis, t)
    assert app.number_input(key="lab_frame_number").value == t == app.slider(key="lab_frame_slider").value
    assert shown(app, "e(t) frame error") == pytest.approx(analysis.error[t], rel=1e-3)
    assert shown(app, "s(t) regularity") == pytest.approx(analysis.regularity[t], abs=1e-3)
    assert shown(app, "c(t) calibrated score") == pytest.approx(analysis.score[t], abs=1e-3)
    assert last_number(latex(app, "c(t)")) == pytest.approx(analysis.score[t], abs=1e-4)
    assert last_number(latex(app, "s(t)")) == pytest.approx(analysis.regularity[t], abs=1e-4)
    assert last_number(latex(app, "e(t)")) == pytest.approx(analysis.error[t], rel=1e-3)
    assert last_number(latex(app, "e_{raw}")) == pytest.approx(analysis.raw_error()[t], rel=1e-3)
    assert f"{analysis.tau:.4g}" in latex(app, "c(t)")
    assert f"{analysis.error.max():.4g}" in latex(app, "s(t)") and f"{analysis.error.min():.4g}" in latex(app, "s(t)")
    segment = metric(app, "Anomalous segment")
    assert segment == (f"{steps.segment.start}–{steps.segment.end}" if steps.segment else "none")


def test_the_lab_opens_on_the_analyzed_clip_at_its_peak(lab, analysis):
    assert lab.title[0].value == "Reconstruction lab"
    assert not lab.error
    assert_frame_shown(lab, analysis, int(analysis.score.argmax()))
    assert any("Test004.mp4" in c.value for c in lab.caption)
    assert len(lab.get("image")) == 4  # input, reconstruction, error map; the patch means
    assert lab.get("plotly_chart")


def test_choosing_a_frame_shows_its_own_numbers(lab, analysis):
    lab.number_input(key="lab_frame_number").set_value(42).run()
    assert not lab.exception
    assert_frame_shown(lab, analysis, 42)
    lab.slider(key="lab_frame_slider").set_value(0).run()
    assert not lab.exception
    assert_frame_shown(lab, analysis, 0)
    table = next(m.value for m in lab.markdown if m.value.startswith("| error |"))
    assert f"**{analysis.raw_error()[0]:.4g}**" in table  # the model's own reduction, in bold


def test_the_error_kind_switch_changes_the_picture_not_the_numbers(lab, analysis):
    t = int(lab.number_input(key="lab_frame_number").value)
    other = next(k for k in ("motion", "appearance") if k != analysis.scoring.kind)
    lab.radio(key="lab_kind").set_value(other).run()
    assert not lab.exception
    assert_frame_shown(lab, analysis, t)


def test_without_a_cached_clip_the_lab_analyzes_the_default_sample(lab, analysis):
    lab.session_state["clip_key"] = "no-such-clip"
    lab.run()
    assert not lab.exception
    assert "no longer cached" in lab.info[0].value
    assert_frame_shown(lab, analysis, int(lab.number_input(key="lab_frame_number").value))


@pytest.mark.slow
def test_the_lab_shows_the_clip_chosen_on_the_analysis_page(analysis_stem, monkeypatch):
    monkeypatch.setenv("VAD_CHECKPOINT", str(analysis_stem))
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    app.selectbox(key="sample").set_value("Test001.mp4").run()
    open_lab(app)
    assert not app.exception and not app.info
    assert any(c.value.startswith("Test001.mp4 ·") for c in app.caption)


@pytest.fixture(scope="module")
def fused_analyses(fused_stem, samples):
    """The default sample analyzed outside the app by a fused model, and by its autoencoder part alone on the same
    frames: the values the lab must show under the fused model."""
    model = load_checkpoint(fused_stem, device="cpu")
    preview = PreviewFrames()
    fused = analyze(samples / "test" / "Test004.mp4", model, on_frame=preview)
    return fused, autoencoder_part(preview.finish(), model, fused)


def test_under_a_fused_model_the_lab_teaches_with_its_autoencoder_part(fused_stem, fused_analyses, monkeypatch):
    fused, part = fused_analyses
    monkeypatch.setenv("VAD_CHECKPOINT", str(fused_stem))
    app = open_lab(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run())
    assert not app.exception and not app.error, (app.exception, app.error)
    assert app.info[0].value == FUSED_LAB_NOTE
    t = int(part.score.argmax())
    assert_frame_shown(app, part, t)  # the part's own e(t), s(t), c(t), τ and segment, its six steps' numbers
    steps = [m.value[2] for m in app.markdown if re.match(r"\*\*\d · ", m.value)]
    assert steps == list("123456")
    assert len(app.get("image")) == 4 + 3  # input, reconstruction, error map, patch means; the motion part's three
    assert [h.value for h in app.subheader] == [
        f"How the autoencoder part's numbers of frame {t} are built",
        f"How the motion part's map of frame {t} is built",
        f"How the fused score of frame {t} is built",
    ]
    kept = fused.frame_errors["autoencoder_error"][t]  # what the part scored inside the fused model
    assert last_number(latex(app, "e_{raw}(t)")) == pytest.approx(kept, rel=1e-3)  # step 3
    table = next(m.value for m in app.markdown if m.value.startswith("| part |"))
    assert f"| {kept:.4g} |" in table  # the fusion table's autoencoder row: the same e_raw(t)
    assert not [c for c in app.caption if "resized from the decoded ones" in c.value]  # Ped2's frames: exact
    rule = [e.value for e in app.get("latex") if e.value.strip("$\n").startswith(f"e_{{raw}}({t})")][-1]
    assert last_number(rule) == pytest.approx(fused.raw_error()[t], rel=1e-3)  # the rule applied again: the engine's
