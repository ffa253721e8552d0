"""Helpers shared by tests that run the agent: a tool the test holds open, and a context of
the app's real parts around a scripted model."""

from __future__ import annotations

import asyncio

from finch_app.agent.events import AgentEvent
from finch_app.agent.model import ChatMessage
from finch_app.agent.tools import ToolContext, ToolRegistry, tool
from finch_app.context import AppContext, build_context, use_context
from finch_app.runs import RunService
from finch_app.settings import get_settings
from tests.fakes.scripted_model import ScriptedModel


def gate_tool() -> tuple[asyncio.Event, ToolRegistry]:
    """A tool named `gated` that reports progress, then waits until the test sets the event."""
    release = asyncio.Event()

    @tool
    async def gated(ctx: ToolContext) -> dict:
        """Waits for the test."""
        await ctx.report_progress("working")
        await release.wait()
        return {"ok": True}

    return release, ToolRegistry.of([gated])


def install_context(model: ScriptedModel, tools: ToolRegistry | None = None) -> AppContext:
    """The app's parts around `model` (and `tools`), installed for states and routes alike."""
    context = build_context(get_settings(), model=model, tools=tools)
    use_context(context)
    return context


async def answer(runs: RunService, message: str, conversation_id: str | None = None, user_id: str = "local"):
    """Start a run and follow it to its end: (the started run, its events)."""
    started = await runs.start(user_id=user_id, conversation_id=conversation_id, message=message)
    events: list[AgentEvent] = [event async for event in await runs.follow(started.run_id)]
    return started, events


async def until(feed, kind: type) -> list[AgentEvent]:
    """Read a feed up to the first event of `kind` (the rest stays to be read)."""
    seen = []
    async for event in feed:
        seen.append(event)
        if isinstance(event, kind):
            return seen
    raise AssertionError(f"the run ended without {kind.__name__}")


def replay(question: str, events: list[AgentEvent]) -> list[ChatMessage]:
    """A finished turn as the next question's history holds it: through the run service's own
    replay (`runs/history.py`), from the rows the turn would have left."""
    from finch_app.agent.events import AssistantMessage, ToolCallComplete, ToolCallStart
    from finch_app.db.crud import Turn
    from finch_app.db.models import Message, ToolCall
    from finch_app.runs.history import model_history

    completes = {e.tool_call_id: e for e in events if isinstance(e, ToolCallComplete)}
    calls = [
        ToolCall(
            tool_call_id=e.tool_call_id,
            name=e.tool_name,
            arguments=dict(e.arguments),
            status=completes[e.tool_call_id].status if e.tool_call_id in completes else "running",
            output=completes[e.tool_call_id].output if e.tool_call_id in completes else None,
            error=completes[e.tool_call_id].error if e.tool_call_id in completes else None,
            run_id="r",
            conversation_id="c",
            user_id="local",
            position=i,
        )
        for i, e in enumerate(e for e in events if isinstance(e, ToolCallStart))
    ]
    final = next(e for e in events if isinstance(e, AssistantMessage))
    return model_history(
        [
            Turn(Message(role="user", content=question, conversation_id="c", user_id="local")),
            Turn(
                Message(role="assistant", content=final.content, conversation_id="c", user_id="local"), calls
            ),
        ]
    )
