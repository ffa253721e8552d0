"""The real model: any OpenAI-compatible chat-completions server, streamed.

Owns the one `openai` import of the app. It turns a streamed chat completion into
`TextDelta`s (as they arrive) and `ToolCallRequest`s (assembled from fragments,
handed over after the text, in index order), and every client failure into a
`ModelError` that tells the user what happened and whether retrying can help.
Tool arguments are passed through as raw text: validating them is the loop's job.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import openai
from openai import AsyncOpenAI, omit

from finch_app.agent.model import ChatMessage, ModelError, ModelOutput, TextDelta, ToolCallRequest

if TYPE_CHECKING:
    from finch_app.settings import Settings

_RETRYABLE_STATUS = frozenset({408, 409, 429})
TITLE_PROMPT = (
    "Name this conversation for the user's list of chats: 2 to 6 words that say what it is about, "
    'such as "Portfolio vs Senate trades" or "Why NVDA dropped". Reply with the title only, '
    "without quotes or a final period."
)
"""The system prompt of the one request that names a conversation after its first answer."""
TITLE_TIMEOUT_S = 20.0
_TITLE_PREFIX = re.compile(r"^\s*(title\s*:\s*)", re.IGNORECASE)


@dataclass
class _PartialCall:
    """One tool call being assembled from streamed fragments."""

    id: str = ""
    name: str = ""
    arguments: str = ""


class OpenAIChatModel:
    """`ChatModel` on `openai.AsyncOpenAI`; one instance (one connection pool) per process."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ValueError("OpenAIChatModel needs an API key (set OPENAI_API_KEY).")
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._parallel_flag = True
        """Whether to send `parallel_tool_calls`; off once the server has refused it."""
        # The client retries 429/5xx/timeouts/connection errors itself, with
        # exponential backoff that honours Retry-After; we map what is left.
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url or None,
            timeout=timeout_s,
            max_retries=max_retries,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIChatModel:
        """Build the model from `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `FINCH_MODEL` & co."""
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        return cls(
            api_key=key,
            model=settings.model,
            base_url=settings.openai_base_url or None,
            timeout_s=settings.model_timeout_s,
            max_retries=settings.model_max_retries,
        )

    @property
    def label(self) -> str:
        return self.model

    @property
    def base_url(self) -> str:
        """Where requests go, as the user configured it (for error messages)."""
        return str(self._client.base_url).rstrip("/")

    async def aclose(self) -> None:
        """Close the HTTP connection pool; call once when the app shuts down."""
        await self._client.close()

    async def __aenter__(self) -> OpenAIChatModel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def stream(
        self, messages: list[ChatMessage], tools: list[dict[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        """Stream the answer's text, then the complete tool calls in index order."""
        calls: dict[int, _PartialCall] = {}
        finish_reason: str | None = None
        received_any = False
        try:
            response = await self._open(messages, tools)
            try:
                async for chunk in response:
                    received_any = True
                    for choice in chunk.choices or ():
                        if getattr(choice, "index", 0) not in (0, None):
                            continue  # we ask for one choice; ignore any others
                        delta = choice.delta
                        if delta is not None:
                            text = (delta.content or "") + (getattr(delta, "refusal", None) or "")
                            if text:
                                yield TextDelta(text=text)
                            for fragment in delta.tool_calls or ():
                                _add_fragment(calls, fragment)
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
            finally:
                await response.close()
        except openai.OpenAIError as exc:
            raise self._scrubbed(self._model_error(exc, mid_stream=received_any)) from exc
        except json.JSONDecodeError as exc:
            raise ModelError(
                "The model server sent a malformed stream. Try again.",
                retryable=True,
                details=f"model server {self.base_url} · {type(exc).__name__}: {exc}",
            ) from exc

        if finish_reason is None:
            # A clean end of the body without any finish_reason: the answer was cut off.
            raise ModelError(
                "The answer from the model server ended before it was complete. Try again.",
                retryable=True,
                details=f"model server {self.base_url} · the stream ended without a finish_reason",
            )
        for index in sorted(calls):
            call = calls[index]
            yield ToolCallRequest(
                id=call.id or f"call_{index}_{uuid.uuid4().hex[:12]}",
                name=call.name,
                arguments=call.arguments,
            )

    async def name_conversation(self, question: str, answer: str) -> str:
        """A title for a conversation from its first question and answer: one short request,
        made after the answer, with no retries (a title is a nicety)."""
        client = self._client.with_options(timeout=min(self.timeout_s, TITLE_TIMEOUT_S), max_retries=0)
        response = await client.chat.completions.create(
            model=self.model,
            messages=[
                {"role": "system", "content": TITLE_PROMPT},
                {"role": "user", "content": f"Question: {question[:1_000]}\n\nAnswer: {answer[:1_500]}"},
            ],
        )
        text = (response.choices[0].message.content or "") if response.choices else ""
        return clean_title(text)

    async def _open(self, messages: list[ChatMessage], tools: list[dict[str, Any]]) -> Any:
        """Start the streamed completion; drop `parallel_tool_calls` if the server rejects it."""
        payload = [m.to_openai() for m in messages]
        while True:
            try:
                return await self._client.chat.completions.create(
                    model=self.model,
                    messages=payload,  # type: ignore[arg-type]
                    tools=tools or omit,  # type: ignore[arg-type]
                    parallel_tool_calls=True if tools and self._parallel_flag else omit,
                    stream=True,
                )
            except openai.BadRequestError as exc:
                # Some models and compatible servers refuse the parameter; they still
                # return several calls per response when they can.
                if not (tools and self._parallel_flag and "parallel_tool_calls" in f"{exc.param} {exc}"):
                    raise
                self._parallel_flag = False

    def _scrubbed(self, error: ModelError) -> ModelError:
        """The error without the key (servers echo it) or a password in the base URL."""
        from finch_app.redact import redact

        def scrub(text: str) -> str:
            key = str(self._client.api_key or "")
            return redact(text.replace(key, "[redacted]") if len(key) >= 4 else text)

        return ModelError(
            scrub(error.message),
            retryable=error.retryable,
            details=scrub(f"model server {self.base_url} · {error.details or ''}"),
        )

    def _model_error(self, exc: openai.OpenAIError, *, mid_stream: bool) -> ModelError:
        """Explain a client failure to the user and say whether retrying can help."""
        model = self.model
        if isinstance(exc, openai.APITimeoutError):
            if mid_stream:
                what = f"went silent for {_seconds(self.timeout_s)} in the middle of the answer"
            else:
                what = f"did not answer within {_seconds(self.timeout_s)}"
            return ModelError(
                f"The model server {what}. Try again; if it keeps happening, "
                "check the server or raise FINCH_MODEL_TIMEOUT_S.",
                retryable=True,
                details=_details(exc),
            )
        if isinstance(exc, openai.APIConnectionError):
            if mid_stream:
                message = (
                    "The connection to the model server broke off in the middle of the answer. Try again."
                )
            else:
                message = (
                    "Could not connect to the model server. Try again; if it keeps happening, whoever runs "
                    "Finch should check that the server is reachable and that OPENAI_BASE_URL is right."
                )
            return ModelError(message, retryable=True, details=_details(exc))
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc)
        if isinstance(exc, openai.APIError):
            # An error event inside an otherwise successful stream.
            return ModelError(
                "The model server reported an error in the middle of the answer: "
                f"{_server_message(exc).rstrip('.')}. Try again.",
                retryable=True,
                details=_details(exc),
            )
        return ModelError(
            f"The OpenAI client failed before reaching model {model!r}.",
            retryable=False,
            details=_details(exc),
        )

    def _status_error(self, exc: openai.APIStatusError) -> ModelError:
        model, status = self.model, exc.status_code
        server_says = _server_message(exc)
        details = _details(exc)
        if status == 401:
            return ModelError(
                "The model server rejected the API key (HTTP 401). "
                "Check OPENAI_API_KEY; retrying will not help.",
                retryable=False,
                details=details,
            )
        if status == 403:
            return ModelError(
                f"The API key may not use model {model!r} (HTTP 403). "
                "Check OPENAI_API_KEY and the key's permissions; retrying will not help.",
                retryable=False,
                details=details,
            )
        if status == 404:
            return ModelError(
                f"Model {model!r} was not found on the model server (HTTP 404). "
                "Check FINCH_MODEL (and OPENAI_BASE_URL); retrying will not help.",
                retryable=False,
                details=details,
            )
        if status == 429 and _error_code(exc) == "insufficient_quota":
            return ModelError(
                "The API key has run out of quota (HTTP 429, insufficient_quota). "
                "Check the account's plan and billing; retrying will not help.",
                retryable=False,
                details=details,
            )
        if status == 429:
            return ModelError(
                f"The model server is rate-limiting requests (HTTP 429), even after "
                f"{self.max_retries} automatic retries. Wait a moment, then try again.",
                retryable=True,
                details=details,
            )
        if status >= 500 or status in _RETRYABLE_STATUS:
            return ModelError(
                f"The model server failed (HTTP {status}), even after "
                f"{self.max_retries} automatic retries. Try again in a moment.",
                retryable=True,
                details=details,
            )
        if _error_code(exc) == "context_length_exceeded":
            return ModelError(
                f"This conversation is too long for model {model!r}. Start a new conversation.",
                retryable=False,
                details=details,
            )
        return ModelError(
            f"The model server refused the request (HTTP {status}): {server_says}",
            retryable=False,
            details=details,
        )


def clean_title(text: str) -> str:
    """A model's title as a list shows it: its first line, without "Title:", quotes, markup or a
    final period."""
    line = next((part for part in text.strip().splitlines() if part.strip()), "")
    line = _TITLE_PREFIX.sub("", line).strip()
    for _ in range(2):  # markup and quotes may wrap each other, with the period inside or out
        line = line.rstrip(".").strip().strip("*_#`").strip().strip("\"'“”‘’").strip()
    return line


def _add_fragment(calls: dict[int, _PartialCall], fragment: Any) -> None:
    """Merge one streamed tool-call fragment into the call it belongs to.

    Calls are keyed by `index`; several calls may be interleaved. Some servers omit
    the index or repeat the id and name in every fragment, so both are tolerated.
    """
    index = getattr(fragment, "index", None)
    fragment_id = getattr(fragment, "id", None) or ""
    if not isinstance(index, int):
        known = {call.id: i for i, call in calls.items() if call.id}
        if fragment_id and fragment_id in known:
            index = known[fragment_id]
        elif fragment_id or not calls:
            index = max(calls, default=-1) + 1
        else:
            index = max(calls)
    call = calls.setdefault(index, _PartialCall())
    if fragment_id and not call.id:
        call.id = fragment_id
    function = getattr(fragment, "function", None)
    if function is None:
        return
    name = getattr(function, "name", None) or ""
    if name and name != call.name:
        call.name += name
    call.arguments += getattr(function, "arguments", None) or ""


def _seconds(value: float) -> str:
    return "1 second" if value == 1 else f"{value:g} seconds"


def _server_message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    return exc.message


def _error_code(exc: openai.APIError) -> str | None:
    body = exc.body
    if isinstance(body, dict):
        for key in ("code", "type"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _details(exc: openai.OpenAIError) -> str:
    """Technical detail for logs and the error card's "details" (never the key)."""
    parts = [type(exc).__name__]
    status = getattr(exc, "status_code", None)
    if status is not None:
        parts.append(f"HTTP {status}")
    if isinstance(exc, openai.APIError):
        parts.append(_server_message(exc))
        request_id = getattr(exc, "request_id", None)
        if request_id:
            parts.append(f"request id {request_id}")
    else:
        parts.append(str(exc))
    cause = exc.__cause__
    if cause is not None and str(cause):
        parts.append(f"cause: {type(cause).__name__}: {cause}")
    return " · ".join(parts)
