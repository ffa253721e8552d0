"""The agent's event stream: the one contract between the agent and every consumer.

Pure values. The Reflex state, the SSE route and the persistence layer all consume
these same objects; wire names and fields follow the original Finch's SSE format.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

from finch_app.agent.approvals import ResumeState
from finch_app.agent.status import RunStatus, ToolStatus


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
    """completed, error, cancelled (the run was stopped) or interrupted (its server stopped)."""
    duration_ms: int
    error: str | None = None
    summary: str | None = None
    """One line a person can read, e.g. "12 holdings · $84,210"."""
    resource_id: str | None = None
    output: str | None = Field(None, exclude=True, repr=False)
    """The result text the model saw. Kept for history replay; never on the wire."""


class ToolApprovalRequired(_Event):
    """A tool call that changes the user's data waits for their yes (the run pauses after its round)."""

    type: Literal["tool_approval_required"] = "tool_approval_required"
    tool_call_id: str
    tool_name: str
    arguments: dict[str, JsonValue]
    description: str
    """The change in plain words, e.g. "Add 10 shares of NVDA at $120.00 to your holdings"."""


class ToolApprovalDecided(_Event):
    """The user decided on a waiting call: approved (it runs now) or denied (it never runs)."""

    type: Literal["tool_approval_decided"] = "tool_approval_decided"
    tool_call_id: str
    approved: bool
    reason: str = ""
    decided_by: str = ""
    via: str = ""
    """"browser", "api" or "expiry"."""


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
    status: Literal["completed", "awaiting_approval"] = "completed"
    """`awaiting_approval`: the run paused for the user's decision on the calls of its
    `tool_approval_required` events; it goes on (and can be followed again) once they decide."""
    resume: ResumeState | None = Field(None, exclude=True, repr=False)
    """How to go on after a pause. Kept by the run's owner; never on the wire."""


class Error(_Event):
    type: Literal["error"] = "error"
    error: str
    """What happened, in words for the user."""
    details: str | None = Field(None, exclude=True, repr=False)
    """Technical detail for the operator's log; never on the wire (it can name hosts, URLs or SQL)."""
    retryable: bool = False
    """Whether sending the same message again may succeed."""
    status: RunStatus = RunStatus.ERROR
    """How the run ended: error (it failed), cancelled (stopped by the user or a client that
    went away) or interrupted (its server stopped)."""


AgentEvent = Annotated[
    RunStarted
    | ToolCallStart
    | ToolCallProgress
    | ToolCallComplete
    | ToolApprovalRequired
    | ToolApprovalDecided
    | ResourceSaved
    | Token
    | AssistantMessage
    | Done
    | Error,
    Field(discriminator="type"),
]
agent_event_adapter: TypeAdapter[AgentEvent] = TypeAdapter(AgentEvent)


TERMINAL_EVENTS = (Done, Error)
"""Every run's stream ends with exactly one of these."""


class EventStamp:
    """Hands out the common fields of a run's events: its id, the next `seq`, the server time.

    One per run, owned by whoever runs it: every event of the run, from `run_started` to the
    closing ones of a stopped run, is numbered by the same stamp.
    """

    def __init__(self, run_id: str, next_seq: int = 0) -> None:
        self.run_id = run_id
        self.next_seq = next_seq

    def __call__(self) -> dict[str, Any]:
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        return {"run_id": self.run_id, "seq": seq, "timestamp": time.time()}
