"""The agent's event stream: the one contract between the agent and every consumer.

Pure values. The Reflex state, the SSE route and the persistence layer all consume
these same objects; wire names and fields follow the original Finch's SSE format.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

ToolStatus = Literal["completed", "error", "cancelled"]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    """The run this event belongs to; one run answers one user message."""
    seq: int
    """Strictly increasing within a run, starting at 0."""
    timestamp: float
    """Server time of the event, seconds since the epoch."""


class RunStarted(_Event):
    type: Literal["run_started"] = "run_started"
    conversation_id: str
    """Send this back as `conversation_id` to continue the conversation."""
    user_message_id: str
    model: str
    """Display name of the model answering this run."""


class ToolCallStart(_Event):
    type: Literal["tool_call_start"] = "tool_call_start"
    tool_call_id: str
    tool_name: str
    arguments: dict[str, JsonValue]
    """Arguments after validation against the tool schema (raw ones if invalid)."""


class ToolCallProgress(_Event):
    type: Literal["tool_call_progress"] = "tool_call_progress"
    tool_call_id: str
    message: str
    fraction: float | None = None
    """Share of the work done, 0..1, when the tool knows it."""


class ToolCallComplete(_Event):
    type: Literal["tool_call_complete"] = "tool_call_complete"
    tool_call_id: str
    tool_name: str
    status: ToolStatus
    duration_ms: int
    error: str | None = None
    summary: str | None = None
    """One line a person can read, e.g. "12 holdings · $84,210"."""
    resource_id: str | None = None
    output: str | None = Field(None, exclude=True, repr=False)
    """The result text the model saw. Kept for history replay; never on the wire."""


class ResourceSaved(_Event):
    type: Literal["resource"] = "resource"
    resource_id: str
    title: str
    kind: str
    row_count: int
    tool_call_id: str
    partial: bool = False
    """True while the tool is still adding rows (or when it was stopped before finishing)."""


class Token(_Event):
    type: Literal["token"] = "token"
    text: str


class AssistantMessage(_Event):
    type: Literal["assistant_message"] = "assistant_message"
    content: str
    needs_auth: bool = False
    """True when a tool needs the user to connect or add a portfolio first."""


class Done(_Event):
    type: Literal["done"] = "done"
    message: str = "Stream complete"


class Error(_Event):
    type: Literal["error"] = "error"
    error: str
    """What happened, in words for the user."""
    details: str | None = None
    retryable: bool = False
    """Whether sending the same message again may succeed."""


AgentEvent = Annotated[
    RunStarted
    | ToolCallStart
    | ToolCallProgress
    | ToolCallComplete
    | ResourceSaved
    | Token
    | AssistantMessage
    | Done
    | Error,
    Field(discriminator="type"),
]
agent_event_adapter: TypeAdapter[AgentEvent] = TypeAdapter(AgentEvent)
