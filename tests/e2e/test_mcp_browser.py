"""Tools from other servers (MCP), in a real browser: a remote tool's card runs live with the
server's progress and completes, a failing one ends in an error card, a tool of an untrusted
server asks first, a chat still answers when a server is stopped, and the settings page shows
each server's state.

Two real MCP servers built with the SDK's server side: `research` on loopback Streamable HTTP
(trusted: its tools run at once), served from this process so the test can hold its slow tool
open, and `desk` over stdio (not trusted: its tools ask), which Finch starts itself. The model
is the scripted loopback OpenAI server, so the test says exactly which remote tool is called.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.app_server import AppServer
from tests.e2e.conftest import ARTIFACTS, on_conversation_page
from tests.e2e.test_approvals_browser import app_env
from tests.fakes.mcp_servers import HttpMcpServer
from tests.fakes.openai_server import OpenAIServer, text, tool_call, tool_calls

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[tuple[OpenAIServer, HttpMcpServer, AppServer]]:
    data = tmp_path_factory.mktemp("finch-mcp-e2e")
    with OpenAIServer() as llm, HttpMcpServer("research") as research:
        config = data / "mcp.json"
        config.write_text(
            json.dumps(
                {
                    "mcpServers": {
                        "research": {"url": research.url, "trusted": True, "timeout_s": 20},
                        "desk": {
                            "command": sys.executable,
                            "args": ["-m", "tests.fakes.mcp_servers", "--stdio"],
                            "cwd": str(ROOT),
                        },
                    }
                }
            )
        )
        # The approvals module's settings (the same page, so its build is reused), plus the servers.
        app = AppServer(data / "app", env={**app_env(llm), "FINCH_MCP_CONFIG": str(config)})
        with app:
            yield llm, research, app


@pytest.fixture
def fake(setup) -> Iterator[tuple[OpenAIServer, HttpMcpServer]]:
    llm, research, _ = setup
    llm.reset()
    research.tools.release.clear()
    yield llm, research
    research.tools.release.set()
    llm.reset()


def send(page, message: str) -> None:
    page.get_by_test_id("composer").fill(message)
    page.get_by_test_id("send").click()


def card(page, tool: str):
    return page.locator(f'[data-testid="tool-card"][data-tool="{tool}"]').last


def test_a_remote_tools_card_runs_live_with_the_servers_progress_then_completes(setup, fake, page):
    llm, research = fake
    app = setup[2]
    llm.enqueue(
        tool_calls(tool_call("research__slow_report", {"ticker": "NVDA"}, id="call_report")),
        text("The research desk has three sources on NVDA."),
    )
    page.goto(app.url)
    send(page, "What does our research desk have on NVDA?")
    # A new chat moves to its own address; read the card after the move (the page is new then).
    expect(page).to_have_url(re.compile(re.escape(app.url) + r"/c/[0-9a-f]{32}$"))

    running = card(page, "research__slow_report")
    expect(running).to_have_attribute("data-status", "running", timeout=15_000)
    expect(running.locator(".finch-card-name")).to_have_text("research · slow_report")
    expect(running.locator(".finch-card-progress-text")).to_have_text("Reading source 3 of 3")
    expect(running.get_by_role("progressbar")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    running.screenshot(path=str(ARTIFACTS / "mcp-remote-card-running.png"))

    research.tools.release.set()  # the server's slow tool finishes
    expect(running).to_have_attribute("data-status", "completed", timeout=15_000)
    expect(page.get_by_test_id("assistant-message").last).to_contain_text(
        "three sources on NVDA", timeout=15_000
    )
    # Read the card once the answer has arrived: the turn (cards and all) has then moved into
    # the transcript, so the element is not swapped out under the screenshot.
    done = card(page, "research__slow_report")
    expect(done).to_have_attribute("data-status", "completed")
    expect(done.locator(".finch-card-summary")).to_have_text("3 rows")
    expect(done.get_by_test_id("resource-link")).to_contain_text("research · slow_report (3 rows)")
    done.screenshot(path=str(ARTIFACTS / "mcp-remote-card-completed.png"))
    llm.assert_complete()


def test_a_failing_remote_tool_is_an_error_card_and_the_answer_goes_on(setup, fake, page):
    llm, _ = fake
    llm.enqueue(
        tool_calls(tool_call("research__broken", {"reason": "the index is rebuilding"}, id="call_broken")),
        text("The research desk failed, so I answered from Finch's own data."),
    )
    page.goto(setup[2].url)
    send(page, "Ask the research desk")
    failed = card(page, "research__broken")
    expect(failed).to_have_attribute("data-status", "error", timeout=15_000)
    expect(failed.locator(".finch-card-label")).to_contain_text(
        "Research desk failed: the index is rebuilding"
    )
    expect(page.get_by_test_id("assistant-message").last).to_contain_text(
        "answered from Finch's own data", timeout=15_000
    )
    told = [m for m in llm.requests[-1]["messages"] if m["role"] == "tool"]
    assert told[-1]["content"].startswith("Error: ")


def test_a_tool_of_an_untrusted_server_asks_first(setup, fake, page):
    llm, _ = fake
    llm.enqueue(
        tool_calls(tool_call("desk__save_note", {"text": "watch NVDA earnings"}, id="call_note")),
        text("Saved the note on the desk."),
    )
    page.goto(setup[2].url)
    send(page, "Note on the desk: watch NVDA earnings")
    waiting = card(page, "desk__save_note")
    expect(waiting).to_have_attribute("data-status", "awaiting_approval", timeout=20_000)
    expect(waiting.get_by_test_id("approval-description")).to_have_text(
        'Run desk · save_note with text="watch NVDA earnings"'
    )
    expect(waiting.get_by_test_id("approve-always")).to_have_text("Always allow desk · save_note")
    on_conversation_page(page)
    waiting.get_by_test_id("approve").click()
    expect(page.get_by_test_id("assistant-message").last).to_contain_text(
        "Saved the note on the desk.", timeout=15_000
    )
    done = card(page, "desk__save_note")
    expect(done).to_have_attribute("data-status", "completed")
    expect(done.locator(".finch-card-summary")).to_have_text("Saved note #1.")


def test_a_chat_still_answers_when_a_server_is_stopped_and_settings_say_why(setup, fake, page):
    llm, research = fake
    app = setup[2]
    page.goto(app.url + "/settings")
    server = page.locator('[data-testid="mcp-server"][data-server="research"]')
    expect(server).to_have_attribute("data-state", "connected")
    expect(server.get_by_test_id("mcp-server-tools")).to_contain_text("slow_report")
    expect(
        page.locator('[data-testid="mcp-server"][data-server="desk"]').get_by_test_id("mcp-server-tools")
    ).to_contain_text("save_note (asks first)")

    research.stop()
    try:
        llm.enqueue(
            tool_calls(tool_call("research__lookup", {"query": "AMD"}, id="call_down")),
            text("The research desk is unavailable right now; from Finch's data, AMD is flat today."),
        )
        page.goto(app.url)
        send(page, "What does research say about AMD?")
        down = card(page, "research__lookup")
        expect(down).to_have_attribute("data-status", "error", timeout=15_000)
        expect(down.locator(".finch-card-label")).to_contain_text("research is unavailable")
        expect(page.get_by_test_id("assistant-message").last).to_contain_text(
            "AMD is flat today", timeout=15_000
        )

        page.goto(app.url + "/settings")
        expect(server).to_have_attribute("data-state", "unavailable")
        expect(server.get_by_test_id("mcp-server-state")).to_contain_text("Unavailable: ")
    finally:
        research.start()


def test_finchs_own_tools_are_served_at_mcp_on_the_apps_own_port(setup):
    """The official SDK's client, against the real server (prod mode, one port)."""
    import asyncio
    import threading

    from mcp import Client

    app = setup[2]
    found: dict[str, object] = {}

    async def use() -> None:
        async with Client(f"{app.url}/mcp") as finch:
            found["tools"] = [tool.name for tool in (await finch.list_tools()).tools]
            found["quote"] = (await finch.call_tool("get_stock_quote", {"ticker": "NVDA"})).structured_content

    # Playwright's sync API owns this thread's event loop: the client gets a thread of its own.
    worker = threading.Thread(target=lambda: asyncio.run(use()))
    worker.start()
    worker.join(60)
    assert "get_stock_quote" in found["tools"] and "research__lookup" not in found["tools"]
    assert found["quote"]["symbol"] == "NVDA" and found["quote"]["provenance"]["mode"] == "sample"
