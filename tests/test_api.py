"""The HTTP API over a real socket: events arrive as they happen, a disconnect stops the run,
bad requests get clear 4xx JSON, and HTTP runs are stored like UI runs.

The app runs in uvicorn on 127.0.0.1:0 in a thread (httpx's ASGITransport buffers whole
bodies, so it cannot show incremental delivery). Tools block on `threading.Event` gates
the test opens, since they run on the server thread's event loop.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlmodel import select

from finch_app.agent.events import agent_event_adapter
from finch_app.agent.tools import ToolContext, ToolError, ToolRegistry, tool
from finch_app.api import api
from finch_app.api.deps import get_context, heartbeat_interval
from finch_app.api.sse import encode_event
from finch_app.context import AppContext, build_context
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.db.models import Message, Run, ToolCall
from finch_app.settings import get_settings, reset_settings
from tests.fakes.loopback import LoopbackServer
from tests.fakes.scripted_model import ScriptedModel, model_error, text, tool_call, tool_calls

pytestmark = pytest.mark.persistence

WAIT_S = 10.0


# --- the server and its gated tool ------------------------------------------------------


@dataclass
class Gate:
    """A tool that blocks until the test opens it, and reports what happened to it."""

    release: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    loop: asyncio.AbstractEventLoop | None = None

    def registry(self) -> ToolRegistry:
        gate = self

        @tool
        async def wait_for_gate(ctx: ToolContext, ticker: str) -> dict:
            """Waits until the test opens the gate.

            Args:
                ticker: Any ticker.
            """
            gate.loop = asyncio.get_running_loop()
            gate.started.set()
            try:
                while not gate.release.is_set():
                    await asyncio.sleep(0.005)
            except asyncio.CancelledError:
                gate.cancelled.set()
                raise
            gate.finished.set()
            return {"ticker": ticker, "price": 123.45}

        return ToolRegistry.of([wait_for_gate])


def make_service(model: ScriptedModel, registry: ToolRegistry) -> AppContext:
    return build_context(get_settings(), model=model, tools=registry)


def gated_service(gate: Gate) -> AppContext:
    model = ScriptedModel(
        tool_call("wait_for_gate", {"ticker": "NVDA"}, id="call_gate"), text("NVDA is at 123.45.")
    )
    return make_service(model, gate.registry())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve(monkeypatch) -> Iterator[Callable[..., LoopbackServer]]:
    """Start the API with a given service (and heartbeat interval) on Finch's `PORT` (so its Host
    is served); stop it afterwards."""
    servers: list[LoopbackServer] = []

    def start(service: AppContext, *, heartbeat_s: float = 60.0) -> LoopbackServer:
        api.dependency_overrides[get_context] = lambda: service
        api.dependency_overrides[heartbeat_interval] = lambda: heartbeat_s
        port = free_port()
        monkeypatch.setenv("PORT", str(port))
        reset_settings()
        servers.append(LoopbackServer(api, port=port, name="finch-api-test").start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
    api.dependency_overrides.clear()


# --- reading SSE incrementally ----------------------------------------------------------


@dataclass
class Sse:
    event: str | None
    data: str
    comment: str | None = None

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.data)


async def sse_messages(response: httpx.Response) -> AsyncIterator[Sse]:
    """Messages and comments as they arrive (a minimal `text/event-stream` parser)."""
    event: str | None = None
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield Sse(event=None, data="", comment=line[1:].strip())
        elif line == "":
            if event is not None or data:
                yield Sse(event=event, data="\n".join(data))
            event, data = None, []
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


async def next_event(messages: AsyncIterator[Sse]) -> Sse:
    """The next event, skipping heartbeat comments."""
    async with asyncio.timeout(WAIT_S):
        while (message := await anext(messages)).comment is not None:
            pass
        return message


async def rest(messages: AsyncIterator[Sse]) -> list[Sse]:
    async with asyncio.timeout(WAIT_S):
        return [m async for m in messages if m.comment is None]


async def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def wait_set(flag: threading.Event, what: str) -> None:
    await eventually(flag.is_set, what)


def on_loop(loop: asyncio.AbstractEventLoop | None, fn: Callable[[], Any]) -> Any:
    """Call `fn` on the server's event loop (asyncio objects are not thread-safe) and return its result."""
    assert loop is not None

    async def call() -> Any:
        result = fn()
        return await result if asyncio.iscoroutine(result) else result

    return asyncio.run_coroutine_threadsafe(call(), loop).result(WAIT_S)


