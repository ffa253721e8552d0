"""The words for how things stand: one vocabulary for tool calls, runs and messages.

The same fact gets the same word everywhere: a Stop leaves the run, its open tool calls and
its answer `cancelled`; a finished answer is `completed` in the database, the API and the
page alike.
"""

from __future__ import annotations

from enum import StrEnum


class ToolStatus(StrEnum):
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    """It changes the user's data: it runs only once the user approves it."""
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"
    """Stopped by the user (or a client that went away) before it finished."""
    INTERRUPTED = "interrupted"
    """Its server stopped before it finished."""
    DENIED = "denied"
    """The user said no (or nobody said yes in time): it never ran."""


class RunStatus(StrEnum):
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    """Paused, with no task: it goes on when the user decides on its pending tool calls."""
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class MessageStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    """The answer so far of a run waiting for the user's decision."""
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    SUPERSEDED = "superseded"
    """An answer replaced by a retry: kept, never shown."""


ENDED_RUN_TO_MESSAGE = {
    RunStatus.AWAITING_APPROVAL: MessageStatus.AWAITING_APPROVAL,
    RunStatus.COMPLETED: MessageStatus.COMPLETED,
    RunStatus.ERROR: MessageStatus.ERROR,
    RunStatus.CANCELLED: MessageStatus.CANCELLED,
    RunStatus.INTERRUPTED: MessageStatus.INTERRUPTED,
}
"""The answer's status for each way a run ends."""

OPEN_TOOL_FATE = {
    RunStatus.CANCELLED: ToolStatus.CANCELLED,
    RunStatus.INTERRUPTED: ToolStatus.INTERRUPTED,
    RunStatus.ERROR: ToolStatus.ERROR,
}
"""What a tool call still running becomes when its run ends without it."""
