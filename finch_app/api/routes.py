"""The HTTP API for programs: chat (JSON or SSE) and the user's conversations.

A thin adapter, like the Reflex state: a run started here is `ChatService.start_turn`
plus the same `StartedTurn.events()` the UI consumes, so it is persisted the same way,
shows up in the UI's conversation list, and is cancelled the same way (its consuming
task is registered in `service.active`, which is what Stop cancels). Owns the request
and response models, the mapping to HTTP statuses and the SSE response; not the
agent, the event model or storage.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, assert_never

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from finch_app import resources
from finch_app.agent.events import (
    AgentEvent,
    AssistantMessage,
    Done,
    Error,
    ResourceSaved,
    RunStarted,
    Token,
    ToolCallComplete,
    ToolCallProgress,
    ToolCallStart,
    agent_event_adapter,
)
from finch_app.api import auth_routes, health
from finch_app.api.security import SecurityHeaders
from finch_app.api.sse import encode_event
from finch_app.auth import api_identity
from finch_app.settings import get_settings
from finch_app.chat_service import ChatInputError, ChatService, StartedTurn, get_chat_service
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.db.models import ToolCall

log = logging.getLogger("finch.api")

LOCAL_USER = "local"
HEARTBEAT_S = 15.0
"""Seconds between `: ping` comments, so idle proxies keep the stream open."""
SEND_TIMEOUT_S = 60.0
"""A client that takes no bytes for this long is treated as gone."""
CLEANUP_TIMEOUT_S = 10.0
"""How long closing a run may wait for its tools to stop and its rows to be written."""
MAX_BODY_BYTES = 256 * 1024
"""Far above the longest allowed message, even JSON-escaped; bigger bodies get a JSON 413."""
STOPPED_MESSAGE = "The run was stopped before it finished."
FAILED_MESSAGE = "Finch failed unexpectedly while answering."
CONVERSATION_NOT_FOUND = "Conversation not found"
UNAUTHORIZED = "Unauthorized"


# --- dependencies (tests replace them with `app.dependency_overrides`) -------------------


def get_service() -> ChatService:
    """The process-wide chat service."""
    return get_chat_service()


def current_user_id(request: Request) -> str:
    """The caller: the local user (`FINCH_AUTH=none`), a bearer token's owner, or (header
    mode) the trusted proxy's user. Anything else is a 401 that does not say why."""
    settings = get_settings()
    peer = request.client.host if request.client else ""
    identity = api_identity(settings, request.headers, peer)
    if identity is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
        )
    return identity.user_id


def heartbeat_interval() -> float:
    """Seconds between heartbeat comments on a stream."""
    return HEARTBEAT_S


Service = Annotated[ChatService, Depends(get_service)]
UserId = Annotated[str, Depends(current_user_id)]


# --- request and response models ---------------------------------------------------------


class _ApiModel(BaseModel):
    # The docstrings under fields become their descriptions in the OpenAPI document.
    model_config = ConfigDict(use_attribute_docstrings=True)


class ChatRequest(_ApiModel):
    message: str = Field(examples=["review my portfolio"])
    """What the user asks. Must not be empty; the length limit is the UI's."""
    conversation_id: str | None = Field(None, examples=[None])
    """Continue this conversation; `null` starts a new one (its id is in the first event)."""


class ApiError(_ApiModel):
    detail: str
    """What was wrong with the request, in words."""
    errors: list[dict[str, Any]] | None = None
    """For schema errors (422): each problem as FastAPI reports it."""


class ToolCallResult(_ApiModel):
    id: str
    """The model's id for the call: `tool_call_id` in the stream's events."""
    name: str
    arguments: dict[str, JsonValue]
    status: Literal["running", "completed", "error", "cancelled", "interrupted"]
    duration_ms: int | None = None
    error: str | None = None
    summary: str | None = None
    """One line a person can read, e.g. "8 holdings · $84,210"."""


class ChatResponse(_ApiModel):
    content: str
    """The answer (markdown). Partial if the run was stopped; empty after a model error."""
    needs_auth: bool = False
    """True when a tool needs the user to connect or add a portfolio first."""
    conversation_id: str
    """Send this back as `conversation_id` to continue the conversation."""
    run_id: str
    tool_calls: list[ToolCallResult] = []
    error: str | None = None
    """Set when the run ended without an answer (model error, stop)."""
    retryable: bool = False
    """Whether sending the same message again may succeed."""


class ConversationSummary(_ApiModel):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime


