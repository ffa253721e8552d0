"""A server that dies mid-run: after a restart the run is marked interrupted, never left spinning.

(Its own module: no other server of this process is running then, so it starts on the port and
reuses the build of the server before it, whose card fade it shares.)"""

from __future__ import annotations

import signal

from playwright.sync_api import expect

from tests.e2e.app_server import AppServer
from tests.e2e.test_runs_browser import conversation_url, rows, running_card, send


def test_a_run_cut_off_by_a_server_crash_is_marked_interrupted(page, tmp_path):
    server = AppServer(
        tmp_path / "crash", env={"FINCH_SAMPLE_LATENCY_MS": "20000", "FINCH_CARD_FADE_MS": "60000"}
    ).start()
    try:
        page.goto(server.url)
        send(page, "get recent senate trades")
        running_card(page, "get_recent_senate_trades")
        expect(page).to_have_url(conversation_url(server))
        conversation_path = page.url.removeprefix(server.url)
        server.kill(signal.SIGKILL)
        assert rows(server, "select status from run") == [("running",)]

        server.start()  # same data dir, new process
        assert rows(server, "select status from run") == [("interrupted",)]
        assert rows(server, "select status from toolcall") == [("interrupted",)]
        page.goto(server.url + conversation_path)
        answer = page.get_by_test_id("assistant-message")
        expect(answer).to_have_attribute("data-status", "interrupted")
        expect(answer).to_contain_text("server stopped")
        expect(page.get_by_test_id("retry")).to_be_visible()
        expect(page.locator('[data-testid="tool-card"][data-status="running"]')).to_have_count(0)
    finally:
        server.kill()
