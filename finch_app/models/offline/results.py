"""The tool results of the current turn, read back from the conversation.

The model sees results only as the loop hands them over: JSON text in `tool` messages,
with a note naming the saved table when there is one, or "Error: …". This module pairs
each with the call that asked for it (its arguments say which ticker a failure was
about), so the writers depend on the tools' field names, never on their code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from finch_app.agent.model import ChatMessage
from finch_app.agent.resources import split_resource_note
from finch_app.models.offline.words import plain


@dataclass(frozen=True)
class Result:
    """One tool call of this turn and what came back."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    value: dict[str, Any] | None = None
    """The decoded result; None when the tool failed."""
    error: str | None = None
    resource: tuple[str, str] | None = None
    """(title, id) of the table the result was saved as, for a link to Results."""

    @property
    def ok(self) -> bool:
        return self.value is not None

    @property
    def ticker(self) -> str | None:
        value = self.arguments.get("ticker")
        return value if isinstance(value, str) else None

    @property
    def needs_auth(self) -> bool:
        return bool(self.value and self.value.get("needs_auth"))

    def provenances(self) -> list[dict[str, Any]]:
        """Where the data came from: one entry, or several for multi-source tools."""
        if not self.value:
            return []
        found = self.value.get("provenance")
        items = found if isinstance(found, list) else [found]
        return [p for p in items if isinstance(p, dict)]


def current_turn(messages: Sequence[ChatMessage]) -> tuple[int, list[Result]]:
    """How many tool rounds the current turn has had, and their results in call order."""
    start = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1) + 1
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    rounds = 0
    results: list[Result] = []
    for message in messages[start:]:
        if message.role == "assistant" and message.tool_calls:
            rounds += 1
            for call in message.tool_calls:
                calls[call.id] = (call.name, arguments_of(call.arguments))
        elif message.role == "tool":
            name, arguments = calls.get(message.tool_call_id or "", (message.name or "", {}))
            results.append(_read(message.name or name, arguments, message.content or ""))
    return rounds, results


def read_result(tool: str, arguments: dict[str, Any], text: str) -> Result:
    """One call's result from the text the model reads (an earlier turn's, say)."""
    return _read(tool, arguments, text)


def _read(tool: str, arguments: dict[str, Any], text: str) -> Result:
    body, saved = split_resource_note(text)
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        error = plain(" ".join(body.removeprefix("Error: ").split()))
        return Result(tool=tool, arguments=arguments, error=error or "the tool failed")
    if not isinstance(value, dict):
        return Result(tool=tool, arguments=arguments, error="the tool returned something unexpected")
    return Result(tool=tool, arguments=arguments, value=_escaped(value), resource=saved)


def _escaped(value: Any) -> Any:
    """Every string of a result with markdown escaped: the writers put names and notes into answers."""
    if isinstance(value, str):
        return plain(value)
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    return value


def arguments_of(raw: str) -> dict[str, Any]:
    """A tool call's arguments from their JSON text; empty when they do not parse."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
