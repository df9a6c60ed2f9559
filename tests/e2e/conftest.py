"""Browser tests: headless Chromium from Debian's packages, driven by Playwright, against
pytest-django's live server. Screenshots go to var/test-artifacts/e2e/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "e2e"


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: drives a real browser (Debian's chromium)")


@pytest.fixture
def browser(transactional_db, live_server):
    """One browser per test, closed before the test's database is flushed: Playwright's
    sync API keeps an event loop in this thread while it runs, which Django's ORM would
    take for async code in any later test."""
    # CI installs Debian's chromium; a missing browser is a broken environment, not a
    # reason to skip the only test that clicks through the admin.
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium "
                    "(apt-get install -y chromium) to run the browser tests", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, monkeypatch):
    """A page in a fresh context (its own cookies: one logged-in user per context)."""
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    from django.db import connections

    # The test's own queries ran while Playwright's loop was active, on a connection
    # pytest-django does not know of; left open, it blocks dropping the test database.
    connections.close_all()


@pytest.fixture
def screenshot():
    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take
