"""The agent loop: event order, concurrency, errors and cleanup, with a scripted model."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import pytest
from pydantic import BaseModel, Field

from finch_app.agent.events import (
    AssistantMessage,
    Done,
    Error,
    EventStamp,
    Token,
    ToolCallComplete,
    ToolCallProgress,
    ToolCallStart,
)
from finch_app.agent.loop import Agent
from finch_app.agent.tools import ToolContext, ToolRegistry, tool
from tests.fakes.scripted_model import ScriptedModel, model_error, raise_, text, tool_call, tool_calls


class Timeline:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, float]] = []

    def mark(self, what: str, name: str) -> None:
        self.entries.append((what, name, time.perf_counter()))

    def at(self, what: str, name: str) -> float:
        return next(t for w, n, t in self.entries if w == what and n == name)


class Echo(BaseModel):
    name: str
    waited: float

    def summary(self) -> str:
        return f"{self.name} waited {self.waited}"


def make_tools(timeline: Timeline, gate: asyncio.Event | None = None) -> ToolRegistry:
    @tool
    async def slow_a(ctx: ToolContext, seconds: Annotated[float, Field(ge=0)] = 0.3) -> Echo:
        """Sleeps, then answers.

        Args:
            seconds: How long to sleep.
        """
        timeline.mark("body", "slow_a")
        await ctx.report_progress("half way", 0.5)
        await asyncio.sleep(seconds)
        if gate is not None:
            await gate.wait()
        timeline.mark("end", "slow_a")
        return Echo(name="a", waited=seconds)

    @tool
    async def slow_b(ctx: ToolContext, seconds: float = 0.1) -> Echo:
        """Sleeps less, then answers."""
        timeline.mark("body", "slow_b")
        await asyncio.sleep(seconds)
        timeline.mark("end", "slow_b")
        return Echo(name="b", waited=seconds)

    @tool
    async def broken(ctx: ToolContext) -> Echo:
        """Always fails."""
        raise RuntimeError("upstream returned 503")

    return ToolRegistry.of([slow_a, slow_b, broken])


def make_agent(model: ScriptedModel, registry: ToolRegistry, max_rounds: int = 4) -> Agent:
    return Agent(
        model=model, registry=registry, deps=None, system_prompt="You are a test.", max_rounds=max_rounds
    )


async def collect(agent: Agent, message: str = "hi", timeline: Timeline | None = None):
    events = []
    async for event in agent.run(
        history=[], user_message=message, stamp=EventStamp("run_t"), user_id="local"
    ):
        if timeline is not None:
            timeline.mark("event", f"{event.type}:{getattr(event, 'tool_name', '')}")
        events.append(event)
    return events


async def test_starts_precede_completions_and_answer_with_concurrent_tools():
    timeline = Timeline()
    model = ScriptedModel(
        tool_calls(("slow_a", {"seconds": 0.3}, "call_a"), ("slow_b", {"seconds": 0.1}, "call_b")),
        text("Both done."),
    )
    events = await collect(make_agent(model, make_tools(timeline)), timeline=timeline)

    kinds = [(e.type, getattr(e, "tool_call_id", None)) for e in events]
    assert kinds == [
        ("tool_call_start", "call_a"),
        ("tool_call_start", "call_b"),
        ("tool_call_progress", "call_a"),
        ("tool_call_complete", "call_b"),  # the shorter tool finishes first
        ("tool_call_complete", "call_a"),
        ("token", None),
        ("token", None),
        ("assistant_message", None),
        ("done", None),
    ]
    # Each start is yielded before its tool body runs.
    assert timeline.at("event", "tool_call_start:slow_a") < timeline.at("body", "slow_a")
    assert timeline.at("event", "tool_call_start:slow_b") < timeline.at("body", "slow_b")
    # The two tools overlapped in time (concurrent, not one after the other).
    assert timeline.at("body", "slow_b") < timeline.at("end", "slow_a")
    assert timeline.at("body", "slow_a") < timeline.at("end", "slow_b")
    assert [e.seq for e in events] == sorted({e.seq for e in events})
    assert {e.run_id for e in events} == {"run_t"}
    complete_a = next(e for e in events if isinstance(e, ToolCallComplete) and e.tool_call_id == "call_a")
    assert complete_a.status == "completed" and complete_a.summary == "a waited 0.3"
    assert 250 <= complete_a.duration_ms < 2000
    assert isinstance(events[-2], AssistantMessage) and events[-2].content == "Both done. "
    model.assert_complete()


async def test_results_are_fed_back_paired_with_their_call_ids():
    model = ScriptedModel(
        tool_calls(("slow_a", {"seconds": 0.05}, "call_a"), ("slow_b", {"seconds": 0.01}, "call_b")),
        text("ok"),
    )
    await collect(make_agent(model, make_tools(Timeline())))
    second = model.calls[1]
    assert second[-3].role == "assistant" and [c.id for c in second[-3].tool_calls] == ["call_a", "call_b"]
    tool_messages = {m.tool_call_id: m.content for m in second if m.role == "tool"}
    assert '"name":"a"' in tool_messages["call_a"] and '"name":"b"' in tool_messages["call_b"]


async def test_tool_exception_becomes_error_card_and_the_model_sees_plain_words(caplog):
    """A failure inside a tool: the card and the model get plain words, the exception goes to the log."""
    model = ScriptedModel(tool_call("broken", {}, id="call_x"), text("Sorry, the source is down."))
    events = await collect(make_agent(model, make_tools(Timeline())))
    complete = next(e for e in events if isinstance(e, ToolCallComplete))
    assert complete.status == "error" and "503" not in complete.error
    assert complete.error == "broken failed inside Finch (the details are in Finch's log)."
    assert isinstance(events[-1], Done)
    fed_back = [m for m in model.calls[1] if m.role == "tool"][0]
    assert fed_back.content == f"Error: {complete.error}"
    assert "upstream returned 503" in caplog.text


async def test_a_tool_error_meant_for_the_user_is_shown_as_it_is():
    from finch_app.agent.tools import ToolError

    @tool
    async def explained(ctx: ToolContext) -> dict:
        """Fails with words for the user."""
        raise ToolError("ApeWisdom is rate-limiting requests (HTTP 429)")

    model = ScriptedModel(tool_call("explained", {}, id="call_e"), text("ok"))
    events = await collect(make_agent(model, ToolRegistry.of([explained])))
    complete = next(e for e in events if isinstance(e, ToolCallComplete))
    assert complete.error == "ApeWisdom is rate-limiting requests (HTTP 429)"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (("nope", {}, "call_1"), "Unknown tool 'nope'"),
        (("slow_b", '{"seconds": ', "call_1"), "not valid JSON"),
        (("slow_a", {"seconds": -1}, "call_1"), "Invalid arguments for slow_a"),
    ],
)
async def test_bad_tool_calls_are_error_cards_and_the_run_goes_on(call, message):
    model = ScriptedModel(tool_calls(call), text("Recovered."))
    events = await collect(make_agent(model, make_tools(Timeline())))
    assert [e.type for e in events][:2] == ["tool_call_start", "tool_call_complete"]
    assert events[1].status == "error" and message in events[1].error
    assert isinstance(events[-2], AssistantMessage) and events[-2].content == "Recovered. "
    assert message in [m for m in model.calls[1] if m.role == "tool"][0].content


async def test_model_error_ends_the_stream_with_one_error_event():
    model = ScriptedModel(model_error("The model is rate limited.", retryable=True))
    events = await collect(make_agent(model, make_tools(Timeline())))
    assert len(events) == 1 and isinstance(events[0], Error)
    assert events[0].retryable is True and events[0].error == "The model is rate limited."


async def test_unexpected_model_exception_is_reported_not_raised():
    model = ScriptedModel(raise_(KeyError("choices")))
    events = await collect(make_agent(model, make_tools(Timeline())))
    assert isinstance(events[-1], Error) and "KeyError" in (events[-1].details or "")


async def test_round_limit_ends_with_an_honest_answer():
    model = ScriptedModel(*[tool_call("slow_b", {"seconds": 0}, id=f"c{i}") for i in range(2)])
    events = await collect(make_agent(model, make_tools(Timeline()), max_rounds=2))
    answer = next(e for e in events if isinstance(e, AssistantMessage))
    assert "stopped after 2 rounds" in answer.content
    assert isinstance(events[-1], Done)
    model.assert_complete()


async def test_text_of_several_rounds_is_streamed_and_kept_apart():
    model = ScriptedModel(
        text("Let me look."),
        text("Found it."),
    )
    # First round: text plus a tool call.
    model.steps[0].calls = tool_call("slow_b", {"seconds": 0}).calls
    events = await collect(make_agent(model, make_tools(Timeline())))
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    answer = next(e for e in events if isinstance(e, AssistantMessage)).content
    assert streamed == answer == "Let me look. \n\nFound it. "


async def test_closing_the_stream_cancels_tools_in_flight():
    timeline = Timeline()
    gate = asyncio.Event()  # never set: slow_a blocks until cancelled
    model = ScriptedModel(tool_call("slow_a", {"seconds": 0}, id="call_a"))
    agent = make_agent(model, make_tools(timeline, gate))
    before = asyncio.all_tasks()
    stream = agent.run(history=[], user_message="hi", stamp=EventStamp("r"), user_id="local")
    seen = []
    async for event in stream:
        seen.append(event)
        if isinstance(event, ToolCallProgress):
            break
    await stream.aclose()
    leftover = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    assert leftover == []
    assert ("end", "slow_a") not in [(w, n) for w, n, _ in timeline.entries]
    assert [e.type for e in seen] == ["tool_call_start", "tool_call_progress"]


async def test_cancelling_the_consumer_task_cancels_tools_in_flight():
    cancelled = asyncio.Event()

    @tool
    async def forever(ctx: ToolContext) -> Echo:
        """Never finishes."""
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return Echo(name="x", waited=0)

    model = ScriptedModel(tool_call("forever", {}, id="f"))
    agent = make_agent(model, ToolRegistry.of([forever]))
    started = asyncio.Event()

    async def consume():
        async for event in agent.run(history=[], user_message="hi", stamp=EventStamp("r"), user_id="local"):
            if isinstance(event, ToolCallStart):
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 2)
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()


def test_big_tool_results_are_capped_for_the_model_with_a_note():
    from finch_app.agent.tools import result_to_text

    text = result_to_text({"rows": ["x" * 100] * 1000}, 5_000)
    assert len(text) < 5_200
    assert text.endswith("showing the first 5,000]") and "truncated: result was" in text
    assert result_to_text({"a": 1}, 5_000) == '{"a": 1}'
