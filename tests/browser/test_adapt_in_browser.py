"""A clip of another camera in real Chromium: the scene warning, a 1-minute adaptation into a fused model (the
autoencoder fine-tuned and a motion detector fitted on a range typed as `adapt --normal` takes it, START:END, end
exclusive), the card's kind and recorded ranges, and the clip re-analyzed with it.

Uses a UCSD Ped1 test clip (../shared/data/ucsd_ped1): the bundled Ped2 model has never seen that camera. Only the
fused kind is adapted here: each adaptation costs about 90 s of this test, and the fused one runs the autoencoder's
fine-tuning too (the autoencoder kind's command is checked in tests/app/test_fused_app.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.views.detector_kind import ADAPT_KINDS
from tests.helpers.browser import ANALYSIS_S, Player, upload
from tests.helpers.paths import PED1

pytestmark = [pytest.mark.browser, pytest.mark.dataset]

PED1_CLIP = PED1 / "test" / "Test003.mp4"
ADAPT_S = 60 + 300  # the budget, then calibration and the re-analysis; the 2-core CPU may be shared
WARNING = "This model does not know this scene"


@pytest.fixture
def ped1_clip() -> Path:
    if not PED1_CLIP.is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{PED1_CLIP} not found (required when CI=true)")
        pytest.skip(f"{PED1_CLIP} not found")
    return PED1_CLIP


def test_unfamiliar_clip_warns_then_adapts_into_a_fused_model_and_the_warning_goes(
    dashboard, ped1_clip, tmp_path_factory
):
    page = dashboard.page
    page.goto(dashboard.url)
    Player(page).ready(ANALYSIS_S)
    assert page.get_by_text(WARNING).count() == 0  # the bundled Ped2 sample is the model's own scene

    upload(page, ped1_clip)
    page.get_by_text(WARNING).wait_for(timeout=ANALYSIS_S * 1000)
    Player(page).ready(ANALYSIS_S)
    warning = page.locator("[data-testid='stAlert']").filter(has_text=WARNING)
    assert "not meaningful here" in warning.inner_text() and "ucsd_ped2" in warning.inner_text()
    warning_top = warning.bounding_box()["y"]
    assert warning_top < page.get_by_text("Anomalous segments").first.bounding_box()["y"]  # above any segment
    dashboard.screenshot("adapt-01-warning")

    page.get_by_role("button", name="Adapt the model to this camera").click()
    ranges = page.get_by_label("Normal frames", exact=True)
    ranges.wait_for()
    assert ranges.input_value() == "0:100"  # the first half of a 200-frame clip
    ranges.fill("0:100")  # typed as `adapt --normal` takes it (other ranges leave Ped1 unfamiliar after 1 min)
    ranges.press("Enter")
    page.get_by_text(ADAPT_KINDS["fused"]).click()  # Adapted model: Fused (the radio starts at Autoencoder)
    minutes = page.get_by_label("Minutes", exact=True)
    minutes.fill("1")
    minutes.press("Enter")
    page.get_by_role("button", name="Adapt", exact=True).click()
    page.get_by_text("Training · step").first.wait_for(timeout=120_000)
    assert page.get_by_role("button", name="Cancel training").is_visible()
    dashboard.screenshot("adapt-02-training")

    caption = page.get_by_text("model `Test003-adapted`").or_(page.get_by_text("model Test003-adapted")).first
    caption.wait_for(timeout=ADAPT_S * 1000)
    player = Player(page)
    player.ready(ANALYSIS_S)
    assert page.get_by_text(WARNING).count() == 0
    player.frame.get_by_text("learned as normal").first.wait_for()  # the marked frames, drawn on the plot
    picker = page.locator("[data-testid='stSidebar']").get_by_role("combobox", name="Model", exact=True)
    assert picker.input_value().startswith("Test003-adapted (fused: autoencoder + motion, ")  # the one analyzing
    (card,) = Path(tmp_path_factory.getbasetemp()).glob("user-models[0-9]*/Test003-adapted.json")
    written = json.loads(card.read_text())
    assert written["kind"] == "fused" and written["adaptation"]["ranges"] == [[0, 100]]
    dashboard.screenshot("adapt-03-adapted")
