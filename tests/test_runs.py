"""The run service: the question is saved first, rows follow the events, every run ends once,
and every follower sees the same events — including the same ending."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, create_engine, select

from finch_app.agent.events import (
    AssistantMessage,
    Done,
    Error,
    RunStarted,
    Token,
    ToolCallComplete,
    ToolCallProgress,
    ToolCallStart,
)
from finch_app.agent.loop import CANCELLED_TOOL_RESULT, Agent
from finch_app.agent.tools import ToolRegistry
from finch_app.context import app_context, build_providers
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.db.models import Conversation, Message, Run, ToolCall
from finch_app.runs import RunRefused, RunService
from finch_app.settings import get_settings
from finch_app.tools import default_registry
from tests.fakes.scripted_model import ScriptedModel, model_error, text, tool_call, tool_calls
from tests.support import answer as run
from tests.support import gate_tool, until

pytestmark = [pytest.mark.usefixtures("demo_holdings"), pytest.mark.persistence]


def make_service(model: ScriptedModel, registry: ToolRegistry | None = None) -> RunService:
    settings = get_settings()
    agent = Agent(
        model=model,
        registry=registry or default_registry(),
        deps=build_providers(settings),
        system_prompt="test",
    )
    return RunService(agent=agent, settings=settings)


async def test_a_run_is_persisted_and_survives_a_new_engine():
    model = ScriptedModel(
        tool_calls(("get_portfolio", {}, "call_p"), ("get_recent_senate_trades", {"limit": 5}, "call_s")),
        text("Here is your portfolio next to the Senate trades."),
    )
    started, events = await run(make_service(model), "compare my portfolio with recent senate trades")
    assert isinstance(events[0], RunStarted) and events[0].conversation_id == started.conversation_id
    assert isinstance(events[-1], Done)
    assert [e.seq for e in events] == list(range(len(events))), "one numbering, from run_started on"

    # A brand-new engine on the same file sees everything.
    fresh = create_engine(get_settings().database_url)
    with Session(fresh) as session:
        conversation = session.exec(select(Conversation)).one()
        assert conversation.title == "compare my portfolio with recent senate trades"
        messages = session.exec(select(Message).order_by(Message.created_at)).all()
        assert [(m.role, m.status) for m in messages] == [("user", "completed"), ("assistant", "completed")]
        assert messages[1].content.startswith("Here is your portfolio")
        calls = session.exec(select(ToolCall).order_by(ToolCall.position)).all()
        assert [(c.tool_call_id, c.name, c.status) for c in calls] == [
            ("call_p", "get_portfolio", "completed"),
            ("call_s", "get_recent_senate_trades", "completed"),
        ]
        assert calls[1].arguments == {"limit": 5}
        assert calls[0].summary.startswith("8 holdings") and calls[0].duration_ms is not None
        assert calls[0].finished_at is not None and '"holdings"' in calls[0].output
        assert session.exec(select(Run)).one().status == "completed"
    fresh.dispose()


async def test_the_user_message_is_saved_before_the_model_runs():
    seen_in_db: list[str] = []

    class Peeking(ScriptedModel):
        async def stream(self, messages, tools):
            with session_scope() as session:
                seen_in_db.extend(m.content for m in session.exec(select(Message)).all())
            async for output in super().stream(messages, tools):
                yield output

    await run(make_service(Peeking(text("hi"))), "hello there")
    assert seen_in_db == ["hello there"]


async def test_model_error_keeps_the_question_and_records_the_error():
    started, events = await run(
        make_service(ScriptedModel(model_error("Rate limited.", retryable=True))), "hello"
    )
    assert isinstance(events[-1], Error) and events[-1].status == "error"
    with session_scope() as session:
        turns = crud.conversation_turns(
            session=session, user_id="local", conversation_id=started.conversation_id
        )
        assert [(t.message.role, t.message.status) for t in turns] == [
            ("user", "completed"),
            ("assistant", "error"),
        ]
        assert turns[1].message.error == "Rate limited." and turns[1].message.retryable
        assert session.exec(select(Run)).one().status == "error"


async def test_a_stop_ends_the_run_once_for_every_follower_and_the_rows():
    release, registry = gate_tool()
    service = make_service(ScriptedModel(tool_call("gated", {}, id="call_1")), registry)
    started = await service.start(user_id="local", conversation_id=None, message="go")
    first, second = await service.follow(started.run_id), await service.follow(started.run_id)
    await until(first, ToolCallProgress)
    assert await service.stop(started.run_id)
    rest_first = [e async for e in first]
    seen_second = [e async for e in second]

    # The same closing events, once, for both: the open card ends cancelled, then the error.
    closing = rest_first[-2:]
    assert seen_second[-2:] == closing
    assert isinstance(closing[0], ToolCallComplete) and closing[0].status == "cancelled"
    assert isinstance(closing[1], Error) and closing[1].status == "cancelled" and closing[1].retryable
    assert [e.seq for e in seen_second] == list(range(len(seen_second)))

    # The rows were final before the feeds ended.
    with session_scope() as session:
        assert session.exec(select(Run)).one().status == "cancelled"
        assert session.exec(select(ToolCall)).one().status == "cancelled"
        answer = session.exec(select(Message).where(Message.role == "assistant")).one()
        assert (answer.status, answer.error) == ("cancelled", None)
    assert await service.live_run(started.conversation_id) is None

    # The next turn's history pairs the cancelled call with a result that says so.
    model = ScriptedModel(text("ok"))
    service.agent.model = model
    await run(service, "again", conversation_id=started.conversation_id)
    history = model.calls[0]
    assert [m.role for m in history] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert history[3].tool_call_id == "call_1" and history[3].content == CANCELLED_TOOL_RESULT


async def test_a_run_stopped_before_its_task_began_still_ends_properly():
    service = make_service(ScriptedModel(text("never said")))
    started = await service.start(user_id="local", conversation_id=None, message="go")
    await service.stop(started.run_id, wait=True)  # before the run's task had its first turn
    events = [e async for e in await service.follow(started.run_id)]
    assert events == []  # it is over: nothing to follow
    with session_scope() as session:
        assert session.exec(select(Run)).one().status == "cancelled"
        assert session.exec(select(Message).where(Message.role == "assistant")).one().status == "cancelled"


async def test_follow_up_turns_carry_earlier_tool_results():
    model = ScriptedModel(
        tool_call("get_recent_house_trades", {"limit": 3}, id="h1"), text("Three trades."), text("Sure.")
    )
    service = make_service(model)
    started, _ = await run(service, "latest house trades")
    await run(service, "who made the first one?", conversation_id=started.conversation_id)
    history = model.calls[2]
    tool_message = next(m for m in history if m.role == "tool")
    assert tool_message.tool_call_id == "h1" and '"trades"' in tool_message.content
    assert history[-1].content == "who made the first one?"


@pytest.mark.parametrize(
    ("message", "fragment", "status"),
    [("   \n ", "empty", 400), ("x" * 8001, "limit is 8,000", 400)],
)
async def test_bad_messages_are_refused_before_anything_is_saved(message, fragment, status):
    with pytest.raises(RunRefused) as caught:
        await make_service(ScriptedModel()).start(user_id="local", conversation_id=None, message=message)
    assert fragment in caught.value.message and caught.value.status == status
    with session_scope() as session:
        assert session.exec(select(Message)).all() == []


async def test_conversations_are_scoped_to_their_owner():
    service = make_service(ScriptedModel(text("mine")))
    started, _ = await run(service, "hello", user_id="alice")
    with pytest.raises(RunRefused) as caught:
        await service.start(user_id="bob", conversation_id=started.conversation_id, message="let me in")
    assert caught.value.status == 404
    with pytest.raises(RunRefused):
        await service.delete_conversation(user_id="bob", conversation_id=started.conversation_id)
    with session_scope() as session:
        assert crud.list_conversations(session=session, user_id="bob") == []
        assert (
            crud.get_conversation(session=session, user_id="bob", conversation_id=started.conversation_id)
            is None
        )
        assert len(crud.list_conversations(session=session, user_id="alice")) == 1


async def test_runs_left_running_by_a_dead_process_are_marked_interrupted():
    release, registry = gate_tool()
    service = make_service(ScriptedModel(tool_call("gated", {}, id="c")), registry)
    started = await service.start(user_id="local", conversation_id=None, message="go")
    await until(await service.follow(started.run_id), ToolCallProgress)
    await service.recorder.flush()  # the card's row is written a moment after the card goes out
    # As a new process finds them: the rows as they were, nothing closed them.
    with session_scope() as session:
        assert crud.mark_interrupted_runs(session=session) == 1
    with session_scope() as session:
        assert session.exec(select(Run)).one().status == "interrupted"
        assert session.exec(select(ToolCall)).one().status == "interrupted"
        answer = session.exec(select(Message).where(Message.role == "assistant")).one()
        assert answer.status == "interrupted" and "server stopped" in answer.error
    await service.stop(started.run_id, wait=True)


async def test_shutdown_ends_running_runs_as_interrupted():
    release, registry = gate_tool()
    service = make_service(ScriptedModel(tool_call("gated", {}, id="c")), registry)
    started = await service.start(user_id="local", conversation_id=None, message="go")
    feed = await service.follow(started.run_id)
    await until(feed, ToolCallProgress)
    await service.aclose()
    closing = [e async for e in feed]
    assert [(e.type, e.status) for e in closing] == [
        ("tool_call_complete", "interrupted"),
        ("error", "interrupted"),
    ]
    with session_scope() as session:
        assert session.exec(select(Run)).one().status == "interrupted"


async def test_offline_model_answers_from_sample_data_end_to_end():
    service = app_context().runs
    assert service.model_label == "Offline model"
    _, events = await run(service, "review my portfolio")
    types = [e.type for e in events]
    assert types[:4] == ["run_started", "tool_call_start", "tool_call_progress", "tool_call_progress"]
    assert types.index("tool_call_complete") < types.index("token")
    answer = next(e for e in events if isinstance(e, AssistantMessage)).content
    assert "| **AAPL** |" in answer and "sample data as of Nov 20, 2026" in answer
    complete = next(e for e in events if isinstance(e, ToolCallComplete))
    assert complete.summary.startswith("8 holdings")


async def test_retry_answers_the_last_question_again_and_hides_the_old_answer():
    model = ScriptedModel(model_error("Server down.", retryable=True), text("Second time lucky."))
    service = make_service(model)
    started, _ = await run(service, "how is my portfolio?")
    retry = await service.retry(user_id="local", conversation_id=started.conversation_id)
    assert retry.question == "how is my portfolio?" and retry.user_message_id == started.user_message_id
    events = [e async for e in await service.follow(retry.run_id)]
    assert isinstance(events[-1], Done)
    # The model saw the question once, without the failed answer.
    assert [m.role for m in model.calls[1]] == ["system", "user"]
    with session_scope() as session:
        turns = crud.conversation_turns(
            session=session, user_id="local", conversation_id=started.conversation_id
        )
        assert [(t.message.role, t.message.content) for t in turns] == [
            ("user", "how is my portfolio?"),
            ("assistant", "Second time lucky. "),
        ]
        assert len(session.exec(select(Run)).all()) == 2


async def test_one_run_per_conversation():
    release, registry = gate_tool()
    service = make_service(ScriptedModel(tool_call("gated", {}, id="c"), text("done")), registry)
    started = await service.start(user_id="local", conversation_id=None, message="first")
    feed = await service.follow(started.run_id)
    await until(feed, ToolCallStart)
    with pytest.raises(RunRefused) as caught:
        await service.start(user_id="local", conversation_id=started.conversation_id, message="second")
    assert caught.value.status == 409 and "still answering" in caught.value.message
    release.set()
    rest = [e async for e in feed]
    assert isinstance(rest[-1], Done)
    # Once it ended, the conversation takes messages again.
    await service.start(user_id="local", conversation_id=started.conversation_id, message="second")


async def test_a_user_keeps_at_most_so_many_conversations(monkeypatch):
    monkeypatch.setenv("FINCH_MAX_CONVERSATIONS_PER_USER", "2")
    from finch_app.settings import reset_settings

    reset_settings()
    service = make_service(ScriptedModel(text("one"), text("two"), text("again")))
    first, _ = await run(service, "q1")
    await run(service, "q2")
    with pytest.raises(RunRefused) as refused:
        await service.start(user_id="local", conversation_id=None, message="q3")
    assert refused.value.status == 409 and "2 conversations" in refused.value.message
    # Going on in an existing conversation is fine (the refused start left no claim behind).
    await run(service, "more", conversation_id=first.conversation_id)
    with session_scope() as session:
        assert len(crud.list_conversations(session=session, user_id="local")) == 2


async def test_parallel_starts_cannot_pass_the_per_user_limit(monkeypatch):
    monkeypatch.setenv("FINCH_MAX_RUNS_PER_USER", "3")
    from finch_app.settings import reset_settings

    reset_settings()
    release, registry = gate_tool()
    service = make_service(ScriptedModel(*[tool_call("gated", {}, id=f"c{i}") for i in range(12)]), registry)
    outcomes = await asyncio.gather(
        *(service.start(user_id="local", conversation_id=None, message=f"q{i}") for i in range(12)),
        return_exceptions=True,
    )
    started = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, RunRefused)]
    assert len(started) == 3 and len(refused) == 9 and {r.status for r in refused} == {429}
    release.set()
    for s in started:
        await service.stop(s.run_id, wait=True)


async def test_a_second_follower_sees_a_live_run_from_its_start():
    release, registry = gate_tool()
    service = make_service(ScriptedModel(tool_call("gated", {}, id="g"), text("finished")), registry)
    started = await service.start(user_id="local", conversation_id=None, message="go")
    owner = await service.follow(started.run_id)
    await until(owner, ToolCallStart)
    assert await service.live_run(started.conversation_id) == started.run_id
    follower = await service.follow(started.run_id)
    release.set()
    owner_rest = [e.type async for e in owner]
    everything = [e.type async for e in follower]
    assert everything[:2] == ["run_started", "tool_call_start"]
    assert everything[-len(owner_rest) :] == owner_rest
    assert owner_rest[-4:] == ["tool_call_complete", "token", "assistant_message", "done"]
    assert await service.live_run(started.conversation_id) is None


async def test_a_follower_who_comes_after_the_end_replays_the_run_while_it_is_kept(monkeypatch):
    service = make_service(ScriptedModel(text("one"), text("two"), text("three")))
    ids = []
    for question in ("a", "b", "c"):
        started = await service.start(user_id="local", conversation_id=None, message=question)
        [e async for e in await service.follow(started.run_id)]  # to its end
        ids.append(started.run_id)
    late = await service.follow(ids[-1], ended=True)
    assert [e.type async for e in late] == ["run_started", "token", "assistant_message", "done"]
    assert not (await service.follow(ids[-1])).found  # the tab's way: an ended run is read from the rows
    monkeypatch.setattr("finch_app.runs.service.ENDED_KEEP_MAX", 1)
    started = await service.start(user_id="local", conversation_id=None, message="d")
    [e async for e in await service.follow(started.run_id)]
    assert not (await service.follow(ids[0], ended=True)).found  # only the newest is kept
    assert (await service.follow(started.run_id, ended=True)).found
    monkeypatch.setattr("finch_app.runs.service.ENDED_KEEP_S", 0.0)
    assert not (await service.follow(started.run_id, ended=True)).found  # kept only so long


async def test_a_conversation_cannot_be_deleted_while_a_run_answers_in_it():
    release, registry = gate_tool()
    service = make_service(ScriptedModel(tool_call("gated", {}, id="g"), text("ok")), registry)
    started = await service.start(user_id="local", conversation_id=None, message="go")
    feed = await service.follow(started.run_id)
    await until(feed, ToolCallStart)
    with pytest.raises(RunRefused) as caught:
        await service.delete_conversation(user_id="local", conversation_id=started.conversation_id)
    assert caught.value.status == 409
    release.set()
    [e async for e in feed]
    await service.delete_conversation(user_id="local", conversation_id=started.conversation_id)
    with session_scope() as session:
        assert session.exec(select(Conversation)).all() == []
        assert session.exec(select(ToolCall)).all() == []


async def test_an_internal_failure_is_recorded_as_an_error_not_a_stop():
    class BrokenAgent(Agent):
        async def run(self, **kwargs):
            yield Token(**kwargs["stamp"](), text="Half an ans")
            raise RuntimeError("database went away")

    service = make_service(ScriptedModel())
    service.agent = BrokenAgent(
        model=service.agent.model, registry=service.agent.registry, deps=None, system_prompt=""
    )
    _, events = await run(service, "go")
    assert (
        isinstance(events[-1], Error)
        and events[-1].status == "error"
        and "internal error" in events[-1].error
    )
    with session_scope() as session:
        assert session.exec(select(Run)).one().status == "error"
        answer = session.exec(select(Message).where(Message.role == "assistant")).one()
        assert (answer.status, answer.content, answer.retryable) == ("error", "Half an ans", True)
        assert "internal error" in answer.error
