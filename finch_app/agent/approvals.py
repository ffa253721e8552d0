"""Tools that change things ask first: which calls need the user's yes, and how a paused run goes on.

Pure values. A tool marked `changes_data` asks by default; the run's owner gives the loop a
rule for this user and run (the operator's policy plus what the user chose to always allow).
A round whose calls include one that must ask runs its other calls, then pauses: the loop's
last event (`done` with status `awaiting_approval`) carries everything needed to go on later —
the run's messages so far, its answer text, the calls waiting — so nothing has to wait in a task.
Once every waiting call is decided, `Agent.resume` continues from exactly there.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from finch_app.agent.model import ChatMessage, ToolCallRequest

ApprovalRule = Callable[[str, bool], bool]
"""(tool name, whether the tool changes data) → whether this call must wait for the user's yes."""


def ask_when_data_changes(tool_name: str, changes_data: bool) -> bool:
    """The default rule: read-only tools run at once; tools that change data ask."""
    return changes_data


class Decision(BaseModel):
    """What the user (or the clock) said about one waiting call."""

    model_config = ConfigDict(frozen=True)

    approved: bool
    reason: str = ""
    """Why not (a denial), in the user's words or the expiry's."""
    decided_by: str = ""
    """Who decided: the user's name, or "expiry"."""
    via: str = ""
    """Through which door: "browser", "api" or "expiry"."""


class PendingCall(BaseModel):
    model_config = ConfigDict(frozen=True)

    call: ToolCallRequest
    description: str
    """The change in plain words, e.g. "Add 10 shares of NVDA at $120.00 to your holdings"."""


class ResumeState(BaseModel):
    """A paused run, as the loop left it: enough to go on as if it had never stopped."""

    messages: list[ChatMessage] = Field(default_factory=list)
    """The run's own messages after the user's question (rounds of tool calls and results)."""
    answer: str = ""
    """The answer text streamed so far."""
    needs_auth: bool = False
    rounds: int = 0
    """Model rounds already done."""
    results: dict[str, str] = Field(default_factory=dict)
    """Results of the paused round's calls that ran (tool call id → what the model reads)."""
    pending: list[PendingCall] = Field(default_factory=list)
    """The paused round's calls waiting for a decision, in the model's order."""


DENIED_RESULT = "Denied: the user did not approve this change, so nothing was changed."
EXPIRED_REASON_START = "Nobody approved it within"
"""How the reason of a change denied for want of an answer begins (models tell it from the user's own)."""


def expired_reason(timeout_s: float) -> str:
    """The reason a waiting change is denied when nobody decided within `timeout_s`."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        if timeout_s >= size or unit == "second":
            amount = max(1, round(timeout_s / size))
            return f"{EXPIRED_REASON_START} {amount:,} {unit}{'s' if amount != 1 else ''}."
    raise AssertionError("unreachable")


def denied_result(reason: str) -> str:
    """What the model reads for a call the user turned down."""
    return DENIED_RESULT + (f" Their reason: {reason}" if reason else "")
