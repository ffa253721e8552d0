"""A scripted OpenAI-compatible chat-completions server on a real loopback socket.

Owns the OpenAI wire format for tests: `POST /v1/chat/completions` answers either with
`stream=true` server-sent `chat.completion.chunk`s ending in `data: [DONE]`, or with one
`chat.completion` JSON; `GET /v1/models` lists models. Each request consumes the next
scripted step (FIFO): a text answer, tool calls (fragmented, optionally interleaved), an
HTTP error with an OpenAI-style body, a hang, a mid-stream error event or a dropped
connection. Every request body is recorded.

It runs uvicorn on 127.0.0.1 with an ephemeral port in a background thread, because
httpx's in-process ASGI transport buffers whole bodies and would hide streaming:

    with OpenAIServer() as server:
        server.enqueue(text("Hello there"))
        model = OpenAIChatModel(api_key="test", model="gpt-test", base_url=server.base_url)

Other processes (e.g. the whole app under a browser test, via OPENAI_BASE_URL) can
script it over HTTP: `POST /_fake/enqueue` with a step or a list of steps as JSON,
`GET /_fake/requests`, `POST /_fake/reset`. `python -m tests.fakes.openai_server --port N`
serves it standalone.

The request Finch makes to name a new conversation (its system prompt is `TITLE_PROMPT`) is
answered apart from the script, with `title` (or a scripted `HttpErrorStep` in `title_errors`),
and recorded in `title_requests`: tests of answers need not script it, tests of titles can.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer

# --------------------------------------------------------------------------- steps


class FakeToolCall(BaseModel):
    """One tool call the fake model asks for."""

    name: str
    arguments: str | dict[str, Any] = "{}"
    """A dict is sent as JSON; a string is sent verbatim (so it may be broken JSON)."""
    id: str | None = None
    """Defaults to `call_<request>_<position>`."""
    fragments: int = 3
    """How many chunks the argument text is split over."""

    def argument_text(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


class TextStep(BaseModel):
    kind: Literal["text"] = "text"
    text: str
    chunks: int | None = None
    """Split the text into this many chunks; None splits it word by word."""
    delay_s: float = 0.0
    """Pause between chunks, to make streaming visible."""
    finish_reason: str | None = "stop"
    """None leaves it out entirely (a server that never says why it stopped)."""


class ToolCallsStep(BaseModel):
    kind: Literal["tool_calls"] = "tool_calls"
    calls: list[FakeToolCall]
    text: str = ""
    """Text streamed before the tool calls (some models think aloud first)."""
    interleave: bool = False
    """Round-robin the calls' fragments by index instead of one call after another."""
    delay_s: float = 0.0


class HttpErrorStep(BaseModel):
    kind: Literal["http_error"] = "http_error"
    status: int
    message: str | None = None
    type: str | None = None
    code: str | None = None
    param: str | None = None
    """The request parameter the error is about, e.g. "parallel_tool_calls"."""
    retry_after_ms: int | None = None
    """Sent as `retry-after-ms`, which the OpenAI client honours (keeps retry tests fast)."""
    headers: dict[str, str] = Field(default_factory=dict)


class HangStep(BaseModel):
    kind: Literal["hang"] = "hang"
    seconds: float = 30.0
    after_text: str | None = None
    """None hangs before any response header; a string streams it first, then hangs."""


class AbortStep(BaseModel):
    kind: Literal["abort"] = "abort"
    after_text: str = ""
    """Stream this text, then drop the connection without finishing the body."""


class StreamErrorStep(BaseModel):
    kind: Literal["stream_error"] = "stream_error"
    message: str = "The server had an error while processing your request."
    type: str = "server_error"
    after_text: str = ""
    """Stream this text, then send an `{"error": ...}` event as OpenAI does mid-stream."""


Step = Annotated[
    TextStep | ToolCallsStep | HttpErrorStep | HangStep | AbortStep | StreamErrorStep,
    Field(discriminator="kind"),
]
_steps_adapter: TypeAdapter[list[Step]] = TypeAdapter(list[Step])


def text(content: str, *, chunks: int | None = None, delay_s: float = 0.0) -> TextStep:
    """A plain streamed answer."""
    return TextStep(text=content, chunks=chunks, delay_s=delay_s)


def tool_call(
    name: str, arguments: str | dict[str, Any] | None = None, *, id: str | None = None, fragments: int = 3
) -> FakeToolCall:
    return FakeToolCall(
        name=name, arguments={} if arguments is None else arguments, id=id, fragments=fragments
    )