class MessageOut(_ApiModel):
    id: str
    role: str
    """"user" or "assistant"."""
    content: str
    status: str
    """complete | error | stopped | interrupted."""
    needs_auth: bool = False
    error: str | None = None
    retryable: bool = False
    run_id: str | None = None
    created_at: datetime
    tool_calls: list[ToolCallResult] = []
    """The tool calls of the run that produced this (assistant) message."""


class ConversationDetail(ConversationSummary):
    messages: list[MessageOut]


# --- one run, consumed over HTTP ---------------------------------------------------------


class HttpRun:
    """A started turn run by its own task, registered in `service.active` for Stop.

    The task starts at once (so a client that vanishes before the first byte still has a
    run to cancel). `events()` yields the run's events as the agent produces them.
    Whichever way the consumer goes — end of stream, disconnect, error — `close()`
    cancels the task through `service.active.cancel` (the UI's Stop path) and waits for
    the run's cleanup: tools get `CancelledError`, rows end `cancelled`.
    """

    def __init__(self, service: ChatService, turn: StartedTurn) -> None:
        self.service = service
        self.turn = turn
        self._started = False
        self._queue: asyncio.Queue[AgentEvent | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._consume(), name=f"http-run:{turn.run_id}")
        # A callback, not a `finally`: it fires even for a task cancelled before its first step.
        self._task.add_done_callback(lambda _: self._queue.put_nowait(None))

    async def _consume(self) -> None:
        # Registered from inside, so nothing can cancel the task before `events()` has
        # started: only a started run has the cleanup that closes its rows.
        self._started = True
        self.service.active.add(self.turn.run_id, asyncio.current_task())  # type: ignore[arg-type]
        async with aclosing(self.turn.events()) as events:
            async for event in events:
                self._queue.put_nowait(event)

    async def events(self) -> AsyncIterator[AgentEvent]:
        """The run's events; a run cut short ends with cancelled cards and an `error`."""
        last_seq = -1
        open_calls: dict[str, ToolCallStart] = {}
        ended = False
        try:
            while (event := await self._queue.get()) is not None:
                last_seq = event.seq
                match event:
                    case ToolCallStart():
                        open_calls[event.tool_call_id] = event
                    case ToolCallComplete():
                        open_calls.pop(event.tool_call_id, None)
                    case Done() | Error():
                        ended = True
                    case RunStarted() | ToolCallProgress() | ResourceSaved() | Token() | AssistantMessage():
                        pass
                    case _:
                        assert_never(event)
                yield event
            if not ended:
                for event in await self._closing_events(last_seq, list(open_calls.values())):
                    yield event
        finally:
            await self.close()

    async def _closing_events(self, last_seq: int, open_calls: list[ToolCallStart]) -> list[AgentEvent]:
        """What a client needs after a run that ended without `done`/`error`."""
        await asyncio.wait({self._task})
        if self._task.cancelled():
            error, details = STOPPED_MESSAGE, None
        else:
            exc = self._task.exception()
            log.error("Run %s failed", self.turn.run_id, exc_info=exc)
            error, details = FAILED_MESSAGE, f"{type(exc).__name__}: {exc}" if exc else None
        now = time.time()
        seqs = iter(range(last_seq + 1, last_seq + 2 + len(open_calls)))
        closing: list[AgentEvent] = [
            ToolCallComplete(
                run_id=self.turn.run_id,
                seq=next(seqs),
                timestamp=now,
                tool_call_id=call.tool_call_id,
                tool_name=call.tool_name,
                status="cancelled",
                duration_ms=max(0, int((now - call.timestamp) * 1000)),
            )
            for call in open_calls
        ]
        closing.append(
            Error(run_id=self.turn.run_id, seq=next(seqs), timestamp=now, error=error, details=details, retryable=True)
        )
        return closing

    async def close(self) -> None:
        """Cancel the run if it is still going and wait for its cleanup (idempotent)."""
        # Shielded: a disconnect cancels us, but the run's rows must be final before we go.
        with anyio.CancelScope(shield=True):
            while not self._started and not self._task.done():
                await asyncio.sleep(0)
            if not self._task.done():
                self.service.active.cancel(self.turn.run_id)
            await asyncio.wait({self._task}, timeout=CLEANUP_TIMEOUT_S)
        self.service.active.discard(self.turn.run_id)
        if not self._task.done():
            log.warning("Run %s did not stop within %.0f s", self.turn.run_id, CLEANUP_TIMEOUT_S)


