"""The earlier conversation as the model should see it, rebuilt from the stored turns.

Every tool call is paired with a result (a stopped or interrupted call says so), long results
are shortened (the answer that used them carries the rest), and an answer that ended early
says how it ended.
"""

from __future__ import annotations

import json

from finch_app.agent.loop import CANCELLED_TOOL_RESULT
from finch_app.agent.model import ChatMessage, ToolCallRequest
from finch_app.agent.status import MessageStatus, ToolStatus
from finch_app.db.crud import Turn

HISTORY_RESULT_CHARS = 4_000
"""Tool results replayed from earlier turns are shortened to this."""
INTERRUPTED_TOOL_RESULT = "Interrupted: the server stopped before this tool finished."


def model_history(turns: list[Turn]) -> list[ChatMessage]:
    """Earlier turns as chat messages: every tool call paired with a result."""
    history: list[ChatMessage] = []
    for turn in turns:
        message = turn.message
        if message.role == "user":
            history.append(ChatMessage(role="user", content=message.content))
            continue
        if turn.tool_calls:
            history.append(
                ChatMessage(
                    role="assistant",
                    tool_calls=[
                        ToolCallRequest(id=c.tool_call_id, name=c.name, arguments=json.dumps(c.arguments))
                        for c in turn.tool_calls
                    ],
                )
            )
            history.extend(
                ChatMessage(
                    role="tool",
                    tool_call_id=call.tool_call_id,
                    name=call.name,
                    content=replayed_output(call.status, call.output, call.error),
                )
                for call in turn.tool_calls
            )
        content = message.content
        if message.status != MessageStatus.COMPLETED:
            content = (content + "\n\n" if content else "") + f"[This answer ended early: {message.status}.]"
        history.append(ChatMessage(role="assistant", content=content))
    return history


def replayed_output(status: str, output: str | None, error: str | None) -> str:
    """What the model reads as an earlier call's result."""
    if status == ToolStatus.CANCELLED:
        return CANCELLED_TOOL_RESULT
    if status == ToolStatus.INTERRUPTED:
        return INTERRUPTED_TOOL_RESULT
    if status == ToolStatus.ERROR:
        return output or f"Error: {error or 'the tool failed'}"
    text = output or ""
    if len(text) > HISTORY_RESULT_CHARS:
        text = text[:HISTORY_RESULT_CHARS] + " … [shortened: see the earlier answer]"
    return text
