"""Chat over HTTP: the final answer as JSON, or every event as it happens (SSE).

A thin adapter over the run service: start the run, follow it, and stop it when the client
leaves (the same Stop as the button: tools get cancelled, rows end `cancelled`). The run is
stored like a UI run and shows up in the UI's conversation list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, assert_never

import anyio
from fastapi import APIRouter, Depends
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from finch_app.agent.events import (
    AgentEvent,
    AssistantMessage,
    Done,
    Error,
    ResourceSaved,
    RunStarted,
    Token,
    ToolApprovalDecided,
    ToolApprovalRequired,
    ToolCallComplete,
    ToolCallProgress,
    ToolCallStart,
)
from finch_app.agent.status import RunStatus, ToolStatus
from finch_app.api.deps import BoundedBodyRoute, Context, UserId, heartbeat_interval
from finch_app.api.schemas import (
    INPUT_ERRORS,
    NEEDS_USER,
    ChatRequest,
    ChatResponse,
    PendingApprovalOut,
    ToolCallResult,
)
from finch_app.api.sse import encode_event
from finch_app.runs.feed import Feed
from finch_app.runs.service import RunService

SEND_TIMEOUT_S = 60.0
"""A client that takes no bytes for this long is treated as gone."""

router = APIRouter(prefix="/api", route_class=BoundedBodyRoute, tags=["chat"], responses=NEEDS_USER)


async def _stop_when_gone(runs: RunService, run_id: str) -> None:
    """The client is done with the run: stop it if it still runs, and wait until its rows are final."""
    # Shielded: a disconnect cancels us, but the run's rows must be final before we go.
    with anyio.CancelScope(shield=True):
        await runs.stop(run_id, wait=True, waiting=False)  # a run that paused for approval stays paused


async def _sse(feed: Feed, runs: RunService | None, run_id: str, after: int = -1) -> AsyncIterator[bytes]:
    try:
        async for event in feed:
            if event.seq > after:
                yield encode_event(event).encode()
    finally:
        await feed.aclose()
        if runs is not None:
            await _stop_when_gone(runs, run_id)


def _ping() -> ServerSentEvent:
    return ServerSentEvent(comment="ping", sep="\n")


def _event_stream(body: AsyncIterator[bytes], heartbeat_s: float, **kwargs: object) -> EventSourceResponse:
    return EventSourceResponse(
        body,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        ping=heartbeat_s,
        sep="\n",
        ping_message_factory=_ping,
        send_timeout=SEND_TIMEOUT_S,
        **kwargs,  # type: ignore[arg-type]
    )


def follow_stream(feed: Feed, heartbeat_s: float, *, after: int = -1) -> EventSourceResponse:
    """A run's events as SSE for a follower that does not own it (leaving does not stop it)."""
    return _event_stream(_sse(feed, None, "", after), heartbeat_s)


@router.post(
    "/chat/stream",
    response_class=EventSourceResponse,
    summary="Chat, streaming every agent event (SSE)",
    responses={200: {"description": "A `text/event-stream` of agent events"}, **INPUT_ERRORS},
)
async def chat_stream(
    body: ChatRequest,
    context: Context,
    user_id: UserId,
    heartbeat_s: Annotated[float, Depends(heartbeat_interval)],
) -> EventSourceResponse:
    """Run the agent on `message` and stream its events as they happen.

    Each event is `event: <type>` plus one `data:` line of JSON carrying `run_id`, a
    strictly increasing `seq` and a server `timestamp`. The first is `run_started`, whose
    `conversation_id` continues the conversation; then `tool_call_start`,
    `tool_call_progress`, `tool_call_complete` and `token` as they happen, then
    `assistant_message` and `done` — or `error`. A change to the user's data first asks:
    `tool_approval_required` (with the change in plain words), then `done` with status
    `awaiting_approval` ends the stream; decide with `POST /api/runs/{run_id}/approvals/{tool_call_id}`
    and follow the rest with `GET /api/runs/{run_id}/stream`. `: ping` comments keep idle proxies
    from closing the stream. Closing the connection stops the run (not one waiting for approval).
    """
    runs = context.runs
    started = await runs.start(user_id=user_id, conversation_id=body.conversation_id, message=body.message)
    feed = await runs.follow(started.run_id)
    return _event_stream(
        _sse(feed, runs, started.run_id),
        heartbeat_s,
        # Runs even if the body was never iterated (client gone before the first byte).
        background=BackgroundTask(_stop_when_gone, runs, started.run_id),
    )


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
        self.status = RunStatus.RUNNING

    def apply(self, event: AgentEvent) -> None:
        match event:
            case RunStarted():
                self.conversation_id = event.conversation_id
                self.run_id = event.run_id
            case ToolCallStart():
                self.calls[event.tool_call_id] = ToolCallResult(
                    id=event.tool_call_id,
                    name=event.tool_name,
                    arguments=event.arguments,
                    status=ToolStatus.RUNNING,
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
                self.status = event.status
            case Done():
                self.status = (
                    RunStatus.AWAITING_APPROVAL
                    if event.status == "awaiting_approval"
                    else RunStatus.COMPLETED
                )
            case ToolCallProgress() | ResourceSaved() | ToolApprovalRequired() | ToolApprovalDecided():
                pass
            case _:
                assert_never(event)

    def response(self, pending: list[PendingApprovalOut]) -> ChatResponse:
        return ChatResponse(
            status=self.status,
            pending_approvals=pending,
            content=self.content if self.content is not None else self.text,
            needs_auth=self.needs_auth,
            conversation_id=self.conversation_id,
            run_id=self.run_id,
            tool_calls=list(self.calls.values()),
            error=self.error,
            retryable=self.retryable,
        )


@router.post("/chat", summary="Chat, returning the final answer", responses=INPUT_ERRORS)
async def chat(body: ChatRequest, context: Context, user_id: UserId) -> ChatResponse:
    """Run the agent on `message` and return its answer with every tool call it made."""
    runs = context.runs
    started = await runs.start(user_id=user_id, conversation_id=body.conversation_id, message=body.message)
    answer = _Answer()
    feed = await runs.follow(started.run_id)
    try:
        async for event in feed:
            answer.apply(event)
    finally:
        await feed.aclose()
        await _stop_when_gone(runs, started.run_id)
    pending = []
    if answer.status == RunStatus.AWAITING_APPROVAL:
        timeout = context.settings.approval_timeout_s
        waiting = await context.reads.pending_approvals(user_id)
        pending = [PendingApprovalOut.of(p, timeout) for p in waiting if p.run_id == started.run_id]
    return answer.response(pending)