class _Answer:
    """Folds one run's events into the `POST /api/chat` response."""

    def __init__(self) -> None:
        self.conversation_id = ""
        self.run_id = ""
        self.text = ""
        self.content: str | None = None
        self.needs_auth = False
        self.calls: dict[str, ToolCallResult] = {}
        self.error: str | None = None
        self.retryable = False

    def apply(self, event: AgentEvent) -> None:
        match event:
            case RunStarted():
                self.conversation_id = event.conversation_id
                self.run_id = event.run_id
            case ToolCallStart():
                self.calls[event.tool_call_id] = ToolCallResult(
                    id=event.tool_call_id, name=event.tool_name, arguments=event.arguments, status="running"
                )
            case ToolCallComplete():
                started = self.calls.get(event.tool_call_id)
                self.calls[event.tool_call_id] = ToolCallResult(
                    id=event.tool_call_id,
                    name=event.tool_name,
                    arguments=started.arguments if started else {},
                    status=event.status,
                    duration_ms=event.duration_ms,
                    error=event.error,
                    summary=event.summary,
                )
            case Token():
                self.text += event.text
            case AssistantMessage():
                self.content = event.content
                self.needs_auth = event.needs_auth
            case Error():
                self.error = event.error
                self.retryable = event.retryable
            case ToolCallProgress() | ResourceSaved() | Done():
                pass
            case _:
                assert_never(event)

    def response(self) -> ChatResponse:
        return ChatResponse(
            content=self.content if self.content is not None else self.text,
            needs_auth=self.needs_auth,
            conversation_id=self.conversation_id,
            run_id=self.run_id,
            tool_calls=list(self.calls.values()),
            error=self.error,
            retryable=self.retryable,
        )


async def _sse_bytes(run: HttpRun) -> AsyncIterator[bytes]:
    async with aclosing(run.events()) as events:
        async for event in events:
            yield encode_event(event).encode()


def _ping() -> ServerSentEvent:
    return ServerSentEvent(comment="ping", sep="\n")


# --- routes ------------------------------------------------------------------------------

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ApiError, "description": "Unknown conversation id"},
    422: {"model": ApiError, "description": "The request does not match the schema"},
}
_INPUT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "Malformed JSON, or an empty or over-long message"},
    404: {"model": ApiError, "description": "Unknown conversation id"},
    409: {"model": ApiError, "description": "A run is still answering in this conversation"},
    413: {"model": ApiError, "description": "Request body too large"},
    422: {"model": ApiError, "description": "The body does not match the request schema"},
    429: {"model": ApiError, "description": "The user already has FINCH_MAX_RUNS_PER_USER runs answering"},
}


class _BoundedBodyRoute(APIRoute):
    """Refuses bodies over `MAX_BODY_BYTES` with a JSON 413, before parsing them.

    (FastAPI's own `max_body_size` answers a too-large `Content-Length` in plain text.)
    """

    def get_route_handler(self) -> Callable[[Request], Any]:
        handle = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                raise _too_large()
            body = bytearray()
            async for chunk in request.stream():  # chunked bodies have no Content-Length
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise _too_large()
            # Starlette's cache of the body: FastAPI's `request.body()` returns it from now on.
            request._body = bytes(body)
            return await handle(request)

        return bounded


def _too_large() -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE, f"The request body is larger than {MAX_BODY_BYTES:,} bytes."
    )


router = APIRouter(prefix="/api", route_class=_BoundedBodyRoute)


@router.post(
    "/chat/stream",
    response_class=EventSourceResponse,
    summary="Chat, streaming every agent event (SSE)",
    responses={200: {"description": "A `text/event-stream` of agent events"}, **_INPUT_ERRORS},
    tags=["chat"],
)
async def chat_stream(
    body: ChatRequest,
    service: Service,
    user_id: UserId,
    heartbeat_s: Annotated[float, Depends(heartbeat_interval)],
) -> EventSourceResponse:
    """Run the agent on `message` and stream its events as they happen.

    Each event is `event: <type>` plus one `data:` line of JSON carrying `run_id`, a
    strictly increasing `seq` and a server `timestamp`. The first is `run_started`, whose
    `conversation_id` continues the conversation; then `tool_call_start`,
    `tool_call_progress`, `tool_call_complete` and `token` as they happen, then
    `assistant_message` and `done` — or `error`. `: ping` comments keep idle proxies
    from closing the stream. Closing the connection stops the run.
    """
    turn = await service.start_turn(user_id=user_id, conversation_id=body.conversation_id, message=body.message)
    run = HttpRun(service, turn)
    return EventSourceResponse(
        _sse_bytes(run),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        ping=heartbeat_s,
        sep="\n",
        ping_message_factory=_ping,
        send_timeout=SEND_TIMEOUT_S,
        # Runs even if the body was never iterated (client gone before the first byte).
        background=BackgroundTask(run.close),
    )


