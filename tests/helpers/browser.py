"""Real Chromium on a real server: start `streamlit run app/main.py` (serve), open a guarded page (open_dashboard),
read the synchronized player (Player) and drive the pages (upload, threshold_slider, metric_value, start_training).

with serve(env, "streamlit.log") as server:
    context, board = open_dashboard(browser, server.url)
    board.page.goto(server.url); Player(board.page).ready()

The fixtures that use these (chromium, browser, app_url, dashboard) are in tests/browser/conftest.py.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from tests.helpers.paths import APP, ARTIFACTS, REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
STARTUP_S = 90
PLAYER = "iframe[title$='player']"
ANALYSIS_S = 300  # generous: the 2-core CPU may be shared with a training run
TRAINING_S = 60 + 240  # the budget, then calibration; the 2-core CPU may be shared


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}; see {ARTIFACTS / 'streamlit.log'}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"streamlit did not become healthy within {STARTUP_S} s")


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    port: int


@contextmanager
def serve(env: dict[str, str], log_name: str, cwd: Path = REPO, args: tuple[str, ...] = ()) -> Iterator[Server]:
    """`streamlit run app/main.py` from cwd on a free port, healthy before it is yielded, stopped after."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(APP)]
    command += ["--server.port", str(port), "--server.headless", "true", *args]
    env = os.environ | {"PYTHONUNBUFFERED": "1"} | env
    with (ARTIFACTS / log_name).open("w") as log:
        server = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://localhost:{port}"
        try:
            _wait_healthy(url, server)
            yield Server(url, server, port)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


@dataclass
class Dashboard:
    page: object  # playwright.sync_api.Page
    url: str
    outside: list[str] = field(default_factory=list)

    def artifact(self, name: str) -> Path:
        return ARTIFACTS / name

    def screenshot(self, name: str) -> Path:
        path = self.artifact(f"{name}.png")
        self.page.screenshot(path=str(path))
        return path


def open_dashboard(browser, url: str) -> tuple[object, Dashboard]:
    """(context, Dashboard) on a fresh 1280x800 context; any request that leaves localhost is aborted and recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    board = Dashboard(context.new_page(), url)

    def guard(route) -> None:
        url = urlparse(route.request.url)
        if url.scheme in {"data", "blob", "about"} or url.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            board.outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    return context, board


@contextmanager
def dashboard_at(browser, url: str) -> Iterator[Dashboard]:
    """open_dashboard for a block: the context is closed after it, and a request that left localhost fails it."""
    context, board = open_dashboard(browser, url)
    yield board
    context.close()
    assert not board.outside, f"requests left localhost: {board.outside}"


def until(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)


class Player:
    """The player iframe, read through its data attributes."""

    def __init__(self, page) -> None:
        self.page = page
        self.frame = page.frame_locator(PLAYER)
        self.root = self.frame.locator("#player")
        self.plot = self.frame.locator("#plot")

    def attr(self, name: str) -> str | None:
        return self.root.get_attribute(name)

    def plot_attr(self, name: str) -> str | None:
        return self.plot.get_attribute(name)

    def shown(self) -> int:
        return int(self.attr("data-frame"))

    def ready(self, timeout: float = ANALYSIS_S) -> None:
        self.frame.locator("#player[data-ready='1']").wait_for(timeout=timeout * 1000)

    def sync(self) -> tuple[int, int]:
        """(frame on screen, frame under the plot cursor), read in one step."""
        values = self.frame.locator("body").evaluate(
            "() => [document.getElementById('player').dataset.frame,"
            " document.getElementById('plot').dataset.cursorFrame]"
        )
        return int(values[0]), int(values[1])

    def click_plot_at(self, frame: int) -> None:
        x = float(self.plot_attr("data-frame-zero-x")) + frame * float(self.plot_attr("data-frame-step-x"))
        y = float(self.plot_attr("data-plot-top")) + float(self.plot_attr("data-plot-height")) / 2
        self.plot.click(position={"x": x, "y": y})

    def coloured_pixels(self) -> int:
        """Pixels of the frame canvas that are not gray: the source video is gray, so these are heatmap."""
        return self.frame.locator("#view").evaluate(
            """(canvas) => {
                const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let count = 0;
                for (let i = 0; i < data.length; i += 4) {
                    const hi = Math.max(data[i], data[i + 1], data[i + 2]);
                    const lo = Math.min(data[i], data[i + 1], data[i + 2]);
                    if (hi - lo > 25) count++;
                }
                return count;
            }"""
        )


def upload(page, path) -> None:
    uploader = page.locator("[data-testid='stFileUploader']").filter(has_text="upload a video")
    uploader.locator("input[type='file']").set_input_files(str(path))


def threshold_slider(page):
    return page.locator("[data-testid='stSlider']").filter(has_text="Threshold on c(t)").get_by_role("slider")


def metric_value(page, label: str) -> str:
    return (
        page.locator("[data-testid='stMetric']")
        .filter(has_text=label)
        .locator("[data-testid='stMetricValue']")
        .inner_text()
    )


def start_training(page, url: str, model_name: str) -> None:
    """A 1-minute autoencoder run on the bundled normal clips (both are chosen by default), from the Train page (its
    default kind, best of three, takes 3 minutes or more)."""
    page.goto(f"{url}/train")
    name = page.get_by_label("Model name")
    name.wait_for(timeout=60_000)
    name.fill(model_name)
    name.press("Enter")
    page.get_by_text("Autoencoder · learns to reconstruct").click()
    minutes = page.get_by_label("Minutes of training")
    minutes.fill("1")
    minutes.press("Enter")
    page.get_by_text("Train001.mp4").first.wait_for()
    page.get_by_role("button", name="Start training").click()


ALERT_ERROR = "[data-testid='stAlertContentError']"


def watch_url(page, url: str, says: str = "This source cannot be watched") -> str:
    """Type url in the stream source field, press Start, and return the error the page shows, from `says` on (past
    its icon): refused before the run ("This source cannot be watched") or by the run ("Nothing was recorded")."""
    page.get_by_text("A stream URL (RTSP, HTTP, HLS)").click()
    field = page.get_by_role("textbox", name="Stream URL")
    field.fill(url)
    field.press("Enter")
    page.get_by_role("button", name="Start").click()
    error = page.locator(ALERT_ERROR).filter(has_text=says)
    error.first.wait_for(timeout=60_000)
    text = error.first.inner_text()
    return text[text.index(says) :]


def score_as_a_batch(page, url: str, clips: list[Path], timeout_s: float) -> object:
    """The batch page's uploads scored by `vad_core batch`; returns the locator of the scored videos' Open buttons
    once the last one is there."""
    page.goto(f"{url}/batch")
    uploader = page.locator("[data-testid='stFileUploader']").filter(has_text="as a batch")
    uploader.locator("input[type='file']").set_input_files([str(c) for c in clips])
    page.get_by_text(clips[-1].name).first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Score as a batch").click()
    opens = page.get_by_role("button", name=re.compile(r"^Open Test\d+\.mp4$"))
    opens.nth(len(clips) - 1).wait_for(timeout=timeout_s * 1000)
    return opens
