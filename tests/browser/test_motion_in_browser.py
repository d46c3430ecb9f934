"""Issue 29 in real Chromium: a motion detector fitted on Ped2's training clips, compared with the bundled
autoencoder on one plot, then chosen as the model and explained in the Reconstruction lab.

The motion model is fitted once (`train --kind motion` on the 16 training clips of ../shared/data/ucsd_ped2, its
place smoothing fixed by --scale-sigma 3: about 30 s) into the models folder of a server of this module's own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import pytest

from tests.helpers.browser import ANALYSIS_S, Dashboard, Player, dashboard_at, metric_value, serve, until
from tests.helpers.cli import run_cli

pytestmark = [pytest.mark.browser, pytest.mark.dataset]

MOTION = "walkway-motion"  # the motion model's name; the bundled autoencoder is "ped2"
MOTION_LABEL = f"{MOTION} (motion detector, in the models folder)"
CART = range(40, 180)  # Test004's cart is labelled from frame 30 to its end (180 frames); 10 frames to get going
LAB_FRAME = 100  # the cart in full view


@pytest.fixture(scope="module")
def motion_server(ped2, bundled, chromium, tmp_path_factory) -> Iterator[str]:
    """A server on the bundled autoencoder whose models folder holds MOTION, fitted on Ped2's training clips (its own
    server and folder: the session's server keeps the models its tests train; chromium first: no fit for a skip)."""
    models = tmp_path_factory.mktemp("motion-models")
    fitted = run_cli("train", "--kind", "motion", "--data", str(ped2), "--out", str(models / MOTION),
                     "--scale-sigma", "3", threads=None)  # fmt: skip
    assert fitted.returncode == 0, fitted.stderr
    env = {"VAD_CHECKPOINT": str(bundled), "VAD_MODELS_DIR": str(models)}
    with serve(env, "motion-streamlit.log", args=("--server.address", "localhost")) as server:
        yield server.url


@pytest.fixture
def board(browser, motion_server) -> Iterator[Dashboard]:
    with dashboard_at(browser, motion_server) as board:
        yield board


def pick(page, picker: str, option: str) -> None:
    """Choose option in the sidebar's selectbox labelled picker."""
    page.locator("[data-testid='stSidebar']").get_by_role("combobox", name=picker, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def score_plot(player: Player) -> dict:
    """The score plot as plotly holds it in the player: each trace's name, axes and values, and the threshold."""
    return player.plot.evaluate(
        """(gd) => ({
            traces: gd._fullData.filter((t) => t.visible !== false && t.y && t.y.length > 1).map((t) => (
                {name: t.name, xaxis: t.xaxis, yaxis: t.yaxis, y: Array.from(t.y)})),
            threshold: gd.layout.shapes.filter((s) => s.name === 'threshold').map((s) => [s.yref, s.y0]),
        })"""
    )


def test_compare_with_a_motion_model_then_explain_it_in_the_lab(board):
    page = board.page
    page.goto(board.url)
    player = Player(page)
    player.ready(ANALYSIS_S)  # Test004 with the bundled autoencoder

    pick(page, "Compare with", MOTION_LABEL)
    curves = ["c(t) · ped2", f"c(t) · {MOTION}"]  # the player's plot, redrawn once the second analysis is done
    until(lambda: [t["name"] for t in score_plot(player)["traces"]] == curves, ANALYSIS_S, "no motion curve drawn")
    plot = score_plot(player)
    autoencoder, motion = plot["traces"]
    assert plot["threshold"] == [["y", 1.0]]  # c(t) = 1, the calibration threshold of either model
    assert (autoencoder["xaxis"], autoencoder["yaxis"]) == (motion["xaxis"], motion["yaxis"]) == ("x", "y")
    assert len(autoencoder["y"]) == len(motion["y"]) == 180 and autoencoder["y"] != motion["y"]
    assert all(motion["y"][t] > 1.0 for t in CART), [round(motion["y"][t], 2) for t in CART]
    player.click_plot_at(LAB_FRAME)  # the cart in view, under both curves' cursor
    until(lambda: player.shown() == LAB_FRAME, 30, f"the player did not seek to frame {LAB_FRAME}")
    board.screenshot("issue29-compare")

    pick(page, "Model", MOTION_LABEL)
    page.get_by_text(f"model `{MOTION}`").or_(page.get_by_text(f"model {MOTION}")).first.wait_for(
        timeout=ANALYSIS_S * 1000
    )
    Player(page).ready(ANALYSIS_S)

    page.get_by_role("link", name="Reconstruction lab").click()  # a link keeps the session, and its model
    page.get_by_text("How the motion map of frame").wait_for(timeout=ANALYSIS_S * 1000)
    number = page.locator("[data-testid='stNumberInput'] input")
    number.fill(str(LAB_FRAME))
    number.press("Enter")
    heading = page.get_by_text(f"How the motion map of frame {LAB_FRAME} is built")
    heading.wait_for(timeout=60_000)

    flow = page.locator("[data-testid='stImage']").filter(has_text=f"optical flow {LAB_FRAME - 1} → {LAB_FRAME}")
    flow.locator("img").wait_for()
    loaded = "(img) => img.complete && img.naturalWidth > 0"  # attached before its bytes arrive: wait for them
    until(lambda: flow.locator("img").evaluate(loaded), 30, "the flow image did not load")
    peak = page.locator("table tr").filter(has_text="◀")
    assert peak.count() == 1
    ratio = float(peak.locator("td").last.inner_text().strip(" ◀"))
    assert ratio > 1.0  # the peak place moves faster than its normal
    annotations = page.locator(".katex-mathml annotation")  # KaTeX typesets after the page: wait for the formula

    def frame_equations() -> list[str]:
        return [e for e in annotations.all_text_contents() if f"e_{{raw}}({LAB_FRAME})" in e]

    until(lambda: frame_equations(), 30, f"no e_raw({LAB_FRAME}) formula typeset")
    (equation,) = frame_equations()
    peak_ratio, explained, scored = (float(x) for x in re.findall(r"[0-9][0-9.e+-]*", equation.split("=", 1)[1])[-3:])
    assert explained == pytest.approx(math.log1p(peak_ratio), rel=1e-3)
    assert explained == pytest.approx(scored, rel=1e-3)  # the flow computed again is the one the engine scored
    assert float(metric_value(page, "c(t) calibrated score")) > 1.0
    heading.evaluate("(el) => el.scrollIntoView({block: 'start'})")  # the flow, the peak table and the formula
    board.screenshot("issue29-lab-motion")