@router.post(
    "/chat",
    summary="Chat, returning the final answer",
    responses=_INPUT_ERRORS,
    tags=["chat"],
)
async def chat(body: ChatRequest, service: Service, user_id: UserId) -> ChatResponse:
    """Run the agent on `message` and return its answer with every tool call it made."""
    turn = await service.start_turn(user_id=user_id, conversation_id=body.conversation_id, message=body.message)
    answer = _Answer()
    async with aclosing(HttpRun(service, turn).events()) as events:
        async for event in events:
            answer.apply(event)
    return answer.response()


@router.get("/conversations", summary="List conversations, most recent first", tags=["conversations"])
def list_conversations(user_id: UserId) -> list[ConversationSummary]:
    with session_scope() as session:
        rows = crud.list_conversations(session=session, user_id=user_id)
        return [
            ConversationSummary(id=c.id, title=c.title, created_at=_utc(c.created_at), updated_at=_utc(c.updated_at))
            for c in rows
        ]


@router.get(
    "/conversations/{conversation_id}",
    summary="One conversation: its messages and their tool calls",
    responses=_NOT_FOUND,
    tags=["conversations"],
)
def get_conversation(conversation_id: str, user_id: UserId) -> ConversationDetail:
    with session_scope() as session:
        conversation = crud.get_conversation(session=session, user_id=user_id, conversation_id=conversation_id)
        if conversation is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND)
        turns = crud.conversation_turns(session=session, user_id=user_id, conversation_id=conversation_id)
        return ConversationDetail(
            id=conversation.id,
            title=conversation.title,
            created_at=_utc(conversation.created_at),
            updated_at=_utc(conversation.updated_at),
            messages=[
                MessageOut(
                    id=t.message.id,
                    role=t.message.role,
                    content=t.message.content,
                    status=t.message.status,
                    needs_auth=t.message.needs_auth,
                    error=t.message.error,
                    retryable=t.message.retryable,
                    run_id=t.message.run_id,
                    created_at=_utc(t.message.created_at),
                    tool_calls=[_stored_call(c) for c in t.tool_calls],
                )
                for t in turns
            ],
        )


@router.delete(
    "/conversations/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a conversation with its messages and tool calls",
    responses=_NOT_FOUND,
    tags=["conversations"],
)
async def delete_conversation(conversation_id: str, user_id: UserId, service: Service) -> Response:
    try:
        await service.delete_conversation(user_id=user_id, conversation_id=conversation_id)
    except ChatInputError as exc:
        if exc.status == status.HTTP_404_NOT_FOUND:
            raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND) from exc
        raise
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class StopResult(_ApiModel):
    stopped: bool
    """Whether a run was answering in the conversation (it is being stopped)."""


def _running_run_id(user_id: str, conversation_id: str) -> str | None:
    """The run answering in the user's conversation ("" if none); None if it is not theirs."""
    with session_scope() as session:
        if crud.get_conversation(session=session, user_id=user_id, conversation_id=conversation_id) is None:
            return None
        run = crud.running_run(session=session, user_id=user_id, conversation_id=conversation_id)
        return run.id if run else ""


@router.post(
    "/conversations/{conversation_id}/stop",
    summary="Stop the run answering in a conversation (like the Stop button)",
    responses=_NOT_FOUND,
    tags=["conversations"],
)
async def stop_conversation(conversation_id: str, user_id: UserId, service: Service) -> StopResult:
    run_id = await asyncio.to_thread(_running_run_id, user_id, conversation_id)
    if run_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND)
    return StopResult(stopped=bool(run_id) and await service.active.stop(run_id))


class ResourceInfo(_ApiModel):
    id: str
    title: str
    kind: str
    row_count: int
    partial: bool
    """True when the run stopped before every row arrived."""
    source: str | None
    as_of: datetime | None
    created_at: datetime
    conversation_id: str
    tool_call_id: str


class ResourceColumnOut(_ApiModel):
    key: str
    label: str
    type: str


class ResourceDetail(ResourceInfo):
    columns: list[ResourceColumnOut]
    rows: list[dict[str, Any]]


def _resource_info(summary: resources.ResourceSummary) -> ResourceInfo:
    return ResourceInfo(**{field: getattr(summary, field) for field in ResourceInfo.model_fields})


RESOURCE_NOT_FOUND = "Resource not found"


