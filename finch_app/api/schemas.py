"""The API's request and response bodies; their docstrings become the OpenAPI descriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from finch_app.agent.status import MessageStatus, ToolStatus
from finch_app.reads import ConversationInfo, ResourceSummary, ToolCallRecord


class ApiModel(BaseModel):
    # The docstrings under fields become their descriptions in the OpenAPI document.
    model_config = ConfigDict(use_attribute_docstrings=True)


class ChatRequest(ApiModel):
    message: str = Field(examples=["review my portfolio"])
    """What the user asks. Must not be empty; the length limit is the UI's."""
    conversation_id: str | None = Field(None, examples=[None])
    """Continue this conversation; `null` starts a new one (its id is in the first event)."""


class ApiError(ApiModel):
    detail: str
    """What was wrong with the request, in words."""
    errors: list[dict[str, Any]] | None = None
    """For schema errors (422): each problem as FastAPI reports it."""


class ToolCallResult(ApiModel):
    id: str
    """The model's id for the call: `tool_call_id` in the stream's events."""
    name: str
    arguments: dict[str, JsonValue]
    status: ToolStatus
    duration_ms: int | None = None
    error: str | None = None
    summary: str | None = None
    """One line a person can read, e.g. "8 holdings · $84,210"."""

    @classmethod
    def of(cls, call: ToolCallRecord) -> ToolCallResult:
        return cls(
            id=call.tool_call_id,
            name=call.name,
            arguments=call.arguments,
            status=ToolStatus(call.status),
            duration_ms=call.duration_ms,
            error=call.error,
            summary=call.summary,
        )


class ChatResponse(ApiModel):
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


class ConversationSummary(ApiModel):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, info: ConversationInfo) -> ConversationSummary:
        return cls(id=info.id, title=info.title, created_at=info.created_at, updated_at=info.updated_at)


class ConversationRename(ApiModel):
    title: str = Field(min_length=1, max_length=200, examples=["Senate trades in my holdings"])
    """The new title (whitespace is collapsed; titles longer than 60 characters are cut)."""


class MessageOut(ApiModel):
    id: str
    role: str
    """"user" or "assistant"."""
    content: str
    status: MessageStatus
    needs_auth: bool = False
    error: str | None = None
    retryable: bool = False
    run_id: str | None = None
    created_at: datetime
    tool_calls: list[ToolCallResult] = []
    """The tool calls of the run that produced this (assistant) message."""


class ConversationDetail(ConversationSummary):
    messages: list[MessageOut]


class StopResult(ApiModel):
    stopped: bool
    """Whether a run was answering in the conversation (it is being stopped)."""


class ResourceInfo(ApiModel):
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

    @classmethod
    def of(cls, summary: ResourceSummary) -> ResourceInfo:
        return cls(**{name: getattr(summary, name) for name in cls.model_fields})


class ResourceColumnOut(ApiModel):
    key: str
    label: str
    type: str


class ResourceDetail(ResourceInfo):
    columns: list[ResourceColumnOut]
    rows: list[dict[str, Any]]


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ApiError, "description": "Unknown id"},
    422: {"model": ApiError, "description": "The request does not match the schema"},
}
INPUT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "Malformed JSON, or an empty or over-long message"},
    404: {"model": ApiError, "description": "Unknown conversation id"},
    409: {"model": ApiError, "description": "A run is still answering in this conversation"},
    413: {"model": ApiError, "description": "Request body too large"},
    422: {"model": ApiError, "description": "The body does not match the request schema"},
    429: {"model": ApiError, "description": "The user already has FINCH_MAX_RUNS_PER_USER runs answering"},
}
