"""Real-browser journeys: Playwright (sync API) drives Debian's Chromium against a live server.

The browser is ``chromium-headless-shell``, Chromium's headless build (what Playwright itself
launches for headless runs; Debian packages it apart): the same Blink, V8 and network stack
as the whole browser, at under half its CPU (16 journeys: 19 CPU-s against 46).

One browser per test process, a fresh context (cookies, storage) for every test. Every
test saves screenshots of its steps under ``test-artifacts/e2e/`` (gitignored).
"""

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.cancellations.conftest import defaults, plans  # noqa: F401 - shared fixtures
from tests.retention.conftest import book  # noqa: F401 - shared fixture

CHROMIUM = "/usr/bin/chromium-headless-shell"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
PASSWORD = "correct horse battery staple"  # tests/factories.make_user's


@pytest.fixture(scope="session")
def _chromium():
    """Playwright and Chromium, started by this process's first browser test and kept until
    its last test ends: the scheduler spreads the browser tests over the processes and
    between other tests, and a start costs about 1.5 s of CPU."""
    started: dict = {}
    yield started
    if started:
        asyncio.events._set_running_loop(started["loop"])
        try:
            started["browser"].close()
            started["playwright"].stop()
        finally:
            asyncio.events._set_running_loop(None)


@pytest.fixture
def browser(_chromium, monkeypatch):
    """Chromium for this test.

    Playwright's sync API keeps its asyncio loop running on this thread, so Django refuses
    ORM calls from the test unless DJANGO_ALLOW_ASYNC_UNSAFE is set; it is set only during a
    browser test. Between browser tests the loop is put aside (``_set_running_loop(None)``,
    as asyncio's own ``run`` leaves a thread), so that the other tests in this process run as
    they would without a browser: nothing of Playwright runs between its calls.
    """
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium-headless-shell")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        if _chromium:
            asyncio.events._set_running_loop(_chromium["loop"])
        else:
            from playwright.sync_api import sync_playwright

            playwright = sync_playwright().start()
            _chromium.update(
                playwright=playwright,
                loop=asyncio.get_running_loop(),
                browser=playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS),
            )
        yield _chromium["browser"]
    finally:
        asyncio.events._set_running_loop(None)


@pytest.fixture
def open_page(browser, live_server):
    """Opens a page in a new browser context (a new visitor) pointed at the live server.

    Fails the test if the server answered any request with a 4xx/5xx, a page raised a
    script error (a missing stylesheet would leave the admin or the dashboard unstyled) or
    the browser refused something under the Content-Security-Policy (an inline style).
    """
    contexts, broken = [], []

    def open_():
        context = browser.new_context(
            base_url=live_server.url,
            locale="en-GB",
            viewport={"width": 1100, "height": 900},
            accept_downloads=True,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "response",
            lambda response: (
                broken.append(f"{response.status} {response.url}")
                if response.status >= 400
                else None
            ),
        )
        page.on("pageerror", lambda error: broken.append(f"script error: {error}"))
        page.on(
            "console",
            lambda message: (
                broken.append(f"policy violation: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not broken, f"failed requests or script errors: {broken}"


@pytest.fixture
def page(open_page):
    return open_page()


class Screenshots:
    """``shots("offers")`` saves ``test-artifacts/e2e/<lang>/<journey>/02-offers.jpg``."""

    def __init__(self, page, folder: Path, item: pytest.Item):
        self.page, self.folder, self.count, self.item = page, folder, 0, item
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    def __call__(self, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower())}.jpg"
        self.page.screenshot(path=path, full_page=True, type="jpeg", quality=80)
        # Carried by the test's report, so pytest-xdist brings it from the worker.
        self.item.user_properties.append(("screenshots", str(path)))
        return path


@pytest.fixture
def screenshots(request):
    """``screenshots(page, language, journey)`` gives the step recorder for that page."""
    return lambda page, language, journey: Screenshots(
        page, ARTIFACTS / language / journey, request.node
    )


def admin_login(page, user) -> None:
    """Sign in through the admin's own login form."""
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