@router.get(
    "/conversations/{conversation_id}/resources",
    summary="The results a conversation's tools saved, newest first (without rows)",
    responses=_NOT_FOUND,
    tags=["resources"],
)
async def list_conversation_resources(conversation_id: str, user_id: UserId) -> list[ResourceInfo]:
    def read() -> list[resources.ResourceSummary] | None:
        with session_scope() as session:
            if crud.get_conversation(session=session, user_id=user_id, conversation_id=conversation_id) is None:
                return None
        return resources.list_for_conversation(user_id, conversation_id)

    found = await asyncio.to_thread(read)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND)
    return [_resource_info(s) for s in found]


@router.get(
    "/resources/{resource_id}.csv",
    summary="A saved result as CSV (safe to open in a spreadsheet)",
    responses={**_NOT_FOUND, 200: {"content": {"text/csv": {}}}},
    response_class=Response,
    tags=["resources"],
)
async def resource_csv(resource_id: str, user_id: UserId) -> Response:
    resource = await asyncio.to_thread(resources.load, user_id, resource_id)
    if resource is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, RESOURCE_NOT_FOUND)
    filename = re.sub(r"[^A-Za-z0-9 ._-]+", "", resource.title).strip() or "finch-result"
    return Response(
        content="\ufeff" + resources.to_csv(resource),  # the BOM makes spreadsheets read UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


@router.get(
    "/resources/{resource_id}",
    summary="A saved result with its columns and rows",
    responses=_NOT_FOUND,
    tags=["resources"],
)
async def get_resource(resource_id: str, user_id: UserId) -> ResourceDetail:
    resource = await asyncio.to_thread(resources.load, user_id, resource_id)
    if resource is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, RESOURCE_NOT_FOUND)
    info = _resource_info(resources.summarize(resource))
    return ResourceDetail(
        **info.model_dump(),
        columns=[ResourceColumnOut(**c) for c in resource.columns],
        rows=resource.rows,
    )


def _utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _stored_call(call: ToolCall) -> ToolCallResult:
    return ToolCallResult(
        id=call.tool_call_id,
        name=call.name,
        arguments=call.arguments,
        status=call.status,  # type: ignore[arg-type]
        duration_ms=call.duration_ms,
        error=call.error,
        summary=call.summary,
    )


# --- errors ------------------------------------------------------------------------------


async def _chat_input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ChatInputError)
    return JSONResponse({"detail": exc.message}, status_code=exc.status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's schema errors, with a `detail` a person can act on."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        position = bad_json["loc"][-1] if len(bad_json["loc"]) > 1 else "?"
        reason = bad_json.get("ctx", {}).get("error", "JSON decode error")
        detail = f"The request body is not valid JSON ({reason} at position {position})."
        return JSONResponse({"detail": detail}, status_code=status.HTTP_400_BAD_REQUEST)
    problems = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        if not where:
            problems.append(
                'the body must be a JSON object such as {"message": "..."} sent as application/json'
            )
        else:
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
    detail = "Invalid request: " + "; ".join(dict.fromkeys(problems)) + "."
    safe = [{k: v for k, v in e.items() if k in {"type", "loc", "msg"}} for e in errors]
    return JSONResponse({"detail": detail, "errors": safe}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


# --- the app -----------------------------------------------------------------------------


def _with_event_schemas(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document, with the stream's events described (OpenAPI 3.2 `itemSchema`)."""
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = default()
        union = agent_event_adapter.json_schema(mode="serialization", ref_template="#/components/schemas/{model}")
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in union.pop("$defs", {}).items():
            schemas.setdefault(name, schema)
        event_names = sorted(union["discriminator"]["mapping"])
        item = {
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": {"type": "string", "enum": event_names},
                "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": union},
            },
        }
        ok = document["paths"]["/api/chat/stream"]["post"]["responses"]["200"]
        ok["content"] = {"text/event-stream": {"itemSchema": item}}
        return document

    return openapi


def create_api() -> FastAPI:
    """The FastAPI app Reflex mounts with `api_transformer` (Reflex's own routes go below it)."""
    app = FastAPI(
        title="Finch API",
        version="0.1.0",
        summary="Chat with Finch's agent from programs; see every tool call as it happens.",
        docs_url="/api/docs",
        redoc_url="/api/redoc",
        openapi_url="/api/openapi.json",
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
    )
    app.include_router(router)
    app.include_router(auth_routes.router)
    app.include_router(health.router)
    # Outermost: covers these routes and, in prod mode, Reflex's pages and assets mounted below.
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(ChatInputError, _chat_input_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.openapi = _with_event_schemas(app)  # type: ignore[method-assign]
    return app
