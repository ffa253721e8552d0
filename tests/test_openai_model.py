"""`OpenAIChatModel` against a loopback OpenAI-wire server, alone and under `Agent.run`.

The real openai client talks HTTP to `tests.fakes.openai_server`, so these tests cover
the wire format, tool-call assembly from streamed fragments, and how every failure
reaches the user (message + retryable flag), with no internet.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from finch_app.agent.events import (
    AssistantMessage,
    Done,
    Error,
    EventStamp,
    Token,
    ToolCallComplete,
    ToolCallStart,
)
from finch_app.agent.loop import Agent
from finch_app.agent.model import ChatMessage, ModelError, TextDelta, ToolCallRequest
from finch_app.agent.prompts import SYSTEM_PROMPT
from finch_app.agent.tools import ToolContext, ToolRegistry, tool
from finch_app.models.openai import OpenAIChatModel
from finch_app.settings import Settings
from tests.fakes.openai_server import (
    OpenAIServer,
    abort,
    hang,
    http_error,
    stream_error,
    text,
    tool_call,
    tool_calls,
)

pytestmark = pytest.mark.asyncio

API_KEY = "sk-test-key"
MODEL = "gpt-test"


# --------------------------------------------------------------------------- test tools


@dataclass
class Deps:
    """What the test tools share: lets the slow tool wait for the fast one."""

    fast_done: asyncio.Event = field(default_factory=asyncio.Event)
    prices: dict[str, float] = field(default_factory=lambda: {"AAPL": 190.5, "MSFT": 402.25})


@tool
async def slow_lookup(ctx: ToolContext, symbol: str) -> dict[str, Any]:
    """Look a ticker up slowly.

    Args:
        symbol: Exchange ticker.
    """
    # Finishes only after fast_lookup did: proves both run at once, in reverse order.
    await asyncio.wait_for(ctx.deps.fast_done.wait(), timeout=5)
    await asyncio.sleep(0.05)
    return {"symbol": symbol, "source": "slow", "price": ctx.deps.prices[symbol]}


@tool
async def fast_lookup(ctx: ToolContext, symbol: str) -> dict[str, Any]:
    """Look a ticker up quickly.

    Args:
        symbol: Exchange ticker.
    """
    await asyncio.sleep(0.02)
    ctx.deps.fast_done.set()
    return {"symbol": symbol, "source": "fast", "price": ctx.deps.prices[symbol]}


@tool
async def get_price(ctx: ToolContext, symbol: str) -> dict[str, Any]:
    """Latest price of a ticker.

    Args:
        symbol: Exchange ticker.
    """
    return {"symbol": symbol, "price": ctx.deps.prices[symbol]}


REGISTRY = ToolRegistry.of([slow_lookup, fast_lookup, get_price])


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as fake:
        yield fake
        fake.assert_complete()


@pytest.fixture
async def model(server: OpenAIServer) -> AsyncIterator[OpenAIChatModel]:
    chat_model = OpenAIChatModel(
        api_key=API_KEY, model=MODEL, base_url=server.base_url, timeout_s=1, max_retries=2
    )
    yield chat_model
    await chat_model.aclose()


def make_agent(model: OpenAIChatModel) -> Agent:
    return Agent(model=model, registry=REGISTRY, deps=Deps(), system_prompt=SYSTEM_PROMPT)


async def run_agent(model: OpenAIChatModel, message: str = "How are AAPL and MSFT doing?") -> list[Any]:
    agent = make_agent(model)
    return [
        event
        async for event in agent.run(
            history=[], user_message=message, stamp=EventStamp("run-1"), user_id="local"
        )
    ]


async def collect(model: OpenAIChatModel, tools: list[dict[str, Any]] | None = None) -> list[Any]:
    messages = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi")]
    return [output async for output in model.stream(messages, tools or [])]


async def model_error(model: OpenAIChatModel, tools: list[dict[str, Any]] | None = None) -> ModelError:
    with pytest.raises(ModelError) as caught:
        await collect(model, tools)
    return caught.value


def assert_every_card_completed(events: list[Any]) -> None:
    started = [e.tool_call_id for e in events if isinstance(e, ToolCallStart)]
    completed = [e.tool_call_id for e in events if isinstance(e, ToolCallComplete)]
    assert sorted(started) == sorted(completed), "a tool card was left without a completion"


def assert_well_formed(events: list[Any]) -> None:
    assert [e.seq for e in events] == list(range(len(events)))
    assert isinstance(events[-1], Done | Error)
    assert sum(isinstance(e, Done | Error) for e in events) == 1
    assert_every_card_completed(events)


# --------------------------------------------------------------------------- streaming


async def test_plain_answer_streams_token_by_token(server: OpenAIServer, model: OpenAIChatModel) -> None:
    answer = "Apple closed at $190.50, up 1.2% on the day."
    server.enqueue(text(answer, chunks=4, delay_s=0.1))

    arrivals: list[float] = []
    outputs: list[Any] = []
    messages = [ChatMessage(role="user", content="How did AAPL do?")]
    async for output in model.stream(messages, []):
        arrivals.append(time.monotonic())
        outputs.append(output)

    assert all(isinstance(o, TextDelta) for o in outputs)
    assert len(outputs) == 4
    assert "".join(o.text for o in outputs) == answer
    assert arrivals[-1] - arrivals[0] >= 0.2, "deltas arrived together: the stream was buffered"

    [body] = server.requests
    assert body["model"] == MODEL
    assert body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": "How did AAPL do?"}]
    assert "tools" not in body and "parallel_tool_calls" not in body
    assert server.headers[0]["authorization"] == f"Bearer {API_KEY}"
    assert model.label == MODEL


async def test_one_tool_call_with_arguments_split_over_chunks(
    server: OpenAIServer, model: OpenAIChatModel
) -> None:
    arguments = {"symbol": "AAPL", "note": 'split "quoted" text, ünïcode'}
    server.enqueue(tool_calls(tool_call("get_price", arguments, id="call_q", fragments=7)))

    outputs = await collect(model, REGISTRY.schemas())

    assert outputs == [ToolCallRequest(id="call_q", name="get_price", arguments=json.dumps(arguments))]
    body = server.requests[0]
    assert [t["function"]["name"] for t in body["tools"]] == ["slow_lookup", "fast_lookup", "get_price"]
    assert body["parallel_tool_calls"] is True


async def test_text_comes_first_then_interleaved_calls_in_index_order(
    server: OpenAIServer, model: OpenAIChatModel
) -> None:
    server.enqueue(
        tool_calls(
            tool_call("slow_lookup", {"symbol": "AAPL"}, id="call_a", fragments=4),
            tool_call("fast_lookup", {"symbol": "MSFT"}, id="call_b", fragments=4),
            text="Let me check both.",
            interleave=True,
        )
    )

    outputs = await collect(model, REGISTRY.schemas())

    assert "".join(o.text for o in outputs if isinstance(o, TextDelta)) == "Let me check both."
    first_call = next(i for i, o in enumerate(outputs) if isinstance(o, ToolCallRequest))
    assert all(isinstance(o, TextDelta) for o in outputs[:first_call])
    assert outputs[first_call:] == [
        ToolCallRequest(id="call_a", name="slow_lookup", arguments='{"symbol": "AAPL"}'),
        ToolCallRequest(id="call_b", name="fast_lookup", arguments='{"symbol": "MSFT"}'),
    ]


async def test_server_that_refuses_parallel_tool_calls_gets_requests_without_it(
    server: OpenAIServer, model: OpenAIChatModel
) -> None:
    server.enqueue(
        http_error(
            400,
            "Unsupported parameter: 'parallel_tool_calls' is not supported with this model.",
            param="parallel_tool_calls",
        ),
        tool_calls(tool_call("get_price", {"symbol": "AAPL"}, id="call_1")),
        text("Done."),
    )

    assert [o.id for o in await collect(model, REGISTRY.schemas())] == ["call_1"]
    assert [o.text for o in await collect(model, REGISTRY.schemas())] == ["Done."]

    assert [("parallel_tool_calls" in body) for body in server.requests] == [True, False, False]


async def test_broken_json_arguments_pass_through_raw(server: OpenAIServer, model: OpenAIChatModel) -> None:
    server.enqueue(tool_calls(tool_call("get_price", '{"symbol": "AAP', id="call_bad")))

    outputs = await collect(model, REGISTRY.schemas())

    assert outputs == [ToolCallRequest(id="call_bad", name="get_price", arguments='{"symbol": "AAP')]


async def test_stopping_mid_answer_releases_the_connection(
    server: OpenAIServer, model: OpenAIChatModel
) -> None:
    server.enqueue(text("one two three four five", delay_s=0.1), text("Still here."))

    stream = model.stream([ChatMessage(role="user", content="Hi")], [])
    first = await anext(stream)
    await stream.aclose()

    assert isinstance(first, TextDelta)
    assert [o.text for o in await collect(model)] == ["Still ", "here."]


# --------------------------------------------------------------------------- through the agent loop


async def test_parallel_tool_calls_finishing_in_reverse_order(
    server: OpenAIServer, model: OpenAIChatModel
) -> None:
    server.enqueue(
        tool_calls(
            tool_call("slow_lookup", {"symbol": "AAPL"}, id="call_slow"),
            tool_call("fast_lookup", {"symbol": "MSFT"}, id="call_fast"),
            interleave=True,
        ),
        text("AAPL is at $190.50 and MSFT at $402.25."),
    )

    events = await run_agent(model)

    assert_well_formed(events)
    cards = [
        (type(e).__name__, e.tool_call_id) for e in events if isinstance(e, ToolCallStart | ToolCallComplete)
    ]
    assert cards == [
        ("ToolCallStart", "call_slow"),
        ("ToolCallStart", "call_fast"),
        ("ToolCallComplete", "call_fast"),
        ("ToolCallComplete", "call_slow"),
    ]
    starts = {e.tool_call_id: e for e in events if isinstance(e, ToolCallStart)}
    assert starts["call_slow"].tool_name == "slow_lookup" and starts["call_slow"].arguments == {
        "symbol": "AAPL"
    }
    assert starts["call_fast"].tool_name == "fast_lookup" and starts["call_fast"].arguments == {
        "symbol": "MSFT"
    }
    completes = {e.tool_call_id: e for e in events if isinstance(e, ToolCallComplete)}
    assert completes["call_slow"].tool_name == "slow_lookup" and completes["call_slow"].status == "completed"
    assert completes["call_fast"].tool_name == "fast_lookup" and completes["call_fast"].status == "completed"

    assert isinstance(events[-2], AssistantMessage)
    assert events[-2].content == "AAPL is at $190.50 and MSFT at $402.25."

    # Both results went back, each paired with its own call id.
    assert len(server.requests) == 2
    sent = server.requests[1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "tool"]
    assert sent[0]["content"] == SYSTEM_PROMPT
    assert [c["id"] for c in sent[2]["tool_calls"]] == ["call_slow", "call_fast"]
    results = {m["tool_call_id"]: json.loads(m["content"]) for m in sent[3:]}
    assert results["call_slow"] == {"symbol": "AAPL", "source": "slow", "price": 190.5}
    assert results["call_fast"] == {"symbol": "MSFT", "source": "fast", "price": 402.25}


async def test_two_rounds_of_tools(server: OpenAIServer, model: OpenAIChatModel) -> None:
    server.enqueue(
        tool_calls(tool_call("get_price", {"symbol": "AAPL"}, id="call_1")),
        tool_calls(tool_call("get_price", {"symbol": "MSFT"}, id="call_2"), text="Now MSFT."),
        text("Both are up."),
    )

    events = await run_agent(model)

    assert_well_formed(events)
    kinds = [e.type for e in events if not isinstance(e, Token)]
    assert kinds == [
        "tool_call_start",
        "tool_call_complete",
        "tool_call_start",
        "tool_call_complete",
        "assistant_message",
        "done",
    ]
    answer = events[-2]
    assert isinstance(answer, AssistantMessage) and answer.content == "Now MSFT.\n\nBoth are up."
    assert len(server.requests) == 3
    last = server.requests[2]["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert last[4]["content"] == "Now MSFT."
    assert [m["tool_call_id"] for m in last if m["role"] == "tool"] == ["call_1", "call_2"]


async def test_broken_json_arguments_become_an_error_card(
    server: OpenAIServer, model: OpenAIChatModel
) -> None:
    server.enqueue(
        tool_calls(tool_call("get_price", '{"symbol": "AAP', id="call_bad")),
        text("I could not look that up."),
    )

    events = await run_agent(model)

    assert_well_formed(events)
    [start] = [e for e in events if isinstance(e, ToolCallStart)]
    assert start.arguments == {"_raw": '{"symbol": "AAP'}
    [complete] = [e for e in events if isinstance(e, ToolCallComplete)]
    assert complete.status == "error" and "not valid JSON" in (complete.error or "")
    assert isinstance(events[-1], Done)
    tool_message = server.requests[1]["messages"][-1]
    assert tool_message["tool_call_id"] == "call_bad" and tool_message["content"].startswith("Error:")


async def test_unknown_tool_becomes_an_error_card(server: OpenAIServer, model: OpenAIChatModel) -> None:
    server.enqueue(
        tool_calls(
            tool_call("get_crypto_price", {"coin": "BTC"}, id="call_x"),
            tool_call("get_price", {"symbol": "AAPL"}, id="call_ok"),
        ),
        text("I can only look up stocks."),
    )

    events = await run_agent(model)

    assert_well_formed(events)
    completes = {e.tool_call_id: e for e in events if isinstance(e, ToolCallComplete)}
    assert completes["call_x"].status == "error"
    assert "Unknown tool 'get_crypto_price'" in (completes["call_x"].error or "")
    assert completes["call_ok"].status == "completed"
    assert isinstance(events[-1], Done)
    results = {m["tool_call_id"]: m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"}
    assert results["call_x"].startswith("Error: Unknown tool")


# --------------------------------------------------------------------------- errors


async def test_wrong_key_is_not_retried_and_says_to_check_it() -> None:
    with OpenAIServer(api_key="sk-the-right-key") as server:
        async with OpenAIChatModel(
            api_key="sk-wrong", model=MODEL, base_url=server.base_url, timeout_s=1
        ) as model:
            events = await run_agent(model)

        assert len(server.requests) == 1, "a 401 must not be retried"
    assert_well_formed(events)
    [error] = events
    assert isinstance(error, Error)
    assert error.retryable is False
    assert "401" in error.error and "OPENAI_API_KEY" in error.error
    assert "sk-wrong" not in error.error + (error.details or "")


async def test_forbidden_is_not_retryable(server: OpenAIServer, model: OpenAIChatModel) -> None:
    server.enqueue(http_error(403))

    error = await model_error(model)

    assert error.retryable is False
    assert "403" in error.message and "OPENAI_API_KEY" in error.message


async def test_unknown_model_names_the_model() -> None:
    with OpenAIServer(models=["gpt-real"]) as server:
        async with OpenAIChatModel(api_key=API_KEY, model="gpt-missing", base_url=server.base_url) as model:
            error = await model_error(model)
        assert len(server.requests) == 1
    assert error.retryable is False
    assert "gpt-missing" in error.message and "FINCH_MODEL" in error.message


async def test_rate_limit_then_success(server: OpenAIServer, model: OpenAIChatModel) -> None:
    server.enqueue(http_error(429, retry_after_ms=20), text("Recovered."))

    started = time.monotonic()
    events = await run_agent(model)

    assert time.monotonic() - started < 2
    assert_well_formed(events)
    assert isinstance(events[-1], Done)
    assert events[-2].content == "Recovered."
    assert len(server.requests) == 2


async def test_rate_limit_that_persists_is_retryable(server: OpenAIServer, model: OpenAIChatModel) -> None:
    server.enqueue(*[http_error(429, retry_after_ms=10)] * 3)

    error = await model_error(model)

    assert error.retryable is True and "429" in error.message
    assert len(server.requests) == 3


async def test_exhausted_quota_is_not_retryable(server: OpenAIServer, model: OpenAIChatModel) -> None:
    server.enqueue(
        http_error(
            429,
            "You exceeded your current quota.",
            type="insufficient_quota",
            code="insufficient_quota",
            headers={"x-should-retry": "false"},
        )
    )

    error = await model_error(model)

    assert error.retryable is False and "quota" in error.message


async def test_server_error_every_time_after_a_tool_round(
    server: OpenAIServer, model: OpenAIChatModel
) -> None:
    server.enqueue(
        tool_calls(tool_call("get_price", {"symbol": "AAPL"}, id="call_1")),
        *[http_error(500, retry_after_ms=10)] * 3,
    )

    events = await run_agent(model)

    assert_well_formed(events)
    assert [e.type for e in events] == ["tool_call_start", "tool_call_complete", "error"]
    error = events[-1]
    assert error.retryable is True
    assert (
        "500" in error.error
        and server.base_url not in error.error
        and server.base_url in (error.details or "")
    )
    assert len(server.requests) == 1 + 3, "the client retries a 500 twice before giving up"


async def test_server_that_hangs_past_the_timeout(server: OpenAIServer) -> None:
    server.enqueue(hang(30), hang(30))
    async with OpenAIChatModel(
        api_key=API_KEY, model=MODEL, base_url=server.base_url, timeout_s=0.5, max_retries=1
    ) as model:
        started = time.monotonic()
        events = await run_agent(model)
        elapsed = time.monotonic() - started

    assert elapsed < 4
    assert_well_formed(events)
    [error] = events
    assert isinstance(error, Error) and error.retryable is True
    assert "did not answer within 0.5 seconds" in error.error
    assert server.base_url not in error.error and server.base_url in (error.details or "")
    assert len(server.requests) == 2, "a timeout is retried once with max_retries=1"


async def test_server_that_goes_silent_mid_answer(server: OpenAIServer) -> None:
    server.enqueue(hang(30, after_text="Apple is "))
    async with OpenAIChatModel(
        api_key=API_KEY, model=MODEL, base_url=server.base_url, timeout_s=0.5
    ) as model:
        events = await run_agent(model)

    assert_well_formed(events)
    assert "".join(e.text for e in events if isinstance(e, Token)) == "Apple is "
    error = events[-1]
    assert isinstance(error, Error) and error.retryable is True
    assert "went silent" in error.error and server.base_url not in error.error


async def test_connection_dropped_mid_stream(server: OpenAIServer, model: OpenAIChatModel) -> None:
    server.enqueue(abort(after_text="The market"))

    events = await run_agent(model)

    assert_well_formed(events)
    assert [e.type for e in events] == ["token", "token", "error"]
    assert events[-1].retryable is True and "broke off" in events[-1].error


async def test_error_event_mid_stream(server: OpenAIServer, model: OpenAIChatModel) -> None:
    server.enqueue(stream_error("The model is overloaded.", after_text="Let me"))

    error = await model_error(model)

    assert error.retryable is True and "The model is overloaded" in error.message


async def test_connection_refused_says_what_to_check_and_keeps_the_base_url_for_the_log() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    async with OpenAIChatModel(
        api_key=API_KEY, model=MODEL, base_url=base_url, timeout_s=1, max_retries=0
    ) as model:
        error = await model_error(model)

    assert error.retryable is True
    # The users get plain words; the address (an internal host, maybe) is only in the details, for the log.
    assert base_url not in error.message and "OPENAI_BASE_URL" in error.message
    assert base_url in (error.details or "")


async def test_stream_without_finish_reason_is_an_error(server: OpenAIServer, model: OpenAIChatModel) -> None:
    step = text("Cut off")
    step.finish_reason = None
    server.enqueue(step)

    error = await model_error(model)

    assert error.retryable is True and "ended before it was complete" in error.message


# --------------------------------------------------------------------------- construction


async def test_from_settings(server: OpenAIServer) -> None:
    settings = Settings(
        openai_api_key="sk-from-settings",
        openai_base_url=server.base_url,
        model="gpt-configured",
        model_timeout_s=3,
        model_max_retries=0,
    )
    server.enqueue(text("Hi"))

    async with OpenAIChatModel.from_settings(settings) as model:
        assert model.label == "gpt-configured"
        assert model.base_url == server.base_url
        assert [o.text for o in await collect(model)] == ["Hi"]

    assert server.headers[0]["authorization"] == "Bearer sk-from-settings"
    assert server.requests[0]["model"] == "gpt-configured"


async def test_from_settings_without_a_key_refuses() -> None:
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAIChatModel.from_settings(Settings(openai_api_key=None, model="gpt-x"))


# --------------------------------------------------------------------------- the fake itself


async def test_fake_server_speaks_plain_json_and_can_be_scripted_over_http(server: OpenAIServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url.removesuffix("/v1")) as client:
        response = await client.post(
            "/_fake/enqueue",
            json=[
                {"kind": "text", "text": "Plain answer."},
                {
                    "kind": "tool_calls",
                    "calls": [{"name": "get_price", "arguments": {"symbol": "AAPL"}, "id": "c1"}],
                },
            ],
        )
        assert response.json() == {"pending": 2}

        plain = (await client.post("/v1/chat/completions", json={"model": MODEL, "messages": []})).json()
        assert plain["object"] == "chat.completion"
        assert plain["choices"][0]["message"]["content"] == "Plain answer."
        assert plain["choices"][0]["finish_reason"] == "stop"

        calls = (await client.post("/v1/chat/completions", json={"model": MODEL, "messages": []})).json()
        assert calls["choices"][0]["finish_reason"] == "tool_calls"
        assert calls["choices"][0]["message"]["tool_calls"] == [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_price", "arguments": '{"symbol": "AAPL"}'},
            }
        ]

        models = (await client.get("/v1/models")).json()
        assert models["object"] == "list" and models["data"]

        recorded = (await client.get("/_fake/requests")).json()
        assert len(recorded["requests"]) == 2
