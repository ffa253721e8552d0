"""Finch as an MCP client, end to end: the operator's file, real MCP servers (the SDK's server
side, on loopback HTTP and over stdio), the run service and the agent loop.

The model is scripted, so each test says exactly which remote tool it calls; the servers,
the connections, the approval flow and the database are the real ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from mcp import Client

from finch_app.agent.approvals import Decision
from finch_app.agent.events import (
    AssistantMessage,
    Done,
    ResourceSaved,
    ToolApprovalRequired,
    ToolCallComplete,
    ToolCallProgress,
)
from finch_app.context import AppContext
from finch_app.redact import install_log_redaction
from finch_app.settings import reset_settings
from tests.fakes.mcp_servers import HttpMcpServer
from tests.fakes.scripted_model import ScriptedModel, text, tool_call
from tests.support import answer, install_context

pytestmark = pytest.mark.persistence

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 10.0
OPENAI_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
STDIO = {"command": sys.executable, "args": ["-m", "tests.fakes.mcp_servers", "--stdio"], "cwd": str(ROOT)}


@pytest.fixture
def research() -> Iterator[HttpMcpServer]:
    with HttpMcpServer("research") as server:
        yield server


@pytest.fixture
def configure(tmp_path, monkeypatch) -> Callable[..., None]:
    """Write FINCH_MCP_CONFIG with these servers (and set these environment variables)."""

    def write(servers: dict, **env: str) -> None:
        path = tmp_path / "mcp.json"
        path.write_text(json.dumps({"mcpServers": servers}))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("FINCH_MCP_CONFIG", str(path))
        reset_settings()

    return write


@pytest.fixture
async def connected() -> AsyncIterator[Callable[..., object]]:
    """The app's parts around a scripted model, connected to the configured servers."""
    contexts: list[AppContext] = []

    async def connect(model: ScriptedModel) -> AppContext:
        context = install_context(model)
        assert context.mcp is not None
        contexts.append(context)
        await context.mcp.start()
        return context

    yield connect
    for context in contexts:
        await context.runs.aclose()
        assert context.mcp is not None
        await context.mcp.aclose()


async def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def names(tools: list[dict]) -> list[str]:
    return [t["function"]["name"] for t in tools]


def complete(events) -> ToolCallComplete:
    return next(e for e in events if isinstance(e, ToolCallComplete))


def tool_messages(model: ScriptedModel) -> list[str]:
    return [m.content or "" for m in model.calls[-1] if m.role == "tool"]


# --- the tools reach the model --------------------------------------------------------------


async def test_a_servers_tools_reach_the_model_namespaced_with_its_own_schema_and_description(
    research, configure, connected
):
    configure({"research": {"url": research.url, "deny": ["unlock_tools"]}})
    model = ScriptedModel(text("Hello."))
    context = await connected(model)
    await answer(context.runs, "hi")

    offered = {t["function"]["name"]: t["function"] for t in model.tools[0]}
    remote = sorted(n for n in offered if n.startswith("research__"))
    assert remote == [
        "research__broken",
        "research__lookup",
        "research__save_note",
        "research__slow_report",
        "research__whoami",
    ]
    assert "get_portfolio" in offered, "Finch's own tools are still there"
    assert all(OPENAI_NAME.match(name) for name in offered)
    async with Client(research.url) as direct:
        listed = {t.name: t for t in (await direct.list_tools()).tools}
    assert offered["research__lookup"]["parameters"] == listed["lookup"].input_schema
    assert (
        offered["research__lookup"]["description"] == f"[research MCP server] {listed['lookup'].description}"
    )
    [status] = context.mcp.status()
    assert (status.state, status.error) == ("connected", "")
    assert {info.name: info.asks for info in status.tools}["research__lookup"] is True


async def test_a_remote_call_asks_first_and_goes_on_in_the_run_once_approved(research, configure, connected):
    configure({"research": {"url": research.url}})
    model = ScriptedModel(tool_call("research__save_note", {"text": "buy low"}, id="note"), text("Saved it."))
    context = await connected(model)
    started, events = await answer(context.runs, "note: buy low")

    asked = next(e for e in events if isinstance(e, ToolApprovalRequired))
    assert asked.description == 'Run research · save_note with text="buy low"'
    assert isinstance(events[-1], Done) and events[-1].status == "awaiting_approval"
    assert research.tools.notes == [], "nothing runs on the server before the user says yes"

    outcome = await context.runs.decide(
        user_id="local",
        run_id=started.run_id,
        tool_call_id="note",
        decision=Decision(approved=True, decided_by="local"),
    )
    assert outcome.resumed, "the paused run finds the remote tool again by its name"
    rest = [e async for e in await context.runs.follow(started.run_id)]
    done = complete(rest)
    assert (done.status, done.summary) == ("completed", "Saved note #1.")
    assert research.tools.notes == ["buy low"]
    assert isinstance(rest[-2], AssistantMessage) and rest[-2].content == "Saved it. "


