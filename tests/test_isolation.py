"""Two users through the HTTP API: neither can list, read, continue, stop or delete the
other's conversations, see the other's holdings or saved results. Someone else's id answers
404, exactly like an id that does not exist.
"""

from __future__ import annotations

import httpx
import pytest

from finch_app.api import create_api
from finch_app.auth import store
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.providers.portfolio import DEMO_POSITIONS
from finch_app.settings import reset_settings
from tests.fakes.scripted_model import ScriptedModel, tool_call
from tests.support import gate_tool, install_context

pytestmark = pytest.mark.persistence

MISSING = "0" * 32


@pytest.fixture
def users(monkeypatch):
    monkeypatch.setenv("FINCH_AUTH", "password")
    reset_settings()
    alice = store.add_user("alice", "alice's long password")
    bob = store.add_user("bob", "bob's long password")
    return {
        name: (account, store.create_token(account.id, "test")[1])
        for name, account in (("alice", alice), ("bob", bob))
    }


def as_user(token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api(), client=("127.0.0.1", 5000)),
        base_url="http://localhost:3000",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


async def test_b_cannot_touch_as_conversations(users):
    (_, alice_token), (_, bob_token) = users["alice"], users["bob"]
    async with as_user(alice_token) as a, as_user(bob_token) as b:
        answer = await a.post(
            "/api/chat", json={"message": "what's trending on reddit?", "conversation_id": None}
        )
        assert answer.status_code == 200, answer.text
        cid = answer.json()["conversation_id"]
        assert [c["id"] for c in (await a.get("/api/conversations")).json()] == [cid]

        assert (await b.get("/api/conversations")).json() == []
        for conversation_id in (cid, MISSING):
            responses = [
                await b.get(f"/api/conversations/{conversation_id}"),
                await b.post("/api/chat", json={"message": "and now?", "conversation_id": conversation_id}),
                await b.post(
                    "/api/chat/stream", json={"message": "and now?", "conversation_id": conversation_id}
                ),
                await b.post(f"/api/conversations/{conversation_id}/stop"),
                await b.delete(f"/api/conversations/{conversation_id}"),
                await b.get(f"/api/conversations/{conversation_id}/resources"),
            ]
            assert [r.status_code for r in responses] == [404] * len(responses), [r.text for r in responses]
        # The same answer for "someone else's" as for "no such id": nothing tells them apart.
        assert (await b.get(f"/api/conversations/{cid}")).json() == (
            await b.get(f"/api/conversations/{MISSING}")
        ).json()

        # Alice's conversation is untouched, with its one question and answer.
        detail = (await a.get(f"/api/conversations/{cid}")).json()
        assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
        assert (await a.post(f"/api/conversations/{cid}/stop")).json() == {"stopped": False}
        assert (await a.delete(f"/api/conversations/{cid}")).status_code == 204


async def test_b_cannot_stop_as_running_answer(users):
    (alice, alice_token), (_, bob_token) = users["alice"], users["bob"]
    release, tools = gate_tool()
    runs = install_context(ScriptedModel(tool_call("gated", {}, id="g")), tools).runs
    started = await runs.start(user_id=alice.id, conversation_id=None, message="long question")
    feed = await runs.follow(started.run_id)
    async with as_user(bob_token) as b, as_user(alice_token) as a:
        assert (await b.post(f"/api/conversations/{started.conversation_id}/stop")).status_code == 404
        assert await runs.live_run(started.conversation_id) == started.run_id  # still answering
        assert (await a.post(f"/api/conversations/{started.conversation_id}/stop")).json() == {
            "stopped": True
        }
    assert [e.type async for e in feed][-1] == "error"
    with session_scope() as session:
        assert crud.get_run(session=session, user_id=alice.id, run_id=started.run_id).status == "cancelled"


async def test_b_cannot_see_as_holdings_or_saved_results(users):
    (alice, alice_token), (_, bob_token) = users["alice"], users["bob"]
    with session_scope() as session:
        for p in DEMO_POSITIONS:
            crud.upsert_holding(
                session=session,
                user_id=alice.id,
                symbol=p.symbol,
                shares=p.shares,
                cost_basis=p.cost_basis,
                name=p.name,
            )
    async with as_user(alice_token) as a, as_user(bob_token) as b:
        mine = (await a.post("/api/chat", json={"message": "review my portfolio"})).json()
        assert not mine["needs_auth"] and DEMO_POSITIONS[0].symbol in mine["content"]
        theirs = (await b.post("/api/chat", json={"message": "review my portfolio"})).json()
        assert theirs["needs_auth"]
        assert all(p.symbol not in theirs["content"] for p in DEMO_POSITIONS)

        trending = (await a.post("/api/chat", json={"message": "what's trending on reddit?"})).json()
        listed = (await a.get(f"/api/conversations/{trending['conversation_id']}/resources")).json()
        assert listed, "the trending tool saves its table as a result"
        resource_id = listed[0]["id"]
        assert (await a.get(f"/api/resources/{resource_id}")).status_code == 200
        assert (await b.get(f"/api/resources/{resource_id}")).status_code == 404
        assert (await b.get(f"/api/resources/{resource_id}.csv")).status_code == 404
        assert (await b.get(f"/api/resources/{MISSING}")).status_code == 404


def test_every_query_of_chat_data_names_its_owner():
    """No "load by id, then check": each crud read or write of user data filters on user_id."""
    import inspect

    from finch_app.db import crud as module

    exempt = {
        "title_from",
        "_aware",
        "mark_interrupted_runs",
        "running_runs_started_before",
        "paused_runs_before",
        "end_paused_run",
    }
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if fn.__module__ != module.__name__ or name in exempt or name.startswith("_"):
            continue
        params = inspect.signature(fn).parameters
        if "session" not in params:
            continue
        assert "user_id" in params, f"crud.{name} takes no user_id"
        source = inspect.getsource(fn)
        assert "user_id" in source.split('"""')[-1], f"crud.{name} does not use user_id in its query"
