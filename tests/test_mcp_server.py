"""Finch as an MCP server: the official SDK's client lists and calls Finch's own tools at `/mcp`,
over a real socket, in offline mode; callers are authenticated and scoped to their own data, and
each call is recorded as a run in the caller's history."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from sqlmodel import select

from finch_app.api import create_api
from finch_app.auth import store
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.db.models import Conversation, Message, ToolCall
from finch_app.settings import reset_settings
from finch_app.tools import SERVED_TOOLS, default_registry
from tests.fakes.loopback import LoopbackServer

pytestmark = pytest.mark.persistence

PASSWORD = "correct horse battery"


class LiveFinch(LoopbackServer):
    """Finch's HTTP app (with `/mcp`) on a free loopback port; `url` is the MCP endpoint."""

    def __init__(self) -> None:
        super().__init__(create_api(), name="finch-mcp-test")

    @property
    def url(self) -> str:
        return f"{self.base_url}/mcp"


@pytest.fixture
def finch(monkeypatch) -> Iterator[LiveFinch]:
    with LiveFinch() as server:
        # Finch answers only for its own port's Host (DNS-rebinding defence): make this port Finch's.
        monkeypatch.setenv("PORT", str(server.port))
        reset_settings()
        yield server


@pytest.fixture
def password_mode(monkeypatch) -> None:
    monkeypatch.setenv("FINCH_AUTH", "password")
    reset_settings()


