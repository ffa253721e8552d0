"""The words for how things stand: one vocabulary for tool calls, runs and messages.

The same fact gets the same word everywhere: a Stop leaves the run, its open tool calls and
its answer `cancelled`; a finished answer is `completed` in the database, the API and the
page alike.
"""

from __future__ import annotations

from enum import StrEnum


class ToolStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"
    """Stopped by the user (or a client that went away) before it finished."""
    INTERRUPTED = "interrupted"
    """Its server stopped before it finished."""


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class MessageStatus(StrEnum):
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    SUPERSEDED = "superseded"
    """An answer replaced by a retry: kept, never shown."""


ENDED_RUN_TO_MESSAGE = {
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