def tool_calls(
    *calls: FakeToolCall, text: str = "", interleave: bool = False, delay_s: float = 0.0
) -> ToolCallsStep:
    """One response asking for all `calls` (parallel tool calls)."""
    return ToolCallsStep(calls=list(calls), text=text, interleave=interleave, delay_s=delay_s)


def http_error(
    status: int,
    message: str | None = None,
    *,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    retry_after_ms: int | None = None,
    headers: dict[str, str] | None = None,
) -> HttpErrorStep:
    return HttpErrorStep(
        status=status,
        message=message,
        type=type,
        code=code,
        param=param,
        retry_after_ms=retry_after_ms,
        headers=headers or {},
    )


def hang(seconds: float = 30.0, *, after_text: str | None = None) -> HangStep:
    return HangStep(seconds=seconds, after_text=after_text)


def abort(after_text: str = "") -> AbortStep:
    return AbortStep(after_text=after_text)


def stream_error(
    message: str = "The server had an error while processing your request.", *, after_text: str = ""
) -> StreamErrorStep:
    return StreamErrorStep(message=message, after_text=after_text)


# --------------------------------------------------------------------------- wire format

_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: (
        "Incorrect API key provided. "
        "You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    403: ("You are not allowed to use this model.", "invalid_request_error", None),
    404: (
        "The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    429: ("Rate limit reached for requests. Please try again in 20ms.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


def error_body(
    status: int,
    message: str | None = None,
    type: str | None = None,
    code: str | None = None,
    *,
    param: str | None = None,
    model: str = "",
) -> dict[str, Any]:
    """An OpenAI-style error body: `{"error": {message, type, param, code}}`."""
    default_message, default_type, default_code = _DEFAULT_ERRORS.get(
        status, (f"HTTP {status}", "api_error", None)
    )
    return {
        "error": {
            "message": message if message is not None else default_message.format(model=model),
            "type": type or default_type,
            "param": param,
            "code": code if code is not None else default_code,
        }
    }


def _split(value: str, parts: int) -> list[str]:
    """`value` in `parts` nearly equal consecutive pieces (fewer if it is short)."""
    parts = max(1, min(parts, len(value)))
    if not value:
        return []
    size, extra = divmod(len(value), parts)
    pieces, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        pieces.append(value[start:end])
        start = end
    return pieces


def _words(value: str) -> list[str]:
    """Token-like pieces: each word with the whitespace that follows it."""
    return re.findall(r"\S+\s*|\s+", value)


class _Completion:
    """Builds the chunks (or the whole JSON) of one chat completion."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_finch_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }

    def usage_chunk(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_finch_fake",
            "choices": [],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }

    def whole(
        self, content: str | None, calls: list[dict[str, Any]], finish_reason: str | None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if calls:
            message["tool_calls"] = calls
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_finch_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }


def _is_title_request(body: dict[str, Any]) -> bool:
    """Finch asking to name a conversation (see `finch_app.models.openai.TITLE_PROMPT`)."""
    from finch_app.models.openai import TITLE_PROMPT

    messages = body.get("messages") or []
    return (
        bool(messages) and messages[0].get("role") == "system" and messages[0].get("content") == TITLE_PROMPT
    )


def _sse(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()


class _AbortStream(Exception):
    """Raised inside a streaming body so uvicorn drops the connection mid-response."""


class _HideAbortLogs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _AbortStream)


logging.getLogger("uvicorn.error").addFilter(_HideAbortLogs())


# --------------------------------------------------------------------------- server


class OpenAIServer:
    """The scripted server: enqueue steps, point a client at `base_url`, read `requests`."""

    def __init__(
        self,
        steps: Iterable[Step] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        models: Iterable[str] | None = None,
        default: Step | None = None,
    ) -> None:
        """
        Args:
            steps: Initial script.
            api_key: If set, requests without `Authorization: Bearer <api_key>` get a 401.
            models: If set, chat requests for any other model get a 404 (and `/v1/models` lists these).
            default: Answer given when the script is empty (e.g. for long-running browser tests);
                without one, an unscripted request gets a 400 and is counted in `unscripted`.
        """
        self.host = host
        self.port = port
        self.api_key = api_key
        self.models = list(models) if models is not None else None
        self.default = default
        self.requests: list[dict[str, Any]] = []
        """Every chat-completions request body, in arrival order."""
        self.headers: list[dict[str, str]] = []
        """The headers of each recorded request (same order as `requests`)."""
        self.unscripted = 0
        self.title = "Scripted conversation title"
        """What a request to name a conversation gets."""
        self.title_requests: list[dict[str, Any]] = []
        self.title_errors: deque[HttpErrorStep] = deque()
        """Failures for the next requests to name a conversation."""
        self._steps: deque[Step] = deque(steps)
        self._lock = threading.Lock()
        self._loopback: LoopbackServer | None = None
        self.app = self._build_app()

    # ---- scripting

    def enqueue(self, *steps: Step) -> None:
        with self._lock:
            self._steps.extend(steps)

    def reset(self) -> None:
        with self._lock:
            self._steps.clear()
            self.requests.clear()
            self.headers.clear()
            self.unscripted = 0
            self.title_requests.clear()
            self.title_errors.clear()
            self.title = "Scripted conversation title"

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._steps)

    def assert_complete(self) -> None:
        """Fail if a scripted step was never used or a request came with no step left."""
        with self._lock:
            left, unscripted = list(self._steps), self.unscripted
        assert not left, f"{len(left)} scripted step(s) were not used: {left}"
        assert not unscripted, f"{unscripted} request(s) arrived with no scripted step left"

    def _next_step(self) -> Step | None:
        with self._lock:
            if self._steps:
                return self._steps.popleft()
            if self.default is None:
                self.unscripted += 1
            return self.default

    # ---- lifecycle

    @property
    def base_url(self) -> str:
        """What to pass as OpenAI `base_url` (or OPENAI_BASE_URL)."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> OpenAIServer:
        self._loopback = LoopbackServer(self.app, host=self.host, port=self.port, name="fake-openai-server")
        self._loopback.start()
        self.port = self._loopback.port
        return self

    def stop(self) -> None:
        if self._loopback is not None:
            self._loopback.stop()
            self._loopback = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- HTTP

    def _build_app(self) -> Starlette:
        routes = [
            Route("/v1/chat/completions", self._chat_completions, methods=["POST"]),
            Route("/chat/completions", self._chat_completions, methods=["POST"]),
            Route("/v1/models", self._list_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", self._get_model, methods=["GET"]),
            Route("/_fake/enqueue", self._control_enqueue, methods=["POST"]),
            Route("/_fake/requests", self._control_requests, methods=["GET"]),
            Route("/_fake/reset", self._control_reset, methods=["POST"]),
        ]
        return Starlette(routes=routes)

    async def _list_models(self, request: Request) -> Response:
        names = self.models or ["gpt-4o-mini"]
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "finch-tests"} for name in names]
        return JSONResponse({"object": "list", "data": data})

    async def _get_model(self, request: Request) -> Response:
        model_id = request.path_params["model_id"]
        if self.models is not None and model_id not in self.models:
            return JSONResponse(error_body(404, model=model_id), status_code=404)
        return JSONResponse({"id": model_id, "object": "model", "created": 0, "owned_by": "finch-tests"})

    async def _control_enqueue(self, request: Request) -> Response:
        payload = await request.json()
        steps = _steps_adapter.validate_python(payload if isinstance(payload, list) else [payload])
        self.enqueue(*steps)
        return JSONResponse({"pending": self.pending})

    async def _control_requests(self, request: Request) -> Response:
        with self._lock:
            return JSONResponse(
                {
                    "requests": list(self.requests),
                    "unscripted": self.unscripted,
                    "title_requests": list(self.title_requests),
                }
            )

    async def _control_reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"pending": 0})

    async def _chat_completions(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse(
                error_body(400, "We could not parse the JSON body of your request."), status_code=400
            )
        if _is_title_request(body):
            return self._title_response(body)
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
        model = str(body.get("model", ""))
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse(error_body(401), status_code=401)
        if self.models is not None and model not in self.models:
            return JSONResponse(error_body(404, model=model), status_code=404)
        step = self._next_step()
        if step is None:
            return JSONResponse(
                error_body(
                    400, "fake OpenAI server: no scripted step left for this request", "fake_server_error"
                ),
                status_code=400,
            )
        streaming = bool(body.get("stream"))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        completion = _Completion(model)
        request_no = len(self.requests)

        if isinstance(step, HttpErrorStep):
            headers = {"x-request-id": f"req_fake_{request_no}", **step.headers}
            if step.retry_after_ms is not None:
                headers["retry-after-ms"] = str(step.retry_after_ms)
            return JSONResponse(
                error_body(step.status, step.message, step.type, step.code, param=step.param, model=model),
                status_code=step.status,
                headers=headers,
            )
        if isinstance(step, HangStep) and step.after_text is None:
            await _wait_or_disconnect(request, step.seconds)
            return JSONResponse(error_body(504, "fake OpenAI server: hang ended"), status_code=504)
        if not streaming:
            return self._whole_response(step, completion, request_no)
        return StreamingResponse(
            self._chunks(step, completion, request_no, include_usage),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-request-id": f"req_fake_{request_no}"},
        )

    def _title_response(self, body: dict[str, Any]) -> Response:
        with self._lock:
            self.title_requests.append(body)
            error = self.title_errors.popleft() if self.title_errors else None
            title = self.title
        if error is not None:
            return JSONResponse(
                error_body(error.status, error.message, error.type, error.code), status_code=error.status
            )
        return JSONResponse(_Completion(str(body.get("model", ""))).whole(title, [], "stop"))

    def _whole_response(self, step: Step, completion: _Completion, request_no: int) -> Response:
        if isinstance(step, TextStep):
            return JSONResponse(completion.whole(step.text, [], step.finish_reason))
        if isinstance(step, ToolCallsStep):
            calls = [
                {
                    "id": call.id or f"call_{request_no}_{i}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.argument_text()},
                }
                for i, call in enumerate(step.calls)
            ]
            return JSONResponse(completion.whole(step.text or None, calls, "tool_calls"))
        if isinstance(step, StreamErrorStep):
            return JSONResponse(error_body(500, step.message, step.type), status_code=500)
        if isinstance(step, HangStep | AbortStep):

            async def partial() -> AsyncIterator[bytes]:
                yield b'{"id": "' + completion.id.encode()
                if isinstance(step, HangStep):
                    await asyncio.sleep(step.seconds)
                raise _AbortStream

            return StreamingResponse(partial(), media_type="application/json")
        raise AssertionError(f"unhandled step {step!r}")

    async def _chunks(
        self, step: Step, completion: _Completion, request_no: int, include_usage: bool
    ) -> AsyncIterator[bytes]:
        delay = getattr(step, "delay_s", 0.0)
        leading = ""
        if isinstance(step, TextStep | ToolCallsStep):
            leading = step.text
        elif isinstance(step, HangStep | AbortStep | StreamErrorStep):
            leading = step.after_text or ""
        has_calls = isinstance(step, ToolCallsStep) and bool(step.calls)
        yield _sse(
            completion.chunk(
                {"role": "assistant", "content": None if has_calls and not leading else "", "refusal": None}
            )
        )
        if leading:
            pieces = (
                _split(leading, step.chunks)
                if isinstance(step, TextStep) and step.chunks
                else _words(leading)
            )
            for piece in pieces:
                if delay:
                    await asyncio.sleep(delay)
                yield _sse(completion.chunk({"content": piece}))

        if isinstance(step, HangStep):
            await asyncio.sleep(step.seconds)  # cancelled when the client goes away
            raise _AbortStream
        if isinstance(step, AbortStep):
            raise _AbortStream
        if isinstance(step, StreamErrorStep):
            yield _sse({"error": {"message": step.message, "type": step.type, "param": None, "code": None}})
            return

        finish_reason: str | None = "stop"
        if isinstance(step, TextStep):
            finish_reason = step.finish_reason
        if isinstance(step, ToolCallsStep) and step.calls:
            finish_reason = "tool_calls"
            per_call: list[list[dict[str, Any]]] = []
            for position, call in enumerate(step.calls):
                header = {
                    "index": position,
                    "id": call.id or f"call_{request_no}_{position}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
                fragments = [
                    {"index": position, "function": {"arguments": piece}}
                    for piece in _split(call.argument_text(), call.fragments)
                ]
                per_call.append([header, *fragments])
            if step.interleave:
                ordered = [
                    fragments[i]
                    for i in range(max(map(len, per_call)))
                    for fragments in per_call
                    if i < len(fragments)
                ]
            else:
                ordered = [fragment for fragments in per_call for fragment in fragments]
            for fragment in ordered:
                if delay:
                    await asyncio.sleep(delay)
                yield _sse(completion.chunk({"tool_calls": [fragment]}))
        if finish_reason is not None:
            yield _sse(completion.chunk({}, finish_reason))
        if include_usage:
            yield _sse(completion.usage_chunk())
        yield _sse("[DONE]")


async def _wait_or_disconnect(request: Request, seconds: float) -> None:
    """Sleep up to `seconds`, returning early once the client has gone away."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.05)


def main() -> None:
    """Serve the fake standalone, scripted over `/_fake/*` (for browser end-to-end runs)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--default-text", default=None, help="answer given when the script is empty")
    args = parser.parse_args()
    default = text(args.default_text) if args.default_text else None
    server = OpenAIServer(host=args.host, port=args.port, default=default).start()
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
