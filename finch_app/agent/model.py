"""The boundary between the agent loop and a language model.

A `ChatModel` takes the conversation and the tool schemas and streams back text
deltas, then the tool calls it wants (complete, with raw JSON arguments). It raises
`ModelError` for failures the user should hear about; the loop turns that into an
`error` event. Implementations live in `finch_app.models` (offline, OpenAI-compatible).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class ToolCallRequest(BaseModel):
    """A tool call as the model asked for it; `arguments` is the raw JSON text."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: str = "{}"


class ChatMessage(BaseModel):
    """One message of the conversation in OpenAI chat format terms."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCallRequest] = Field(default_factory=list)
    """Set on assistant messages that requested tools."""
    tool_call_id: str | None = None
    """Set on tool messages: the call this is the result of."""
    name: str | None = None
    """Set on tool messages: the tool's name (lets offline models read results)."""

    def to_openai(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in self.tool_calls
            ]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


class TextDelta(BaseModel):
    """A fragment of the answer, streamed as it is produced."""

    model_config = ConfigDict(frozen=True)

    text: str


ModelOutput = TextDelta | ToolCallRequest


class ModelError(Exception):
    """A model failure explained for the user; `retryable` says if trying again may help."""

    def __init__(self, message: str, *, retryable: bool, details: str | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.details = details


@runtime_checkable
class ChatModel(Protocol):
    """Anything that can answer a conversation with text and tool calls."""

    @property
    def label(self) -> str:
        """Name shown to the user, e.g. "gpt-4o-mini" or "Offline model"."""
        ...

    def stream(self, messages: list[ChatMessage], tools: list[dict[str, Any]]) -> AsyncIterator[ModelOutput]:
        """Stream text deltas, then every tool call this round wants.

        Args:
            messages: The conversation so far, system prompt first.
            tools: OpenAI-style function tool schemas.
        """
        ...


@runtime_checkable
class TitlingModel(Protocol):
    """A model that can name a conversation from its first question, at once and without I/O."""

    def title_for(self, question: str) -> str:
        """A short title, e.g. "Portfolio vs Senate trades"; "" when it has none to offer."""
        ...


@runtime_checkable
class NamingModel(Protocol):
    """A model that names a conversation once it has answered its first question: a request of
    its own, made after the answer (never on its way)."""

    async def name_conversation(self, question: str, answer: str) -> str:
        """A short title saying what the conversation is about; "" when it has none to offer."""
        ...
