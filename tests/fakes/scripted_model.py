"""A scripted `ChatModel`: a FIFO of steps, one per model round.

Loop, service and state tests use it instead of a real model; the OpenAI wire format
is tested separately against `openai_server.py`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from finch_app.agent.model import ChatMessage, ModelError, ModelOutput, TextDelta, ToolCallRequest


@dataclass
class Step:
    text: str = ""
    calls: list[ToolCallRequest] = field(default_factory=list)
    error: Exception | None = None
    delay_s: float = 0.0


def text(content: str, *, delay_s: float = 0.0) -> Step:
    return Step(text=content, delay_s=delay_s)


def tool_call(name: str, arguments: dict[str, Any] | str | None = None, *, id: str | None = None) -> Step:
    return tool_calls((name, arguments, id))


def tool_calls(*calls: tuple[str, dict[str, Any] | str | None, str | None]) -> Step:
    requests = []
    for index, (name, arguments, call_id) in enumerate(calls):
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
        requests.append(ToolCallRequest(id=call_id or f"call_{name}_{index}", name=name, arguments=raw))
    return Step(calls=requests)


def raise_(error: Exception) -> Step:
    return Step(error=error)


def model_error(message: str, *, retryable: bool) -> Step:
    return Step(error=ModelError(message, retryable=retryable))


class ScriptedModel:
    """Plays its steps in order and records the messages of every call."""

    label = "Scripted model"

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.calls: list[list[ChatMessage]] = []
        self.tools: list[list[dict[str, Any]]] = []
        """The tool schemas each call was given."""

    def enqueue(self, *steps: Step) -> None:
        self.steps.extend(steps)

    async def stream(
        self, messages: list[ChatMessage], tools: list[dict[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        self.calls.append(list(messages))
        self.tools.append(tools)
        if not self.steps:
            raise AssertionError("ScriptedModel ran out of steps")
        step = self.steps.pop(0)
        if step.delay_s:
            await asyncio.sleep(step.delay_s)
        if step.error is not None:
            raise step.error
        for word in step.text.split(" ") if step.text else []:
            yield TextDelta(text=word + " ")
        for call in step.calls:
            yield call

    def assert_complete(self) -> None:
        assert not self.steps, f"{len(self.steps)} scripted step(s) were never used"
