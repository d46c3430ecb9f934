"""Browser fixtures: `streamlit run app/main.py` on a free localhost port, and Chromium that may only reach localhost.

    def test_x(dashboard): dashboard.page.goto(dashboard.url) ...

Chromium is /usr/bin/chromium. Without it these tests skip, unless VAD_REQUIRE_BROWSER=1 (as in .ci/run),
where they fail. Screenshots and the server log go to test-artifacts/.
"""

from __future__ import annotations

import os
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

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
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


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        message = f"Chromium not found at {CHROMIUM}; install it with `apt-get install chromium`"
        if os.environ.get("VAD_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (required: VAD_REQUIRE_BROWSER=1)")
        pytest.skip(message)
    return CHROMIUM


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
    command = [sys.executable, "-m", "streamlit", "run", str(REPO / "app" / "main.py")]
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


@pytest.fixture(scope="session")
def app_url(analysis_stem, chromium, tmp_path_factory) -> Iterator[str]:
    """A real server, as users start it, on the bundled model (or the session's tiny one before it exists)."""
    env = {"VAD_CHECKPOINT": str(analysis_stem)}
    env["VAD_MODELS_DIR"] = str(tmp_path_factory.mktemp("user-models"))  # models trained in the tests go here
    with serve(env, "streamlit.log", args=("--server.address", "localhost")) as server:
        yield server.url


@pytest.fixture(scope="session")
def playwright_driver(chromium):
    """One Playwright for the session: its sync API cannot be started twice in one process."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_driver, chromium):
    browser = playwright_driver.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


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


@pytest.fixture
def dashboard(browser, app_url) -> Iterator[Dashboard]:
    """A 1280x800 page; any request that leaves localhost is aborted, recorded and fails the test."""
    context, board = open_dashboard(browser, app_url)
    yield board
    context.close()
    assert not board.outside, f"requests left localhost: {board.outside}"
