"""A warm start for real: `python -m finch_app serve` started again with nothing changed serves
the production build it made before, and a setting baked into the page is built again.

It runs last in its browser group, on the card fade the group's servers use: its first start
finds their build in its web dir, the restarts show what a developer's second `make run` does
(without the build cache the other servers share). (The decision itself, input by input, is
`tests/test_serve.py`.)"""

from __future__ import annotations

from playwright.sync_api import expect

from finch_app.serve import BUILD_CACHE_ENV
from tests.e2e.app_server import AppServer

TOOL_MS = 3000


def send(page, text: str) -> None:
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("send").click()


def expect_card_fade(browser, server: AppServer, delay: str) -> None:
    """A tool card's fade-out delay is `delay`: a setting baked into the page when it is built.
    (Read while the card runs: the sample tools take `TOOL_MS`.)"""
    page = browser.new_context().new_page()
    try:
        page.goto(server.url)
        send(page, "what's trending on reddit?")
        card = page.get_by_test_id("tool-card").first
        expect(card).to_have_css("--finch-fade-delay", delay, timeout=15_000)
    finally:
        page.context.close()


def test_a_restart_reuses_the_build_until_the_page_changes(browser, tmp_path):
    server = AppServer(
        tmp_path / "warm",
        # As a developer's `make run`: no builds shared with other servers of the run.
        env={"FINCH_SAMPLE_LATENCY_MS": str(TOOL_MS), "FINCH_CARD_FADE_MS": "60000", BUILD_CACHE_ENV: ""},
    )
    try:
        server.start()
        server.kill()
        server.start()  # same address and web dir, nothing changed
        assert not server.built, server.log_tail()
        expect_card_fade(browser, server, "60000ms")
        server.kill()

        server.extra_env["FINCH_CARD_FADE_MS"] = "45000"  # read while the page is compiled
        server.start()
        assert server.built, server.log_tail()
        expect_card_fade(browser, server, "45000ms")
    finally:
        server.kill()
