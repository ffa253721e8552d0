"""Browser fixtures: Debian's Chromium driven by Playwright, and the app in prod mode."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from finch_app.pages.chat import CONVERSATION_ROUTE
from tests.e2e.app_server import AppServer

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium, the browser a user has: the benchmark and the screenshots use it."""
TEST_CHROMIUM = "/usr/bin/chromium-headless-shell"
"""Debian's build of the headless shell Playwright itself runs for headless tests: the same Blink
without the browser around it, so the browser tests cost half the CPU (172 → 86 CPU-seconds)."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def browser():
    """Chromium for the browser tests. Playwright's sync API keeps an event loop running on
    this thread while it is open, which async tests cannot share: it closes with the package."""
    from playwright.sync_api import sync_playwright

    if not Path(TEST_CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium-headless-shell is missing: `make test` installs it"
            " (apt-get install chromium chromium-headless-shell)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=TEST_CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def finch(tmp_path_factory) -> Iterator[AppServer]:
    """Finch on the offline model, with slow enough sample tools to watch cards run."""
    data_dir = tmp_path_factory.mktemp("finch-e2e")
    server = AppServer(data_dir, env={"FINCH_SAMPLE_LATENCY_MS": "1500", "FINCH_CARD_FADE_MS": "5000"})
    with server:
        yield server


CSP_WATCH = """document.addEventListener("securitypolicyviolation", (e) => window.__finchCspViolation(
  `${e.effectiveDirective} refused ${e.blockedURI || "(inline)"} at ${e.sourceFile}:${e.lineNumber}`));"""
_CSP_VIOLATIONS: weakref.WeakKeyDictionary[BrowserContext, list[str]] = weakref.WeakKeyDictionary()


def watch_csp(context: BrowserContext) -> None:
    """Record every break of the app's Content-Security-Policy in the context's pages (an `eval`
    from an event the server sent, an inline script without its hash), across navigations: the
    browser refuses such code silently, so only this sees that something did not run."""
    violations = _CSP_VIOLATIONS.setdefault(context, [])
    context.expose_function("__finchCspViolation", lambda violation: violations.append(violation))
    context.add_init_script(CSP_WATCH)


def csp_violations(context: BrowserContext) -> list[str]:
    return list(_CSP_VIOLATIONS.get(context, []))


def on_conversation_page(page: Page) -> None:
    """Wait until a new chat's page has moved to its conversation's address (`/c/<id>`). `/` and
    `/c/[cid]` are two routes, so the move draws the page anew: a click or text given to the page
    just before it can be lost."""
    expect(page.locator(f'[data-route="{CONVERSATION_ROUTE}"]')).to_be_attached(timeout=10_000)


@contextlib.contextmanager
def browser_page(browser, request, **context_options) -> Iterator[Page]:
    """A page in its own browser context, failing its test if the page broke the CSP. A failed
    test leaves its screenshot in test-artifacts/."""
    context = browser.new_context(**context_options)
    watch_csp(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        violations = csp_violations(context)
    finally:
        context.close()
    assert not violations, f"the page broke the Content-Security-Policy: {violations}"


@pytest.fixture
def page(browser, request) -> Iterator[Page]:
    with browser_page(browser, request, viewport={"width": 1280, "height": 860}) as page:
        yield page


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