async def test_a_read_only_hint_changes_the_words_not_the_question(research, configure, connected):
    configure({"research": {"url": research.url}})
    model = ScriptedModel(tool_call("research__lookup", {"query": "NVDA"}, id="look"))
    context = await connected(model)
    _, events = await answer(context.runs, "what does research say about NVDA?")
    asked = next(e for e in events if isinstance(e, ToolApprovalRequired))
    assert asked.description == 'Run research · lookup with query="NVDA" — the server says it only reads'


async def test_a_trusted_servers_tool_runs_at_once_with_progress_and_its_rows_become_a_table(
    research, configure, connected
):
    configure({"research": {"url": research.url, "trusted": True}})
    research.tools.release.set()  # the slow tool does not wait for the test this time
    model = ScriptedModel(
        tool_call("research__slow_report", {"ticker": "nvda"}, id="report"), text("Three sources.")
    )
    context = await connected(model)
    _, events = await answer(context.runs, "report on NVDA")

    assert not any(isinstance(e, ToolApprovalRequired) for e in events)
    progress = [(e.message, e.fraction) for e in events if isinstance(e, ToolCallProgress)]
    assert progress == [
        ("Reading source 1 of 3", 0.0),
        ("Reading source 2 of 3", pytest.approx(1 / 3)),
        ("Reading source 3 of 3", pytest.approx(2 / 3)),
    ]
    saved = next(e for e in events if isinstance(e, ResourceSaved))
    assert (saved.title, saved.row_count, saved.partial) == ("research · slow_report", 3, False)
    done = complete(events)
    assert (done.status, done.summary) == ("completed", "3 rows")
    [told] = tool_messages(model)
    result = json.loads(told.split("\n\n[Saved")[0])
    assert result["source"] == "research (MCP server)"
    assert result["data"]["result"][2] == {"source": "desk-3", "ticker": "NVDA", "score": 30}
    assert isinstance(events[-2], AssistantMessage) and events[-2].content == "Three sources. "


# --- faults never break a chat ------------------------------------------------------------------


async def test_a_failing_tool_is_an_error_card_and_the_answer_goes_on(research, configure, connected):
    configure({"research": {"url": research.url, "trusted": True}})
    model = ScriptedModel(
        tool_call("research__broken", {}, id="bad"), text("The desk is down; here is what I know.")
    )
    context = await connected(model)
    _, events = await answer(context.runs, "ask the desk")

    done = complete(events)
    assert done.status == "error" and "Research desk failed: the desk's database is down" in done.error
    assert tool_messages(model)[0].startswith("Error: ")
    assert (
        events[-2].content == "The desk is down; here is what I know. " and events[-1].status == "completed"
    )


async def test_a_server_that_went_away_is_an_error_card_and_it_is_used_again_once_back(
    research, configure, connected
):
    configure({"research": {"url": research.url, "trusted": True}})
    model = ScriptedModel(
        tool_call("research__lookup", {"query": "AMD"}, id="down"),
        text("Research is unavailable; answering without it."),
        tool_call("research__lookup", {"query": "AMD"}, id="up"),
        text("Research is back."),
    )
    context = await connected(model)
    research.stop()

    _, events = await answer(context.runs, "what does research say about AMD?")
    down = complete(events)
    assert down.status == "error" and down.error.startswith("research is unavailable")
    assert events[-2].content == "Research is unavailable; answering without it. "
    assert events[-1].status == "completed"

    research.start()  # the same port
    connection = context.mcp.connections["research"]
    connection.wake()
    await eventually(lambda: connection.state == "connected", "research to be reconnected")
    _, events = await answer(context.runs, "and now?")
    up = complete(events)
    assert (up.status, up.summary) == (
        "completed",
        "Research note on AMD: steady margins, no news this week.",
    )


async def test_a_slow_server_times_out_into_an_error_card(research, configure, connected):
    configure({"research": {"url": research.url, "trusted": True, "timeout_s": 2}})
    model = ScriptedModel(
        tool_call("research__slow_report", {"ticker": "AMD"}, id="slow"), text("Answered without it.")
    )
    context = await connected(model)
    _, events = await answer(context.runs, "slow report")
    done = complete(events)
    assert (done.status, done.error) == ("error", "research did not answer within 2.0 s.")
    assert any(isinstance(e, ToolCallProgress) for e in events), "its progress showed while it ran"
    assert events[-2].content == "Answered without it. "