def with_token(url: str, token: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
    return Client(streamable_http_client(url, http_client=http))


def holds(user_id: str, **positions: float) -> None:
    with session_scope() as session:
        for symbol, shares in positions.items():
            crud.upsert_holding(
                session=session, user_id=user_id, symbol=symbol, shares=shares, cost_basis=100.0, name=symbol
            )


def leaves(exc: BaseException) -> list[MCPError]:
    """The MCP errors inside (nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc] if isinstance(exc, MCPError) else []


def symbols(result) -> set[str]:
    return {row["symbol"] for row in result.structured_content["holdings"]}


# --- the tools --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_sdk_client_lists_finchs_data_tools_with_the_agents_schemas_and_calls_one(finch, mode):
    own = default_registry()
    async with Client(finch.url, mode=mode) as client:
        assert client.server_info is not None and client.server_info.name == "finch"
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert list(listed) == list(SERVED_TOOLS)
        for name, tool in listed.items():
            spec = own.get(name)
            assert tool.description == spec.description
            assert tool.input_schema == spec.schema()["function"]["parameters"]
            assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert not {"add_holding", "record_trade", "remove_holding", "update_holding"} & set(listed), (
            "nothing that changes data"
        )

        result = await client.call_tool("get_stock_quote", {"ticker": "aapl"})
    assert result.is_error is False
    quote = result.structured_content
    assert quote["symbol"] == "AAPL" and quote["price"] > 0
    assert quote["provenance"]["source"] == "Yahoo Finance (bundled sample)"
    assert quote["provenance"]["as_of"].startswith("20"), "the result names its source and as-of time"
    assert json.loads(result.content[0].text) == quote


async def test_progress_arrives_and_each_call_is_recorded_as_a_run_in_the_callers_history(
    finch, demo_holdings
):
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        seen.append((value, total, message))

    async with Client(finch.url, client_info=_info("notebook-agent")) as client:
        result = await client.call_tool("get_portfolio", {}, progress_callback=progress)
    assert not result.is_error and symbols(result) >= {"NVDA", "AAPL"}
    assert [m for _, _, m in seen][:2] == [
        "Loading your holdings…",
        f"Pricing {len(symbols(result))} holdings…",
    ]
    assert [v for v, _, _ in seen] == sorted(v for v, _, _ in seen) and all(t == 100.0 for _, t, _ in seen)

    with session_scope() as session:
        [conversation] = session.exec(select(Conversation).where(Conversation.user_id == "local")).all()
        assert conversation.title == "MCP client notebook-agent: get_portfolio()"
        question, answer = session.exec(select(Message).order_by(Message.created_at)).all()
        assert question.content == "MCP client notebook-agent called get_portfolio()"
        assert answer.role == "assistant" and answer.status == "completed" and "holdings" in answer.content
        [call] = session.exec(select(ToolCall)).all()
        assert (call.name, call.status, call.user_id) == ("get_portfolio", "completed", "local")


async def test_bad_arguments_and_unknown_tools_are_tool_errors(finch):
    async with Client(finch.url) as client:
        bad = await client.call_tool("get_stock_quote", {"ticker": "1"})
        unknown = await client.call_tool("add_holding", {"ticker": "NVDA", "shares": 1})
    assert bad.is_error and "Invalid arguments for get_stock_quote: ticker" in bad.content[0].text
    assert unknown.is_error and unknown.content[0].text.startswith("Finch has no tool named 'add_holding'.")


# --- who may call --------------------------------------------------------------------------------


async def test_password_mode_needs_a_token_and_each_token_sees_only_its_users_portfolio(finch, password_mode):
    alice, bob = store.add_user("alice", PASSWORD), store.add_user("bob", PASSWORD)
    holds(alice.id, NVDA=10, AMD=5)
    holds(bob.id, TSLA=3)
    _, alice_token = store.create_token(alice.id, "agent")
    _, bob_token = store.create_token(bob.id, "agent")

    async with httpx.AsyncClient() as http:
        bare = await http.post(
            finch.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
        forged = await http.post(
            finch.url, json={}, headers={"Authorization": "Bearer finch_not-a-real-token-000000"}
        )
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
    assert bare.json()["error"]["message"].startswith("Unauthorized")
    assert forged.status_code == 401
    with pytest.raises(Exception) as refused:  # noqa: PT011 - the SDK wraps it in exception groups
        async with Client(finch.url) as client:
            await client.list_tools()
    assert any("Unauthorized: send a Finch API token" in e.error.message for e in leaves(refused.value))

    async with with_token(finch.url, alice_token) as client:
        mine = await client.call_tool("get_portfolio", {})
    async with with_token(finch.url, bob_token) as client:
        theirs = await client.call_tool("get_portfolio", {})
    assert symbols(mine) == {"NVDA", "AMD"}
    assert symbols(theirs) == {"TSLA"}
    with session_scope() as session:
        owners = sorted(c.user_id for c in session.exec(select(Conversation)).all())
    assert owners == sorted([alice.id, bob.id]), "each call is in its caller's own history"


async def test_with_no_accounts_only_this_machine_may_call():
    app = create_api()
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}

    def client(peer: str, host: str = "127.0.0.1:3000") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(peer, 5000))
        return httpx.AsyncClient(transport=transport, base_url=f"http://{host}")

    async with client("10.1.2.3") as remote:
        refused = await remote.post("/mcp", json=body, headers=headers)
    async with client("127.0.0.1", host="evil.example:3000") as rebound:
        renamed = await rebound.post("/mcp", json=body, headers=headers)
    async with client("127.0.0.1") as local:
        cross_site = await local.post(
            "/mcp", json=body, headers={**headers, "Origin": "https://evil.example"}
        )
    assert refused.status_code == 403 and "its own machine only" in refused.json()["error"]["message"]
    assert renamed.status_code == 400, "a rebound Host name is refused before any route runs"
    assert cross_site.status_code == 403


def _info(name: str):
    import mcp_types

    return mcp_types.Implementation(name=name, version="1.0")


async def test_the_endpoint_is_not_a_page_and_holds_no_stream_open(password_mode):
    transport = httpx.ASGITransport(app=create_api(), client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:3000") as http:
        stream = await http.get("/mcp", headers={"Accept": "text/event-stream"})
        anonymous = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert (stream.status_code, stream.headers["allow"]) == (405, "POST"), (
        "stateless: no standalone stream to hold open"
    )
    assert anonymous.status_code == 401, "an MCP client is told to authenticate, not sent to the sign-in page"
