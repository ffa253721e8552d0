"""ChatService: the user's message is saved first, rows follow the events, every run ends."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, create_engine, select

from finch_app.agent.events import AssistantMessage, Done, Error, RunStarted, Token, ToolCallComplete, ToolCallProgress, ToolCallStart
from finch_app.agent.loop import CANCELLED_TOOL_RESULT, Agent
from finch_app.agent.tools import ToolContext, ToolRegistry, tool
from finch_app.chat_service import ChatInputError, ChatService, build_providers
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.db.models import Conversation, Message, Run, ToolCall
from finch_app.settings import get_settings
from finch_app.tools import default_registry
from tests.fakes.scripted_model import ScriptedModel, model_error, text, tool_call, tool_calls

pytestmark = [pytest.mark.usefixtures("demo_holdings"), pytest.mark.persistence]


def make_service(model: ScriptedModel, registry: ToolRegistry | None = None) -> ChatService:
    settings = get_settings()
    agent = Agent(
        model=model,
        registry=registry or default_registry(),
        deps=build_providers(settings),
        system_prompt="test",
    )
    return ChatService(agent=agent, settings=settings)


async def run(service: ChatService, message: str, conversation_id: str | None = None, user_id: str = "local"):
    turn = await service.start_turn(user_id=user_id, conversation_id=conversation_id, message=message)
    return turn, [event async for event in turn.events()]


async def test_a_run_is_persisted_and_survives_a_new_engine():
    model = ScriptedModel(
        tool_calls(("get_portfolio", {}, "call_p"), ("get_recent_senate_trades", {"limit": 5}, "call_s")),
        text("Here is your portfolio next to the Senate trades."),
    )
    turn, events = await run(make_service(model), "compare my portfolio with recent senate trades")
    assert isinstance(events[0], RunStarted) and events[0].conversation_id == turn.conversation_id
    assert isinstance(events[-1], Done)

    # A brand-new engine on the same file sees everything.
    fresh = create_engine(get_settings().database_url)
    with Session(fresh) as session:
        conversation = session.exec(select(Conversation)).one()
        assert conversation.title == "compare my portfolio with recent senate trades"
        messages = session.exec(select(Message).order_by(Message.created_at)).all()
        assert [(m.role, m.status) for m in messages] == [("user", "complete"), ("assistant", "complete")]
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
    turn, events = await run(make_service(ScriptedModel(model_error("Rate limited.", retryable=True))), "hello")
    assert isinstance(events[-1], Error)
    with session_scope() as session:
        turns = crud.conversation_turns(session=session, user_id="local", conversation_id=turn.conversation_id)
        assert [(t.message.role, t.message.status) for t in turns] == [("user", "complete"), ("assistant", "error")]
        assert turns[1].message.error == "Rate limited." and turns[1].message.retryable
        assert session.exec(select(Run)).one().status == "error"


async def test_stopping_mid_tool_leaves_no_row_running_and_history_stays_valid():
    release = asyncio.Event()

    @tool
    async def stuck(ctx: ToolContext) -> dict:
        """Waits for a gate that never opens."""
        await release.wait()
        return {}

    service = make_service(ScriptedModel(tool_call("stuck", {}, id="call_1")), ToolRegistry.of([stuck]))
    turn = await service.start_turn(user_id="local", conversation_id=None, message="go")
    stream = turn.events()
    async for event in stream:
        if isinstance(event, ToolCallStart):
            break
    await stream.aclose()

    with session_scope() as session:
        assert session.exec(select(Run)).one().status == "cancelled"
        assert session.exec(select(ToolCall)).one().status == "cancelled"
        answer = session.exec(select(Message).where(Message.role == "assistant")).one()
        assert answer.status == "stopped"

    # The next turn's history pairs the cancelled call with a result that says so.
    model = ScriptedModel(text("ok"))
    service.agent.model = model
    await run(service, "again", conversation_id=turn.conversation_id)
    history = model.calls[0]
    assert [m.role for m in history] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert history[3].tool_call_id == "call_1" and history[3].content == CANCELLED_TOOL_RESULT


async def test_follow_up_turns_carry_earlier_tool_results():
    model = ScriptedModel(tool_call("get_recent_house_trades", {"limit": 3}, id="h1"), text("Three trades."), text("Sure."))
    service = make_service(model)
    turn, _ = await run(service, "latest house trades")
    await run(service, "who made the first one?", conversation_id=turn.conversation_id)
    history = model.calls[2]
    tool_message = next(m for m in history if m.role == "tool")
    assert tool_message.tool_call_id == "h1" and '"trades"' in tool_message.content
    assert history[-1].content == "who made the first one?"


@pytest.mark.parametrize(
    ("message", "fragment", "status"),
    [("   \n ", "empty", 400), ("x" * 8001, "limit is 8,000", 400)],
)
async def test_bad_messages_are_refused_before_anything_is_saved(message, fragment, status):
    with pytest.raises(ChatInputError) as caught:
        await make_service(ScriptedModel()).start_turn(user_id="local", conversation_id=None, message=message)
    assert fragment in caught.value.message and caught.value.status == status
    with session_scope() as session:
        assert session.exec(select(Message)).all() == []


async def test_conversations_are_scoped_to_their_owner():
    service = make_service(ScriptedModel(text("mine")))
    turn, _ = await run(service, "hello", user_id="alice")
    with pytest.raises(ChatInputError) as caught:
        await service.start_turn(user_id="bob", conversation_id=turn.conversation_id, message="let me in")
    assert caught.value.status == 404
    with session_scope() as session:
        assert crud.list_conversations(session=session, user_id="bob") == []
        assert crud.get_conversation(session=session, user_id="bob", conversation_id=turn.conversation_id) is None
        assert not crud.delete_conversation(session=session, user_id="bob", conversation_id=turn.conversation_id)
        assert len(crud.list_conversations(session=session, user_id="alice")) == 1


async def test_runs_left_running_by_a_dead_process_are_marked_interrupted():
    release = asyncio.Event()

    @tool
    async def stuck(ctx: ToolContext) -> dict:
        """Never returns."""
        await ctx.report_progress("working")
        await release.wait()
        return {}

    service = make_service(ScriptedModel(tool_call("stuck", {}, id="c")), ToolRegistry.of([stuck]))
    turn = await service.start_turn(user_id="local", conversation_id=None, message="go")
    stream = turn.events()
    async for event in stream:
        # A card's row is written right after the card goes out, so crash one event later.
        if isinstance(event, ToolCallProgress):
            break
    # Simulate a crash: the rows stay as they were; nothing closes the stream.
    with session_scope() as session:
        assert crud.mark_interrupted_runs(session=session) == 1
    with session_scope() as session:
        assert session.exec(select(Run)).one().status == "interrupted"
        assert session.exec(select(ToolCall)).one().status == "interrupted"
        answer = session.exec(select(Message).where(Message.role == "assistant")).one()
        assert answer.status == "interrupted" and "server stopped" in answer.error
    release.set()
    await stream.aclose()


async def test_offline_model_answers_from_sample_data_end_to_end():
    from finch_app.chat_service import get_chat_service

    service = get_chat_service()
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
    turn, _ = await run(service, "how is my portfolio?")
    retry = await service.start_retry(user_id="local", conversation_id=turn.conversation_id)
    assert retry.message == "how is my portfolio?" and retry.user_message_id == turn.user_message_id
    events = [e async for e in retry.events()]
    assert isinstance(events[-1], Done)
    # The model saw the question once, without the failed answer.
    assert [m.role for m in model.calls[1]] == ["system", "user"]
    with session_scope() as session:
        turns = crud.conversation_turns(session=session, user_id="local", conversation_id=turn.conversation_id)
        assert [(t.message.role, t.message.content) for t in turns] == [
            ("user", "how is my portfolio?"),
            ("assistant", "Second time lucky. "),
        ]
        assert len(session.exec(select(Run)).all()) == 2


async def test_one_run_per_conversation():
    release = asyncio.Event()

    @tool
    async def stuck(ctx: ToolContext) -> dict:
        """Waits."""
        await release.wait()
        return {}

    service = make_service(ScriptedModel(tool_call("stuck", {}, id="c"), text("done")), ToolRegistry.of([stuck]))
    turn = await service.start_turn(user_id="local", conversation_id=None, message="first")
    stream = turn.events()
    async for event in stream:
        if isinstance(event, ToolCallStart):
            break
    with pytest.raises(ChatInputError) as caught:
        await service.start_turn(user_id="local", conversation_id=turn.conversation_id, message="second")
    assert caught.value.status == 409 and "still answering" in caught.value.message
    release.set()
    rest = [e async for e in stream]
    assert isinstance(rest[-1], Done)
    # Once it ended, the conversation takes messages again.
    await service.start_turn(user_id="local", conversation_id=turn.conversation_id, message="second")


async def test_a_second_consumer_can_follow_a_live_run_from_its_start():
    release = asyncio.Event()

    @tool
    async def gated(ctx: ToolContext) -> dict:
        """Waits for the test."""
        await release.wait()
        return {"ok": True}

    service = make_service(ScriptedModel(tool_call("gated", {}, id="g"), text("finished")), ToolRegistry.of([gated]))
    turn = await service.start_turn(user_id="local", conversation_id=None, message="go")
    owner = turn.events()
    async for event in owner:
        if isinstance(event, ToolCallStart):
            break
    assert service.active.run_for(turn.conversation_id) == turn.run_id
    follower = service.active.follow(turn.run_id)
    assert (await anext(follower)).type == "run_started"
    assert (await anext(follower)).type == "tool_call_start"
    release.set()
    owner_rest = [e.type async for e in owner]
    follower_rest = [e.type async for e in follower]
    assert follower_rest == owner_rest == ["tool_call_complete", "token", "assistant_message", "done"]
    assert service.active.run_for(turn.conversation_id) is None


async def test_a_conversation_cannot_be_deleted_while_a_run_answers_in_it():
    release = asyncio.Event()

    @tool
    async def gated(ctx: ToolContext) -> dict:
        """Waits for the test."""
        await release.wait()
        return {}

    service = make_service(ScriptedModel(tool_call("gated", {}, id="g"), text("ok")), ToolRegistry.of([gated]))
    turn = await service.start_turn(user_id="local", conversation_id=None, message="go")
    stream = turn.events()
    async for event in stream:
        if isinstance(event, ToolCallStart):
            break
    with pytest.raises(ChatInputError) as caught:
        await service.delete_conversation(user_id="local", conversation_id=turn.conversation_id)
    assert caught.value.status == 409
    release.set()
    [e async for e in stream]
    await service.delete_conversation(user_id="local", conversation_id=turn.conversation_id)
    with session_scope() as session:
        assert session.exec(select(Conversation)).all() == []
        assert session.exec(select(ToolCall)).all() == []


async def test_an_internal_failure_is_recorded_as_an_error_not_a_stop():
    class BrokenAgent(Agent):
        async def run(self, **kwargs):
            yield Token(run_id=kwargs["run_id"], seq=1, timestamp=0.0, text="Half an ans")
            raise RuntimeError("database went away")

    service = make_service(ScriptedModel())
    service.agent = BrokenAgent(model=service.agent.model, registry=service.agent.registry, deps=None, system_prompt="")
    turn = await service.start_turn(user_id="local", conversation_id=None, message="go")
    with pytest.raises(RuntimeError):
        [e async for e in turn.events()]
    with session_scope() as session:
        assert session.exec(select(Run)).one().status == "error"
        answer = session.exec(select(Message).where(Message.role == "assistant")).one()
        assert (answer.status, answer.content, answer.retryable) == ("error", "Half an ans", True)
        assert "internal error" in answer.error