async def test_a_server_unreachable_at_start_is_listed_with_the_reason_and_chats_still_answer(
    configure, connected
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    configure({"gone": {"url": f"http://127.0.0.1:{port}/mcp", "timeout_s": 2}})
    model = ScriptedModel(text("Fine without it."))
    context = await connected(model)
    [status] = context.mcp.status()
    assert status.state == "unavailable"
    assert status.error == f"cannot connect to http://127.0.0.1:{port}/mcp (is it running?)"
    _, events = await answer(context.runs, "hello")
    assert not any(n.startswith("gone__") for n in names(model.tools[0]))
    assert events[-2].content == "Fine without it. "


async def test_a_changed_tool_list_reaches_the_next_run_without_a_restart(research, configure, connected):
    configure({"research": {"url": research.url, "trusted": True}})
    model = ScriptedModel(
        text("Nothing fresh yet."), tool_call("research__fresh_lookup", {"query": "TSM"}), text("Fresh.")
    )
    context = await connected(model)
    await answer(context.runs, "anything fresh?")
    assert "research__fresh_lookup" not in names(model.tools[0])

    async with Client(research.url) as operator:  # someone changes the server's tools
        await operator.call_tool("unlock_tools", {})
    await eventually(
        lambda: "research__fresh_lookup" in context.mcp.current_tools(), "the tools/list_changed refresh"
    )

    _, events = await answer(context.runs, "and now?")
    assert "research__fresh_lookup" in names(model.tools[1])
    assert complete(events).summary == "Fresh note on TSM."


async def test_header_secrets_never_reach_the_model_the_events_or_the_logs(
    research, configure, connected, caplog
):
    secret = "rt-very-secret-123456"
    configure(
        {
            "research": {
                "url": research.url,
                "trusted": True,
                "headers": {"Authorization": "Bearer ${RESEARCH_TOKEN}"},
            }
        },
        RESEARCH_TOKEN=secret,
    )
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    model = ScriptedModel(tool_call("research__whoami", {}, id="who"), text("Done."))
    context = await connected(model)
    _, events = await answer(context.runs, "who am I to the desk?")
    logging.getLogger("finch.test").warning("the desk was called with %s", f"Bearer {secret}")

    done = complete(events)
    assert "You are calling with [redacted] (key -)" in (done.output or ""), (
        "the server did echo the credential"
    )
    wire = json.dumps([e.model_dump(mode="json") for e in events]) + "".join(
        str(getattr(e, "output", "")) for e in events
    )
    seen_by_model = json.dumps([[m.model_dump() for m in call] for call in model.calls]) + json.dumps(
        model.tools
    )
    assert secret not in wire
    assert secret not in seen_by_model
    assert secret not in caplog.text and "[redacted]" in caplog.text
    assert secret not in json.dumps([s.__dict__ for s in context.mcp.status()], default=str)


# --- stdio ----------------------------------------------------------------------------------


async def test_a_stdio_server_is_started_and_used_like_an_http_one(configure, connected):
    configure({"desk": {**STDIO, "env": {"DESK_KEY": "${DESK_KEY}"}}}, DESK_KEY="desk-key-987654321")
    model = ScriptedModel(
        tool_call("desk__slow_report", {"ticker": "AAPL", "steps": 2}, id="r"), text("Two sources.")
    )
    context = await connected(model)
    [status] = context.mcp.status()
    assert (status.transport, status.state) == ("stdio", "connected")
    started, events = await answer(context.runs, "report")
    assert next(e for e in events if isinstance(e, ToolApprovalRequired)).description == (
        'Run desk · slow_report with ticker="AAPL", steps=2'
    )
    await context.runs.decide(
        user_id="local", run_id=started.run_id, tool_call_id="r", decision=Decision(approved=True)
    )
    rest = [e async for e in await context.runs.follow(started.run_id)]
    assert [e.message for e in rest if isinstance(e, ToolCallProgress)] == [
        "Reading source 1 of 2",
        "Reading source 2 of 2",
    ]
    assert complete(rest).summary == "2 rows"
    assert rest[-2].content == "Two sources. "


async def test_a_stdio_server_that_fails_and_one_that_cannot_start(configure, connected):
    configure(
        {
            "desk": {**STDIO, "trusted": True, "env": {"DESK_KEY": "desk-key-987654321"}},
            "missing": {"command": "/nonexistent/mcp-server", "timeout_s": 5},
        }
    )
    model = ScriptedModel(
        tool_call("desk__whoami", {}, id="who"),
        text("ok"),
        tool_call("desk__broken", {"reason": "no data"}),
        text("ok"),
    )
    context = await connected(model)
    desk, missing = context.mcp.status()
    assert (missing.state, missing.error) == (
        "unavailable",
        "cannot start '/nonexistent/mcp-server': no such command",
    )
    _, events = await answer(context.runs, "who")
    whoami = complete(events)
    assert whoami.summary == "You are calling with no credentials (key [redacted]).", (
        "its env secret is masked too"
    )
    _, events = await answer(context.runs, "break")
    assert complete(events).error == "Error executing tool broken: Research desk failed: no data"
