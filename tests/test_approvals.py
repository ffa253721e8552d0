"""Tools that change things ask first, and the question survives anything.

The run service end to end on the real holdings tools: a change pauses its run (no task waits),
the user decides (once; only theirs), the run goes on from what was stored — in this process or
a new one — and the model sees exactly what it would have seen had it never paused.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from finch_app.agent.approvals import Decision
from finch_app.agent.events import (
    AssistantMessage,
    Done,
    ToolApprovalDecided,
    ToolApprovalRequired,
    ToolCallComplete,
)
from finch_app.agent.loop import Agent
from finch_app.context import build_providers
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.db.models import Message, Run, ToolCall
from finch_app.providers.portfolio import HoldingsBook
from finch_app.runs import RunRefused, RunService
from finch_app.runs.approvals import ApprovalPolicy, BadPolicy, parse_policy
from finch_app.settings import get_settings
from finch_app.tools import default_registry
from tests.fakes.scripted_model import ScriptedModel, text, tool_call, tool_calls
from tests.support import answer

pytestmark = [pytest.mark.usefixtures("demo_holdings"), pytest.mark.persistence]

BUY = {"ticker": "NVDA", "side": "buy", "shares": 10, "price": 120}


def service_with(model: ScriptedModel, policy: str = "") -> RunService:
    settings = get_settings()
    agent = Agent(
        model=model, registry=default_registry(), deps=build_providers(settings), system_prompt="test"
    )
    return RunService(agent=agent, settings=settings, approvals=ApprovalPolicy(parse_policy(policy)))


def approve(by: str = "local", via: str = "api") -> Decision:
    return Decision(approved=True, decided_by=by, via=via)


async def shares(symbol: str) -> float:
    held = {p.symbol: p for p in await HoldingsBook().list("local")}
    return held[symbol].shares if symbol in held else 0.0


# --- the policy -------------------------------------------------------------------------------


def test_read_only_tools_run_at_once_and_tools_that_change_data_ask():
    rule = ApprovalPolicy({}).for_user(set())
    assert rule("get_portfolio", False) is False
    assert rule("record_trade", True) is True


def test_the_operator_can_allow_or_require_and_a_user_can_always_allow_what_is_not_required():
    policy = ApprovalPolicy(parse_policy("record_trade=allow, get_portfolio=require, add_holding=ask"))
    rule = policy.for_user({"add_holding", "remove_holding"})
    assert rule("record_trade", True) is False
    assert rule("get_portfolio", False) is True
    assert rule("add_holding", True) is False and rule("remove_holding", True) is False
    assert rule("update_holding", True) is True
    assert not policy.user_may_always_allow("get_portfolio") and policy.user_may_always_allow("add_holding")
    with pytest.raises(BadPolicy, match="record_trade=maybe"):
        parse_policy("record_trade=maybe")


# --- pause, decide, go on ----------------------------------------------------------------------


async def test_a_change_pauses_its_run_and_approving_goes_on_to_the_answer():
    model = ScriptedModel(tool_call("record_trade", BUY, id="trade"), text("Done: you now hold 65 NVDA."))
    service = service_with(model)
    started, events = await answer(service, "I bought 10 shares of NVDA at 120")

    asked = next(e for e in events if isinstance(e, ToolApprovalRequired))
    assert asked.description == "Record a purchase of 10 shares of NVDA at $120.00 (adds to your holding)"
    assert asked.arguments["shares"] == 10
    assert isinstance(events[-1], Done) and events[-1].status == "awaiting_approval"
    assert await shares("NVDA") == 55, "nothing changes before the user says yes"
    assert await service.live_run(started.conversation_id) is None, "no task waits"
    with session_scope() as session:
        run = session.exec(select(Run)).one()
        assert run.status == "awaiting_approval" and run.resume_state
        call = session.exec(select(ToolCall)).one()
        assert (call.status, call.description) == ("awaiting_approval", asked.description)
        assert (
            session.exec(select(Message).where(Message.role == "assistant")).one().status
            == "awaiting_approval"
        )
    with pytest.raises(RunRefused) as busy:
        await service.start(user_id="local", conversation_id=started.conversation_id, message="and AMD?")
    assert busy.value.status == 409 and "approval" in busy.value.message

    outcome = await service.decide(
        user_id="local", run_id=started.run_id, tool_call_id="trade", decision=approve(via="browser")
    )
    assert outcome.decided and outcome.approved and outcome.resumed
    rest = [e async for e in await service.follow(started.run_id)]
    seqs = [e.seq for e in rest]
    assert seqs == sorted(set(seqs)) and seqs[0] == 0, "one strictly increasing numbering across the pause"
    decided = next(e for e in rest if isinstance(e, ToolApprovalDecided))
    assert decided.approved and decided.via == "browser"
    complete = next(e for e in rest if isinstance(e, ToolCallComplete))
    assert complete.status == "completed" and complete.summary == "NVDA: 55 → 65 shares"
    assert isinstance(rest[-1], Done) and rest[-1].status == "completed"
    assert await shares("NVDA") == 65
    with session_scope() as session:
        call = session.exec(select(ToolCall)).one()
        assert (call.status, call.decision, call.decided_by, call.decided_via) == (
            "completed",
            "approved",
            "local",
            "browser",
        )
        assert call.decided_at is not None
        [message] = session.exec(select(Message).where(Message.role == "assistant")).all()
        assert (message.status, message.content) == ("completed", "Done: you now hold 65 NVDA. ")
        assert session.exec(select(Run)).one().status == "completed"
    model.assert_complete()


async def test_the_model_sees_exactly_what_it_would_have_seen_without_the_pause():
    def script() -> ScriptedModel:
        return ScriptedModel(
            tool_calls(("get_stock_quote", {"ticker": "AMD"}, "read"), ("record_trade", BUY, "trade")),
            text("All set."),
        )

    at_once = script()
    await answer(service_with(at_once, "record_trade=allow"), "I bought 10 NVDA at 120; and AMD's price?")
    await HoldingsBook().load_demo("local")

    paused = script()
    service = service_with(paused)
    started, _ = await answer(service, "I bought 10 NVDA at 120; and AMD's price?")
    await service.decide(user_id="local", run_id=started.run_id, tool_call_id="trade", decision=approve())
    [e async for e in await service.follow(started.run_id)]

    def seen(model: ScriptedModel) -> list[dict]:
        # The quote's result names its saved table, whose id differs from run to run.
        return [
            {**m.model_dump(), "content": (m.content or "").split("[Saved for")[0]} for m in model.calls[1]
        ]

    assert seen(paused) == seen(at_once)
    assert [m.role for m in paused.calls[1]] == ["system", "user", "assistant", "tool", "tool"]


async def test_a_denial_with_a_reason_reaches_the_model_and_nothing_changes():
    model = ScriptedModel(
        tool_call("remove_holding", {"ticker": "TSLA"}, id="rm"), text("Understood, I left it.")
    )
    service = service_with(model)
    await HoldingsBook().save("local", [crud_position("TSLA", 12, 200)])
    started, _ = await answer(service, "remove TSLA from my portfolio")
    outcome = await service.decide(
        user_id="local",
        run_id=started.run_id,
        tool_call_id="rm",
        decision=Decision(approved=False, reason="I still hold it", decided_by="local", via="api"),
    )
    assert outcome.decided and not outcome.approved and outcome.resumed
    rest = [e async for e in await service.follow(started.run_id)]
    denied = next(e for e in rest if isinstance(e, ToolCallComplete))
    assert (denied.status, denied.error) == ("denied", "I still hold it")
    tool_result = next(m for m in model.calls[1] if m.role == "tool")
    assert "Denied" in tool_result.content and "I still hold it" in tool_result.content
    assert isinstance(rest[-2], AssistantMessage) and rest[-2].content.startswith("Understood")
    assert await shares("TSLA") == 12


async def test_deciding_twice_changes_nothing_and_another_users_call_is_not_found():
    model = ScriptedModel(tool_call("record_trade", BUY, id="trade"), text("ok"))
    service = service_with(model)
    started, _ = await answer(service, "bought 10 NVDA at 120")
    with pytest.raises(RunRefused) as foreign:
        await service.decide(
            user_id="mallory", run_id=started.run_id, tool_call_id="trade", decision=approve("mallory")
        )
    assert foreign.value.status == 404
    first = await service.decide(
        user_id="local", run_id=started.run_id, tool_call_id="trade", decision=approve()
    )
    [e async for e in await service.follow(started.run_id)]
    again = await service.decide(
        user_id="local",
        run_id=started.run_id,
        tool_call_id="trade",
        decision=Decision(approved=False, reason="changed my mind", decided_by="local", via="api"),
    )
    assert first.decided and not again.decided and again.approved and not again.resumed
    assert await shares("NVDA") == 65
    with pytest.raises(RunRefused):
        await service.decide(
            user_id="local", run_id=started.run_id, tool_call_id="no-such-call", decision=approve()
        )


async def test_the_question_survives_a_restart_and_a_new_process_goes_on(tmp_path):
    model = ScriptedModel(tool_call("record_trade", BUY, id="trade"))
    before = service_with(model)
    started, _ = await answer(before, "bought 10 NVDA at 120")
    await before.aclose()  # the process goes away; the run is paused, not interrupted

    after = service_with(ScriptedModel(text("Recorded after the restart.")))
    await after.open()  # a new process starts: runs left `running` are interrupted, waiting ones are not
    outcome = await after.decide(
        user_id="local", run_id=started.run_id, tool_call_id="trade", decision=approve()
    )
    assert outcome.resumed
    rest = [e async for e in await after.follow(started.run_id)]
    assert rest[0].type == "run_started", "the follower sees the whole run, from before the restart"
    assert rest[-2].content == "Recorded after the restart. "
    assert await shares("NVDA") == 65
    await after.aclose()


async def test_a_change_nobody_approves_in_time_is_denied_and_the_run_says_so(monkeypatch):
    monkeypatch.setattr(get_settings(), "approval_timeout_s", 0.01)
    model = ScriptedModel(tool_call("record_trade", BUY, id="trade"), text("It expired, so nothing changed."))
    service = service_with(model)
    started, _ = await answer(service, "bought 10 NVDA at 120")
    import asyncio

    await asyncio.sleep(0.05)
    assert await service.expire_approvals() == 1
    rest = [e async for e in await service.follow(started.run_id)]
    decided = next(e for e in rest if isinstance(e, ToolApprovalDecided))
    assert (
        not decided.approved
        and decided.via == "expiry"
        and decided.reason.startswith("Nobody approved it within")
    )
    assert await shares("NVDA") == 55
    assert await service.expire_approvals() == 0, "once"


async def test_stop_while_waiting_cancels_the_change():
    service = service_with(ScriptedModel(tool_call("record_trade", BUY, id="trade")))
    started, _ = await answer(service, "bought 10 NVDA at 120")
    assert await service.waiting_run("local", started.conversation_id) == started.run_id
    assert await service.stop(started.run_id)
    with session_scope() as session:
        assert session.exec(select(Run)).one().status == "cancelled"
        assert session.exec(select(ToolCall)).one().status == "cancelled"
        assert session.exec(select(Message).where(Message.role == "assistant")).one().status == "cancelled"
    assert await service.waiting_run("local", started.conversation_id) is None
    late = await service.decide(
        user_id="local", run_id=started.run_id, tool_call_id="trade", decision=approve()
    )
    assert not late.decided and not late.resumed, "a yes after the stop changes nothing"
    assert await shares("NVDA") == 55


async def test_always_allow_lets_the_tool_run_at_once_next_time():
    model = ScriptedModel(
        tool_call("record_trade", BUY, id="first"),
        text("ok"),
        tool_call("record_trade", {**BUY, "shares": 1}, id="second"),
        text("ok again"),
    )
    service = service_with(model)
    started, _ = await answer(service, "bought 10 NVDA at 120")
    await service.decide(
        user_id="local", run_id=started.run_id, tool_call_id="first", decision=approve(), always_allow=True
    )
    [e async for e in await service.follow(started.run_id)]
    _, events = await answer(service, "and 1 more", conversation_id=started.conversation_id)
    assert not any(isinstance(e, ToolApprovalRequired) for e in events)
    assert await shares("NVDA") == 66
    with session_scope() as session:
        assert crud.allowed_tools(session=session, user_id="local") == {"record_trade"}


def crud_position(symbol: str, shares_: float, cost: float):
    from finch_app.providers.base import Position

    return Position(symbol, "", shares_, cost)


async def test_adding_a_first_holding_by_chat_does_not_leave_the_no_portfolio_box():
    model = ScriptedModel(
        tool_call("get_portfolio", {}, id="read"),
        tool_call("add_holding", {"ticker": "NVDA", "shares": 10, "cost_basis": 120}, id="add"),
        text("Added NVDA: your first holding."),
    )
    service = service_with(model)
    started, events = await answer(service, "I bought 10 NVDA at 120", user_id="newcomer")
    assert isinstance(events[-1], Done) and events[-1].status == "awaiting_approval"
    await service.decide(
        user_id="newcomer", run_id=started.run_id, tool_call_id="add", decision=approve("newcomer")
    )
    rest = [e async for e in await service.follow(started.run_id)]
    final = next(e for e in rest if isinstance(e, AssistantMessage))
    assert final.needs_auth is False, "the portfolio is no longer missing once its first holding is added"
    assert [p.symbol for p in await HoldingsBook().list("newcomer")] == ["NVDA"]