def rows() -> tuple[list[Run], list[ToolCall], list[Message]]:
    with session_scope() as session:
        return (
            list(session.exec(select(Run)).all()),
            list(session.exec(select(ToolCall)).all()),
            list(session.exec(select(Message).order_by(Message.created_at, Message.role.desc())).all()),
        )


def client(server: LoopbackServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, timeout=WAIT_S)


# --- streaming ------------------------------------------------------------------------------


async def test_events_arrive_while_the_tool_is_still_blocked(serve):
    gate = Gate()
    server = serve(gated_service(gate))
    async with client(server) as http:
        async with http.stream("POST", "/api/chat/stream", json={"message": "price of NVDA?"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            assert response.headers["x-accel-buffering"] == "no"
            messages = sse_messages(response)

            started = await next_event(messages)
            assert started.event == "run_started"
            conversation_id = started.json["conversation_id"]

            start = await next_event(messages)
            assert start.event == "tool_call_start"
            assert start.json["tool_call_id"] == "call_gate" and start.json["tool_name"] == "wait_for_gate"
            assert start.json["arguments"] == {"ticker": "NVDA"}
            # The card is on the wire while the tool is running and cannot finish.
            await wait_set(gate.started, "the tool to start")
            assert not gate.finished.is_set()
            # Its row follows a moment later, while the tool still runs.
            await eventually(
                lambda: [(c.tool_call_id, c.status) for c in rows()[1]] == [("call_gate", "running")],
                "the tool's row to be written",
            )

            gate.release.set()
            tail = await rest(messages)

    events = [started, start, *tail]
    types = [m.event for m in events]
    assert types[:3] == ["run_started", "tool_call_start", "tool_call_complete"]
    assert types[-2:] == ["assistant_message", "done"]
    assert set(types[3:-2]) == {"token"}
    complete = events[2].json
    assert complete["tool_call_id"] == "call_gate" and complete["status"] == "completed"
    assert complete["duration_ms"] >= 0 and "output" not in complete
    assert events[-2].json["content"].strip() == "NVDA is at 123.45."
    assert events[-2].json["needs_auth"] is False
    assert events[-1].json["message"] == "Stream complete"

    seqs = [m.json["seq"] for m in events]
    assert seqs == sorted(set(seqs)) and seqs[0] == 0
    assert {m.json["run_id"] for m in events} == {started.json["run_id"]}
    for message in events:
        # The event name is the type, and the data line is exactly the event's JSON.
        parsed = agent_event_adapter.validate_json(message.data)
        assert parsed.type == message.event and parsed.model_dump_json() == message.data

    # Persisted like a UI run, in the list the UI shows.
    runs, calls, messages_ = rows()
    assert [r.status for r in runs] == ["completed"]
    assert [(c.status, c.arguments) for c in calls] == [("completed", {"ticker": "NVDA"})]
    assert [(m.role, m.status) for m in messages_] == [("user", "completed"), ("assistant", "completed")]
    with session_scope() as session:
        listed = crud.list_conversations(session=session, user_id="local")
        assert [c.id for c in listed] == [conversation_id]


async def test_wire_bytes_are_exactly_encode_event(serve):
    gate = Gate()
    gate.release.set()
    model = ScriptedModel(tool_call("wait_for_gate", {"ticker": "AMD"}, id="c1"), text("Done."))
    server = serve(make_service(model, gate.registry()))
    async with client(server) as http:
        response = await http.post("/api/chat/stream", json={"message": "AMD?"})
    assert response.status_code == 200
    body = response.text
    chunks = body.split("\n\n")
    assert chunks[-1] == ""
    events = [agent_event_adapter.validate_json(chunk.split("\ndata: ", 1)[1]) for chunk in chunks[:-1]]
    assert body == "".join(encode_event(e) for e in events)
    assert "\r" not in body
    assert [e.type for e in events][-2:] == ["assistant_message", "done"]


async def test_a_heartbeat_comment_arrives_while_a_tool_is_blocked(serve):
    gate = Gate()
    server = serve(gated_service(gate), heartbeat_s=0.05)
    async with client(server) as http:
        async with http.stream("POST", "/api/chat/stream", json={"message": "NVDA?"}) as response:
            messages = sse_messages(response)
            async with asyncio.timeout(WAIT_S):
                while (await anext(messages)).event != "tool_call_start":
                    pass
                await wait_set(gate.started, "the tool to start")
                while (message := await anext(messages)).comment is None:
                    assert message.event != "tool_call_complete", "the tool was supposed to be blocked"
            assert message.comment == "ping"
            assert not gate.finished.is_set()
            gate.release.set()
            tail = await rest(messages)
    assert [m.event for m in tail][-1] == "done"


async def test_disconnect_mid_stream_cancels_the_tool_and_keeps_the_question(serve):
    gate = Gate()
    service = gated_service(gate)
    server = serve(service)
    async with client(server) as http:
        async with http.stream("POST", "/api/chat/stream", json={"message": "NVDA please"}) as response:
            messages = sse_messages(response)
            run_id = (await next_event(messages)).json["run_id"]
            assert (await next_event(messages)).event == "tool_call_start"
            await wait_set(gate.started, "the tool to start")
        # Leaving the block closes the connection mid-stream.

    await wait_set(gate.cancelled, "the tool to get CancelledError")
    assert not gate.finished.is_set()

    def settled() -> bool:
        runs, _, _ = rows()
        return [r.status for r in runs] == ["cancelled"]

    await eventually(settled, "the run to be recorded as cancelled")
    _, calls, stored = rows()
    assert [(c.tool_call_id, c.status) for c in calls] == [("call_gate", "cancelled")]
    assert [(m.role, m.content, m.status) for m in stored] == [
        ("user", "NVDA please", "completed"),
        ("assistant", "", "cancelled"),
    ]
    # Nothing is left to cancel: the run's task ends and unregisters (just after its rows settle).
    await eventually(
        lambda: on_loop(gate.loop, lambda: service.runs.stop(run_id)) is False, "the run to unregister"
    )
    gate.release.set()


async def test_stop_from_elsewhere_ends_the_stream_cleanly(serve):
    gate = Gate()
    service = gated_service(gate)
    server = serve(service)
    async with client(server) as http:
        async with http.stream("POST", "/api/chat/stream", json={"message": "NVDA"}) as response:
            messages = sse_messages(response)
            first = await next_event(messages)
            assert (await next_event(messages)).event == "tool_call_start"
            await wait_set(gate.started, "the tool to start")
            # What the UI's Stop does: the HTTP run is a run like a UI run.
            assert on_loop(gate.loop, lambda: service.runs.stop(first.json["run_id"])) is True
            tail = await rest(messages)

    assert [m.event for m in tail] == ["tool_call_complete", "error"]
    assert tail[0].json["status"] == "cancelled" and tail[0].json["tool_call_id"] == "call_gate"
    assert "stopped" in tail[1].json["error"]
    assert [m.json["seq"] for m in tail] == [2, 3]
    assert gate.cancelled.is_set() and not gate.finished.is_set()
    runs, calls, stored = rows()
    assert [r.status for r in runs] == ["cancelled"]
    assert [c.status for c in calls] == ["cancelled"]
    assert [(m.role, m.status) for m in stored] == [("user", "completed"), ("assistant", "cancelled")]


async def test_a_model_error_ends_the_stream_with_an_error_event(serve):
    server = serve(
        make_service(ScriptedModel(model_error("Rate limited.", retryable=True)), ToolRegistry.of([]))
    )
    async with client(server) as http:
        async with http.stream("POST", "/api/chat/stream", json={"message": "hi"}) as response:
            events = await rest(sse_messages(response))
    assert [m.event for m in events] == ["run_started", "error"]
    assert events[1].json["error"] == "Rate limited." and events[1].json["retryable"] is True


# --- POST /api/chat and conversations -------------------------------------------------------


def lookup_tools() -> ToolRegistry:
    @tool
    async def lookup(ctx: ToolContext, symbol: str) -> dict:
        """Looks up a symbol.

        Args:
            symbol: The ticker.
        """
        return {"symbol": symbol, "price": 1.5}

    @tool
    async def broken(ctx: ToolContext) -> dict:
        """Always fails."""
        raise ToolError("feed down")

    return ToolRegistry.of([lookup, broken])


async def test_chat_returns_the_final_answer_with_its_tool_calls(serve):
    model = ScriptedModel(
        tool_calls(("lookup", {"symbol": "AAPL"}, "c1"), ("broken", {}, "c2")),
        text("AAPL is 1.5; the other feed is down."),
        text("You asked about AAPL."),
    )
    server = serve(make_service(model, lookup_tools()))
    async with client(server) as http:
        first = await http.post("/api/chat", json={"message": "AAPL?", "conversation_id": None})
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["content"].strip() == "AAPL is 1.5; the other feed is down."
        assert body["needs_auth"] is False and body["error"] is None
        calls = body["tool_calls"]
        assert [(c["id"], c["name"], c["arguments"], c["status"], c["error"]) for c in calls] == [
            ("c1", "lookup", {"symbol": "AAPL"}, "completed", None),
            ("c2", "broken", {}, "error", "feed down"),
        ]
        assert all(isinstance(c["duration_ms"], int) for c in calls)
        conversation_id = body["conversation_id"]

        again = await http.post(
            "/api/chat", json={"message": "what did I ask?", "conversation_id": conversation_id}
        )
        assert again.status_code == 200 and again.json()["conversation_id"] == conversation_id
        assert again.json()["tool_calls"] == []

        listed = await http.get("/api/conversations")
        assert listed.status_code == 200
        assert [(c["id"], c["title"]) for c in listed.json()] == [(conversation_id, "AAPL?")]

        detail = await http.get(f"/api/conversations/{conversation_id}")
        assert detail.status_code == 200
        messages = detail.json()["messages"]
        assert [(m["role"], m["status"]) for m in messages] == [
            ("user", "completed"),
            ("assistant", "completed"),
            ("user", "completed"),
            ("assistant", "completed"),
        ]
        assert [(c["id"], c["status"]) for c in messages[1]["tool_calls"]] == [
            ("c1", "completed"),
            ("c2", "error"),
        ]
        assert messages[1]["tool_calls"][0]["arguments"] == {"symbol": "AAPL"}
        assert messages[0]["tool_calls"] == [] and messages[3]["tool_calls"] == []

        deleted = await http.delete(f"/api/conversations/{conversation_id}")
        assert deleted.status_code == 204 and deleted.content == b""
        assert (await http.get(f"/api/conversations/{conversation_id}")).status_code == 404
        assert (await http.get("/api/conversations")).json() == []
    model.assert_complete()


async def test_chat_reports_a_model_error_in_the_answer(serve):
    server = serve(
        make_service(ScriptedModel(model_error("Rate limited.", retryable=True)), ToolRegistry.of([]))
    )
    async with client(server) as http:
        response = await http.post("/api/chat", json={"message": "hi"})
    assert response.status_code == 200
    body = response.json()
    assert body["error"] == "Rate limited." and body["retryable"] is True and body["content"] == ""


# --- bad requests -----------------------------------------------------------------------------

BAD_REQUESTS = [
    pytest.param({"json": {}}, 422, "message: Field required", id="missing-message"),
    pytest.param(
        {"json": {"message": 42}}, 422, "message: Input should be a valid string", id="message-not-text"
    ),
    pytest.param({"json": {"message": "  \n "}}, 400, "empty", id="empty-message"),
    pytest.param({"json": {"message": "x" * 8001}}, 400, "the limit is 8,000", id="over-long-message"),
    pytest.param(
        {"json": {"message": "hi", "conversation_id": "no-such-id"}},
        404,
        "was not found",
        id="unknown-conversation",
    ),
    pytest.param(
        {"content": b'{"message": "hi"', "headers": {"content-type": "application/json"}},
        400,
        "not valid JSON",
        id="malformed-json",
    ),
    pytest.param({"json": ["hi"]}, 422, "JSON object", id="body-not-an-object"),
    pytest.param({"data": {"message": "hi"}}, 422, "JSON object", id="form-encoded"),
    pytest.param({}, 422, "JSON object", id="no-body"),
    pytest.param(
        {
            "content": json.dumps({"message": "x" * 300_000}).encode(),
            "headers": {"content-type": "application/json"},
        },
        413,
        "",
        id="body-too-large",
    ),
]


@pytest.mark.parametrize("path", ["/api/chat", "/api/chat/stream"])
@pytest.mark.parametrize(("request_kwargs", "status", "fragment"), BAD_REQUESTS)
async def test_bad_chat_requests_get_a_clear_4xx(serve, path, request_kwargs, status, fragment):
    model = ScriptedModel()
    server = serve(make_service(model, ToolRegistry.of([])))
    async with client(server) as http:
        response = await http.post(path, **request_kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert isinstance(detail, str) and fragment in detail
    assert model.calls == []
    assert rows() == ([], [], [])


async def test_twelve_parallel_streams_of_one_user_start_no_more_runs_than_the_limit(serve, monkeypatch):
    """12 `POST /api/chat/stream` at once for one user, limit 3: exactly 3 runs start (the claim is
    atomic), the other 9 get a clear 429 before any stream; on SQLite and PostgreSQL."""
    monkeypatch.setenv("FINCH_MAX_RUNS_PER_USER", "3")
    reset_settings()
    gate = Gate()
    steps = [tool_call("wait_for_gate", {"ticker": "NVDA"}, id=f"call_{n}") for n in range(12)]
    server = serve(make_service(ScriptedModel(*steps, *[text("done")] * 12), gate.registry()))
    async with client(server) as http:

        async def ask(n: int) -> tuple[int, str]:
            async with http.stream("POST", "/api/chat/stream", json={"message": f"question {n}"}) as response:
                if response.status_code != 200:
                    return response.status_code, (await response.aread()).decode()
                first = await next_event(sse_messages(response))
                return 200, first.event or ""  # the stream closes here: its run is stopped

        answers = await asyncio.gather(*(ask(n) for n in range(12)))
    started = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 429]
    assert len(started) == 3 and len(refused) == 9, answers
    assert {event for _, event in started} == {"run_started"}
    assert all("3 answers running" in json.loads(body)["detail"] for _, body in refused)
    runs, _, questions = rows()
    assert len(runs) == 3 and len([m for m in questions if m.role == "user"]) == 3


async def test_a_second_message_while_a_run_is_answering_is_409(serve):
    gate = Gate()
    server = serve(gated_service(gate))
    async with client(server) as http:
        async with http.stream("POST", "/api/chat/stream", json={"message": "NVDA"}) as response:
            messages = sse_messages(response)
            conversation_id = (await next_event(messages)).json["conversation_id"]
            for path in ("/api/chat", "/api/chat/stream"):
                busy = await http.post(path, json={"message": "and AMD?", "conversation_id": conversation_id})
                assert busy.status_code == 409 and "still answering" in busy.json()["detail"]
            gate.release.set()
            assert [m.event for m in await rest(messages)][-1] == "done"
    _, _, stored = rows()
    assert [m.content for m in stored if m.role == "user"] == ["NVDA"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_unknown_or_foreign_conversations_are_404(serve, method):
    service = make_service(ScriptedModel(text("mine")), ToolRegistry.of([]))
    turn = await service.runs.start(user_id="alice", conversation_id=None, message="hello")
    async for _ in await service.runs.follow(turn.run_id):
        pass
    server = serve(service)
    async with client(server) as http:
        for conversation_id in ("no-such-id", turn.conversation_id):
            response = await http.request(method, f"/api/conversations/{conversation_id}")
            assert response.status_code == 404
            assert response.json() == {"detail": "Conversation not found"}
        assert (await http.get("/api/conversations")).json() == []
    with session_scope() as session:
        assert crud.get_conversation(session=session, user_id="alice", conversation_id=turn.conversation_id)


# --- the document -------------------------------------------------------------------------------


async def test_openapi_document_and_docs_describe_the_routes(serve):
    server = serve(make_service(ScriptedModel(), ToolRegistry.of([])))
    async with client(server) as http:
        document = (await http.get("/api/openapi.json")).json()
        docs = await http.get("/api/docs")
    assert document["info"]["title"] == "Finch API"
    paths = document["paths"]
    assert set(paths["/api/chat"]) == {"post"} and set(paths["/api/chat/stream"]) == {"post"}
    assert set(paths["/api/conversations"]) == {"get"}
    assert set(paths["/api/conversations/{conversation_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/api/conversations/{conversation_id}/export.md"]) == {"get"}
    stream = paths["/api/chat/stream"]["post"]["responses"]
    item = stream["200"]["content"]["text/event-stream"]["itemSchema"]
    assert "tool_call_start" in item["properties"]["event"]["enum"]
    assert {"400", "404", "422"} <= set(stream)
    schemas = document["components"]["schemas"]
    assert {"ToolCallStart", "ToolCallComplete", "ChatRequest", "ChatResponse"} <= set(schemas)
    assert "output" not in schemas["ToolCallComplete"]["properties"]
    assert {"id", "name", "arguments", "status", "duration_ms", "error"} <= set(
        schemas["ToolCallResult"]["properties"]
    )
    assert docs.status_code == 200 and "/api/openapi.json" in docs.text


def test_the_reflex_app_mounts_the_api():
    from finch_app.finch_app import app

    assert app.api_transformer is api


async def test_reflex_routes_fall_through_below_the_api():
    """Reflex mounts its own app at "" inside ours (`api_transformer`): /api wins, the rest falls through."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from finch_app.api import create_api

    app = create_api()
    reflex_like = Starlette(
        routes=[
            Route("/ping", lambda request: PlainTextResponse("pong")),
            Route("/{path:path}", lambda request: PlainTextResponse("page")),
        ]
    )
    app.mount("", reflex_like)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://localhost:3000"
    ) as http:
        assert (await http.get("/ping")).text == "pong"
        assert (await http.get("/c/abc")).text == "page"
        assert (await http.get("/api/openapi.json")).json()["info"]["title"] == "Finch API"
        assert (await http.get("/api/conversations")).json() == []
