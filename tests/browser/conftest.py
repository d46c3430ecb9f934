"""Browser fixtures: `streamlit run app/main.py` on a free localhost port, and Chromium that may only reach localhost.

    def test_x(dashboard): dashboard.page.goto(dashboard.url) ...

Chromium is /usr/bin/chromium. Without it these tests skip, unless VAD_REQUIRE_BROWSER=1 (as in .ci/run),
where they fail. Screenshots and the server log go to test-artifacts/. The server starter and the Playwright
helpers are in tests/helpers/browser.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, Dashboard, dashboard_at, serve


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        message = f"Chromium not found at {CHROMIUM}; install it with `apt-get install chromium`"
        if os.environ.get("VAD_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (required: VAD_REQUIRE_BROWSER=1)")
        pytest.skip(message)
    return CHROMIUM


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


@pytest.fixture
def dashboard(browser, app_url) -> Iterator[Dashboard]:
    """A 1280x800 page; any request that leaves localhost is aborted, recorded and fails the test."""
    with dashboard_at(browser, app_url) as board:
        yield board
