"""Approvals over HTTP: the stream asks and ends, a route lists what waits, another decides it,
and the run goes on where a client can follow it again. Someone else's call is a 404."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from finch_app.api import create_api
from finch_app.auth import store
from finch_app.providers.portfolio import HoldingsBook
from finch_app.settings import reset_settings
from tests.fakes.scripted_model import ScriptedModel, text, tool_call
from tests.support import install_context

pytestmark = [pytest.mark.usefixtures("demo_holdings"), pytest.mark.persistence]

BUY = {"ticker": "NVDA", "side": "buy", "shares": 10, "price": 120}


def client(headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(), client=("127.0.0.1", 5000)),
        base_url="http://127.0.0.1:3000",
        headers=headers or {},
        timeout=30,
    )


def sse(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.split("\n\n"):
        lines = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":")
        )
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


async def settled(http: httpx.AsyncClient, conversation_id: str) -> dict:
    """The conversation once its last answer is final (the run went on in the background)."""
    for _ in range(200):
        detail = (await http.get(f"/api/conversations/{conversation_id}")).json()
        if detail["messages"][-1]["status"] not in ("running", "awaiting_approval"):
            return detail
        await asyncio.sleep(0.05)
    raise AssertionError(f"the answer never settled: {detail['messages'][-1]}")


async def test_the_stream_asks_then_ends_and_deciding_lets_the_run_go_on():
    install_context(ScriptedModel(tool_call("record_trade", BUY, id="trade"), text("Recorded: 65 NVDA now.")))
    async with client() as http:
        first = sse((await http.post("/api/chat/stream", json={"message": "I bought 10 NVDA at 120"})).text)
        names = [name for name, _ in first]
        assert names[-2:] == ["tool_approval_required", "done"]
        asked, done = first[-2][1], first[-1][1]
        assert (
            asked["description"] == "Record a purchase of 10 shares of NVDA at $120.00 (adds to your holding)"
        )
        assert asked["tool_name"] == "record_trade" and asked["arguments"]["shares"] == 10
        assert done["status"] == "awaiting_approval" and "resume" not in done
        run_id = done["run_id"]

        [waiting] = (await http.get("/api/approvals")).json()
        assert (waiting["run_id"], waiting["tool_call_id"], waiting["description"]) == (
            run_id,
            "trade",
            asked["description"],
        )
        assert waiting["expires_at"] > waiting["requested_at"]

        decided = (
            await http.post(f"/api/runs/{run_id}/approvals/trade", json={"decision": "approve"})
        ).json()
        conversation_id = first[0][1]["conversation_id"]
        assert decided == {
            "decided": True,
            "approved": True,
            "resumed": True,
            "run_id": run_id,
            "conversation_id": conversation_id,
        }
        rest = sse((await http.get(f"/api/runs/{run_id}/stream", params={"after": done["seq"]})).text)
        assert [name for name, _ in rest][:2] == ["tool_approval_decided", "tool_call_complete"]
        assert rest[-2][1]["content"] == "Recorded: 65 NVDA now. " and rest[-1][1]["status"] == "completed"
        assert all(data["seq"] > done["seq"] for _, data in rest)
        assert (await http.get("/api/approvals")).json() == []

        again = await http.post(f"/api/runs/{run_id}/approvals/trade", json={"decision": "deny"})
        assert (
            again.status_code == 200 and again.json()["decided"] is False and again.json()["approved"] is True
        )
    assert {p.symbol: p.shares for p in await HoldingsBook().list("local")}["NVDA"] == 65


async def test_post_chat_returns_the_waiting_status_and_a_denial_reaches_the_model():
    model = ScriptedModel(
        tool_call("remove_holding", {"ticker": "NVDA"}, id="rm"), text("Kept it, as you asked.")
    )
    install_context(model)
    async with client() as http:
        reply = (await http.post("/api/chat", json={"message": "remove NVDA"})).json()
        assert reply["status"] == "awaiting_approval"
        [pending] = reply["pending_approvals"]
        assert pending["description"] == "Remove NVDA from your holdings"
        denied = await http.post(
            f"/api/runs/{reply['run_id']}/approvals/rm", json={"decision": "deny", "reason": "not now"}
        )
        assert denied.json()["resumed"] is True
        detail = await settled(http, reply["conversation_id"])
        [call] = detail["messages"][-1]["tool_calls"]
        assert call["status"] == "denied"
        # The run ended before this client came to follow it: it still gets the whole run.
        rest = sse((await http.get(f"/api/runs/{reply['run_id']}/stream")).text)
        complete = next(data for name, data in rest if name == "tool_call_complete")
        assert (complete["status"], complete["error"]) == ("denied", "not now")
        assert rest[0][0] == "run_started" and rest[-1][1]["status"] == "completed"
    assert "not now" in next(m for m in model.calls[1] if m.role == "tool").content
    assert "NVDA" in {p.symbol for p in await HoldingsBook().list("local")}


async def test_only_the_runs_user_can_see_or_decide_its_changes(monkeypatch):
    monkeypatch.setenv("FINCH_AUTH", "password")
    reset_settings()
    alice = store.add_user("alice", "alice's long password")
    bob = store.add_user("bob", "bob's long password")
    alice_token, bob_token = (store.create_token(u.id, "t")[1] for u in (alice, bob))
    await HoldingsBook().load_demo(alice.id)
    install_context(ScriptedModel(tool_call("record_trade", BUY, id="trade"), text("ok")))
    async with (
        client({"Authorization": f"Bearer {alice_token}"}) as a,
        client({"Authorization": f"Bearer {bob_token}"}) as b,
    ):
        done = sse((await a.post("/api/chat/stream", json={"message": "bought 10 NVDA at 120"})).text)[-1][1]
        run_id = done["run_id"]
        assert (await b.get("/api/approvals")).json() == []
        for response in (
            await b.post(f"/api/runs/{run_id}/approvals/trade", json={"decision": "approve"}),
            await b.get(f"/api/runs/{run_id}/stream"),
            await b.post("/api/runs/no-such-run/approvals/trade", json={"decision": "approve"}),
        ):
            assert response.status_code == 404
        assert len((await a.get("/api/approvals")).json()) == 1
        audit = (await a.post(f"/api/runs/{run_id}/approvals/trade", json={"decision": "approve"})).json()
        assert audit["resumed"]
        sse((await a.get(f"/api/runs/{run_id}/stream")).text)
        detail = (await a.get(f"/api/conversations/{audit['conversation_id']}")).json()
        assert detail["messages"][-1]["status"] == "completed"


def test_the_decision_route_is_in_the_openapi_document():
    paths = create_api().openapi()["paths"]
    decide = paths["/api/runs/{run_id}/approvals/{tool_call_id}"]["post"]
    assert "approval" in "/api/runs/{run_id}/approvals/{tool_call_id}"
    assert decide["requestBody"]["content"]["application/json"]["schema"]
    assert "/api/approvals" in paths and "/api/runs/{run_id}/stream" in paths
    events = paths["/api/chat/stream"]["post"]["responses"]["200"]["content"]["text/event-stream"][
        "itemSchema"
    ]
    assert "tool_approval_required" in events["properties"]["event"]["enum"]
