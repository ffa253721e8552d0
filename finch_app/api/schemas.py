"""The API's request and response bodies; their docstrings become the OpenAPI descriptions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from finch_app.agent.status import MessageStatus, RunStatus, ToolStatus
from finch_app.reads import ConversationInfo, PendingApproval, ResourceSummary, ToolCallRecord


class ApiModel(BaseModel):
    # The docstrings under fields become their descriptions in the OpenAPI document.
    model_config = ConfigDict(use_attribute_docstrings=True)


NOT_SPACE = (
    "[^\\x00\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
)
MESSAGE_PATTERN = f"^[^\\x00]*{NOT_SPACE}[^\\x00]*$"
"""Some text that is not white space (Python's idea of it, which `RunService.check_message` strips), and
no NUL. The document says so; the service checks it and answers 400 (as for a lone surrogate)."""
TITLE_PATTERN = (
    "^[\\s\\S]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][\\s\\S]*$"
)
"""Something visible: `RunService.rename_conversation` drops control characters and collapses white space."""
ID_PATTERN = "^([A-Za-z0-9_.:-]{1,128})?$"


class ChatRequest(ApiModel):
    # The constraints are the service's (one check for the UI and the API); the schema describes them.
    message: str = Field(
        examples=["review my portfolio"], json_schema_extra={"minLength": 1, "pattern": MESSAGE_PATTERN}
    )
    """What the user asks. Text that is only white space, has a NUL or a lone surrogate, or is longer than
    `maxLength` (FINCH_MAX_MESSAGE_CHARS) is refused with a 400."""
    conversation_id: str | None = Field(None, examples=[None], json_schema_extra={"pattern": ID_PATTERN})
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


class PendingApprovalOut(ApiModel):
    run_id: str
    conversation_id: str
    tool_call_id: str
    tool_name: str
    arguments: dict[str, JsonValue]
    description: str
    """The change in plain words, e.g. "Add 10 shares of NVDA at $120.00 to your holdings"."""
    requested_at: datetime
    expires_at: datetime
    """When it is denied by itself if nobody decides (`FINCH_APPROVAL_TIMEOUT_S`)."""

    @classmethod
    def of(cls, pending: PendingApproval, timeout_s: float) -> PendingApprovalOut:
        return cls(
            **{name: getattr(pending, name) for name in cls.model_fields if name != "expires_at"},
            expires_at=pending.requested_at + timedelta(seconds=timeout_s),
        )


class ChatResponse(ApiModel):
    status: RunStatus = RunStatus.COMPLETED
    """How the run stands: completed, error, cancelled, or awaiting_approval (see `pending_approvals`)."""
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
    pending_approvals: list[PendingApprovalOut] = []
    """With status `awaiting_approval`: the changes waiting for a decision
    (`POST /api/runs/{run_id}/approvals/{tool_call_id}`)."""


class DecisionIn(ApiModel):
    decision: Literal["approve", "deny"]
    reason: str = Field("", max_length=500)
    """Why not (a denial): the model is told."""
    always_allow: bool = False
    """With `approve`: this tool runs without asking from now on (unless the operator requires asking)."""


class DecisionOut(ApiModel):
    decided: bool
    """False when it had been decided already (deciding twice changes nothing)."""
    approved: bool
    resumed: bool
    """The run went on: follow it with `GET /api/runs/{run_id}/stream`."""
    run_id: str
    conversation_id: str


class ConversationSummary(ApiModel):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, info: ConversationInfo) -> ConversationSummary:
        return cls(id=info.id, title=info.title, created_at=info.created_at, updated_at=info.updated_at)


class ConversationRename(ApiModel):
    title: str = Field(
        min_length=1,
        max_length=200,
        examples=["Senate trades in my holdings"],
        json_schema_extra={"pattern": TITLE_PATTERN},
    )
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


NEEDS_USER: dict[int | str, dict[str, Any]] = {
    401: {"model": ApiError, "description": "No valid API token (with FINCH_AUTH=password or header)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ApiError, "description": "Unknown id"},
    422: {"model": ApiError, "description": "The request does not match the schema"},
}
BAD_QUERY: dict[int | str, dict[str, Any]] = {
    422: {"model": ApiError, "description": "A query parameter does not match the schema"},
}
BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "Malformed JSON"},
    413: {"model": ApiError, "description": "Request body too large"},
}
INPUT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ApiError,
        "description": "Malformed JSON; a blank or over-long message, or one with a NUL or a lone surrogate; "
        "a conversation_id that cannot be an id",
    },
    404: {"model": ApiError, "description": "Unknown conversation id"},
    409: {
        "model": ApiError,
        "description": "A run is still answering in this conversation, or the user keeps the most "
        "conversations Finch allows (FINCH_MAX_CONVERSATIONS_PER_USER)",
    },
    413: {"model": ApiError, "description": "Request body too large"},
    422: {"model": ApiError, "description": "The body does not match the request schema"},
    429: {"model": ApiError, "description": "The user already has FINCH_MAX_RUNS_PER_USER runs answering"},
}
