"""Finch as an MCP client: one connection per configured server, and their tools for the agent.

`McpClients` (one per process, built by the composition root, started and closed with the app)
keeps a task per enabled server that connects (Streamable HTTP, or a stdio command it starts),
lists the server's tools, keeps that list current — the server's `tools/list_changed` (on
2026-era servers through a `subscriptions/listen` stream), else a re-list every `POLL_S` — and
reconnects with backoff when the server goes away. The agent's registry reads `current_tools()`
at every model round, so a changed list reaches the next round of any run without a restart.

Each tool is a `schema_tool` named `<server>__<tool>` with the server's own schema and
description; it asks the user first unless the operator marked the server `trusted` (a
server's `readOnlyHint` is only a hint from that server, so it changes the wording of the
question, not whether it is asked). A call to a server that is down, slow or misbehaving fails
that call alone, with an error that names the server; the answer goes on without it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from finch_app.agent.tools import BadToolSchema, ToolContext, ToolSpec, schema_tool
from finch_app.formatting import seconds
from finch_app.mcp.config import McpServer, environment, load_config
from finch_app.mcp.content import McpToolError, McpToolResult, to_result
from finch_app.mcp.names import namespaced
from finch_app.redact import redact, register_secret

log = logging.getLogger("finch.mcp")

BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits between attempts to reach a server that is down (the last one repeats)."""
POLL_S = 60.0
"""A server that cannot tell Finch its tools changed is asked again this often (which also
notices one that went away)."""
STARTUP_WAIT_S = 15.0
"""The app waits at most this long at start for every server's first attempt."""
MAX_DESCRIPTION = 1024
MAX_TOOLS = 128
"""Tools taken from one server (the model's prompt pays for every one)."""

ProgressReporter = Callable[[str, float | None], Awaitable[None]]
State = Literal["connecting", "connected", "unavailable", "disabled"]


class ServerUnavailable(McpToolError):
    """The server could not be reached, or did not answer in time."""


@dataclass(frozen=True)
class ToolInfo:
    name: str
    """The model's name for it, e.g. "research__lookup"."""
    tool: str
    """The server's own name for it."""
    description: str
    asks: bool
    """Each call waits for the user's approval."""


@dataclass(frozen=True)
class ServerStatus:
    """One server as an operator sees it."""

    name: str
    transport: Literal["http", "stdio"]
    where: str
    state: State
    error: str = ""
    """Why it is unavailable, in words."""
    trusted: bool = False
    tools: tuple[ToolInfo, ...] = ()
    skipped: tuple[str, ...] = ()
    """Tools of the server Finch could not use, and why."""
    since: datetime | None = None


class _Lost(Exception):
    """The connection went away (the reason is the message)."""


class Connection:
    """One server: its connection, kept up by `run()`, and its tools as Finch's tool specs."""

    def __init__(self, server: McpServer, on_tools: Callable[[], None]) -> None:
        self.server = server
        self._on_tools = on_tools
        self.client: Client | None = None
        self.state: State = "connecting"
        self.error = ""
        self.since: datetime | None = None
        self.tools: dict[str, ToolSpec] = {}
        self.infos: tuple[ToolInfo, ...] = ()
        self.skipped: tuple[str, ...] = ()
        self.tried = asyncio.Event()
        """Set once the first attempt to connect has succeeded or failed."""
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._http_status: int | None = None

    # --- keeping the connection up -------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, and reconnect with backoff, until cancelled."""
        attempt = 0
        while True:
            try:
                await self._serve()
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                if self.state == "connected":
                    attempt = 0  # it was up: the first retry comes soon
                if self._down(describe(exc, self.server, self._http_status)):
                    log.warning("MCP server %s is unavailable: %s", self.server.name, self.error)
            self.tried.set()
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            attempt += 1
            with suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            self._wake.clear()

    def wake(self) -> None:
        """Try to reconnect now rather than after the backoff."""
        self._wake.set()

    async def _serve(self) -> None:
        self._lost.clear()
        self._http_status = None
        async with AsyncExitStack() as stack:
            async with asyncio.timeout(self.server.timeout_s):
                client = await stack.enter_async_context(await self._client(stack))
                await self._list(client)
            modern = client.protocol_version in MODERN_PROTOCOL_VERSIONS
            tools_capability = client.server_capabilities.tools
            # 2026-era servers announce changes on a `subscriptions/listen` stream; earlier ones may send
            # them on their own (reaching `_on_message`), but a stateless one has no way to: ask every POLL_S.
            listens = modern and bool(tools_capability and tools_capability.list_changed)
            self.client = client
            self._up()
            log.info("MCP server %s: connected, %d tool(s)", self.server.name, len(self.tools))
            helpers = [asyncio.create_task(self._refresh(client, poll=not listens))]
            if listens:
                helpers.append(asyncio.create_task(self._listen(client)))
            try:
                await self._lost.wait()
            finally:
                self.client = None
                for helper in helpers:
                    helper.cancel()
            raise _Lost(self._lost_reason)

    async def _client(self, stack: AsyncExitStack) -> Client:
        """The SDK client for this server (its HTTP client, if any, closes with `stack`)."""
        server = self.server
        if server.url:

            async def remember_status(response: httpx2.Response) -> None:
                if response.status_code >= 400:
                    self._http_status = response.status_code

            http = httpx2.AsyncClient(
                headers=dict(server.headers),
                # No read timeout: the event stream may be quiet for hours; each call has its own timeout.
                timeout=httpx2.Timeout(server.timeout_s, read=None),
                event_hooks={"response": [remember_status]},
            )
            await stack.enter_async_context(http)
            transport: Any = streamable_http_client(server.url, http_client=http)
        else:
            transport = StdioServerParameters(
                command=server.command or "",
                args=list(server.args),
                env=dict(server.env) or None,
                cwd=server.cwd,
            )
        return Client(
            transport,
            message_handler=self._on_message,
            client_info=types.Implementation(name="finch", version="0.1.0"),
        )

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._changed.set()
        elif isinstance(message, Exception):
            # Something unreadable on the wire; a connection that is really gone shows in the next
            # call or listing (or the event stream), which reconnect.
            log.warning(
                "MCP server %s: %s", self.server.name, describe(message, self.server, self._http_status)
            )

    async def _listen(self, client: Client) -> None:
        """Hold the server's event stream open (its `tools/list_changed` events reach `_on_message`)."""
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for _ in subscription:
                    self._changed.set()
            self._lose("the server closed its event stream")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._lose(describe(exc, self.server, self._http_status))

    async def _refresh(self, client: Client, *, poll: bool) -> None:
        """List the tools again whenever the server says they changed (or every `POLL_S`)."""
        while True:
            with suppress(TimeoutError):
                async with asyncio.timeout(POLL_S if poll else None):
                    await self._changed.wait()
            self._changed.clear()
            try:
                async with asyncio.timeout(self.server.timeout_s):
                    await self._list(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._lose(describe(exc, self.server, self._http_status))
                return

    def _lose(self, reason: str) -> None:
        if not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()

    def _up(self) -> None:
        self.state, self.error, self.since = "connected", "", datetime.now(UTC)
        self.tried.set()

    def _down(self, reason: str) -> bool:
        """Unavailable: calls fail at once with `reason`; the tools last listed stay offered, so a
        call says the server is unavailable rather than the model never hearing of the tool.
        True if that is news."""
        changed = self.state != "unavailable" or self.error != reason
        self.client = None
        self.state, self.error = "unavailable", reason
        if changed:
            self.since = datetime.now(UTC)
        return changed

    # --- the tools --------------------------------------------------------------------------

    async def _list(self, client: Client) -> None:
        listed: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(50):
            page = await client.list_tools(cursor=cursor, cache_mode="bypass")
            listed.extend(page.tools)
            cursor = page.next_cursor
            if not cursor or len(listed) >= MAX_TOOLS * 4:
                break
        self._set_tools(listed)

    def _set_tools(self, listed: list[types.Tool]) -> None:
        server = self.server
        specs: dict[str, ToolSpec] = {}
        infos: list[ToolInfo] = []
        skipped: list[str] = []
        for tool in listed:
            if not server.offers(tool.name):
                continue
            if len(specs) >= MAX_TOOLS:
                skipped.append(f"{tool.name}: more than {MAX_TOOLS} tools")
                continue
            name = namespaced(server.name, tool.name, frozenset(specs))
            try:
                spec = self._spec(tool, name)
            except BadToolSchema as exc:
                skipped.append(f"{tool.name}: {exc}")
                continue
            specs[name] = spec
            infos.append(ToolInfo(name, tool.name, spec.description, spec.changes_data))
        if skipped:
            log.warning("MCP server %s: tools left out: %s", server.name, "; ".join(skipped))
        self.tools, self.infos, self.skipped = specs, tuple(infos), tuple(skipped)
        self._on_tools()

    def _spec(self, tool: types.Tool, name: str) -> ToolSpec:
        server = self.server
        text = redact(" ".join((tool.description or tool.title or f"The {tool.name} tool.").split()))
        description = f"[{server.name} MCP server] {text}"[:MAX_DESCRIPTION]

        async def call(ctx: ToolContext, arguments: dict[str, Any]) -> McpToolResult:
            result = await self.call(tool.name, arguments, ctx.report_progress)
            return to_result(server.name, tool.name, result)

        def describe_call(**arguments: Any) -> str:
            return call_description(server.name, tool, arguments)

        return schema_tool(
            name=name,
            description=description,
            parameters=tool.input_schema,
            func=call,
            changes_data=not server.trusted,
            describe=describe_call,
        )

    # --- calling --------------------------------------------------------------------------

    async def call(
        self, tool: str, arguments: dict[str, Any], report_progress: ProgressReporter
    ) -> types.CallToolResult:
        """Call the server's `tool`; raises `ServerUnavailable` (down, slow) or `McpToolError` (refused)."""
        name, timeout = self.server.name, self.server.timeout_s
        client = self.client
        if client is None or self.state != "connected":
            self.wake()
            raise ServerUnavailable(f"{name} is unavailable: {self.error or 'Finch has not reached it yet'}.")

        async def progress(value: float, total: float | None, message: str | None) -> None:
            fraction = max(0.0, min(1.0, value / total)) if total else None
            if message:
                text = redact(" ".join(message.split()))[:200]
            else:
                text = f"{value:g} of {total:g}" if total else f"{value:g} done"
            await report_progress(text, fraction)

        try:
            async with asyncio.timeout(timeout + 1):
                return await client.call_tool(
                    tool, arguments, read_timeout_seconds=timeout, progress_callback=progress
                )
        except TimeoutError:
            raise ServerUnavailable(f"{name} did not answer within {seconds(int(timeout * 1000))}.") from None
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise ServerUnavailable(
                    f"{name} did not answer within {seconds(int(timeout * 1000))}."
                ) from None
            if exc.code == CONNECTION_CLOSED:
                self._lose("the connection closed")
                raise ServerUnavailable(f"{name} is unavailable: the connection closed.") from None
            reason = describe(exc, self.server, self._http_status)
            raise McpToolError(f"{name} refused the call: {reason}") from None
        except ValidationError:
            raise McpToolError(f"{name} sent a result Finch cannot read.") from None
        except RuntimeError as exc:
            if (
                self.client is client
            ):  # still connected: the result itself was wrong (e.g. not its output schema)
                raise McpToolError(
                    f"{name} sent a result Finch cannot use: {redact(str(exc))[:200]}"
                ) from None
            raise ServerUnavailable(f"{name} is unavailable: the connection closed.") from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = describe(exc, self.server, self._http_status)
            self._lose(reason)
            raise ServerUnavailable(f"{name} is unavailable: {reason}.") from None

    def status(self) -> ServerStatus:
        server = self.server
        return ServerStatus(
            name=server.name,
            transport=server.transport,
            where=server.where,
            state=self.state,
            error=self.error,
            trusted=server.trusted,
            tools=self.infos,
            skipped=self.skipped,
            since=self.since,
        )


def call_description(server: str, tool: types.Tool, arguments: Mapping[str, Any]) -> str:
    """What the approval card asks: "Run research · save_note with text="…"", plus what the server
    says about the tool (a hint only, so worded as the server's claim)."""
    title = tool.title or (tool.annotations.title if tool.annotations else None)
    named = f"{server} · {tool.name}" + (f" ({title})" if title and title != tool.name else "")
    shown = ", ".join(
        f"{key}={json.dumps(value, ensure_ascii=False, default=str)}" for key, value in arguments.items()
    )
    shown = shown if len(shown) <= 300 else shown[:299] + "…"
    text = f"Run {named} with {shown}" if shown else f"Run {named} (no arguments)"
    hints = tool.annotations
    if hints is not None and hints.destructive_hint and not hints.read_only_hint:
        text += " — the server says it may delete or overwrite data"
    elif hints is not None and hints.read_only_hint:
        text += " — the server says it only reads"
    return redact(text)


def describe(exc: BaseException, server: McpServer, http_status: int | None = None) -> str:
    """Why a server is unavailable, in words for an operator (secrets masked)."""
    leaf = _leaf(exc)
    match leaf:
        case _Lost():
            reason = str(leaf)
        case httpx2.ConnectError() | ConnectionRefusedError():
            reason = f"cannot connect to {server.where} (is it running?)"
        case httpx2.TimeoutException() | TimeoutError():
            reason = f"no answer within {seconds(int(server.timeout_s * 1000))}"
        case httpx2.TransportError():
            reason = f"the connection failed ({type(leaf).__name__})"
        case FileNotFoundError():
            reason = f"cannot start {server.command!r}: no such command"
        case PermissionError():
            reason = f"cannot start {server.command!r}: permission denied"
        case OSError() if server.command:
            reason = f"cannot start {server.command!r}: {leaf.strerror or leaf}"
        case MCPError():
            reason = leaf.error.message if leaf.error.code != CONNECTION_CLOSED else "the connection closed"
        case ValidationError():
            reason = "it sent a reply Finch cannot read"
        case _:
            reason = f"{type(leaf).__name__}: {leaf}" if str(leaf) else type(leaf).__name__
    if http_status in (401, 403):
        reason = f"it refused Finch's credentials (HTTP {http_status}); check its headers in FINCH_MCP_CONFIG"
    elif http_status is not None and http_status >= 400 and "HTTP" not in reason:
        reason += f" (HTTP {http_status})"
    reason = redact(" ".join(reason.split()))
    return reason if len(reason) <= 300 else reason[:299] + "…"


def _leaf(exc: BaseException) -> BaseException:
    """The first real failure inside exception groups (cancellations are the group's side effects)."""
    while isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)] or list(
            exc.exceptions
        )
        exc = inner[0]
    if isinstance(exc, MCPError) and exc.__cause__ is not None and exc.error.code == CONNECTION_CLOSED:
        return _leaf(exc.__cause__) if not isinstance(exc.__cause__, MCPError) else exc
    return exc


@dataclass
class McpClients:
    """Every configured server of this process, and their tools for the agent (a `ToolSource`)."""

    servers: list[McpServer]
    connections: dict[str, Connection] = field(init=False)
    _tools: dict[str, ToolSpec] = field(init=False, default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        for server in self.servers:
            for secret in server.secrets:
                register_secret(secret)
        self.connections = {s.name: Connection(s, self._tools_changed) for s in self.servers if s.enabled}

    @classmethod
    def from_settings(cls, settings: Any) -> McpClients | None:
        """The servers of `FINCH_MCP_CONFIG` (None when it is unset). A file with errors adds only
        its valid servers (the start-up check refuses to start on errors anyway)."""
        if settings.mcp_config is None:
            return None
        env_file = settings.model_config.get("env_file")
        config = load_config(
            settings.mcp_config, environment(env_file if isinstance(env_file, str) else None)
        )
        for problem in config.errors:
            log.error("%s", problem)
        return cls(config.servers)

    def current_tools(self) -> Mapping[str, ToolSpec]:
        return self._tools

    def _tools_changed(self) -> None:
        merged: dict[str, ToolSpec] = {}
        for connection in self.connections.values():
            merged.update(connection.tools)
        self._tools = merged

    async def start(self, *, wait_s: float = STARTUP_WAIT_S) -> None:
        """Connect to every enabled server; return once each has connected or failed once (or after
        `wait_s`)."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(c.run(), name=f"mcp:{name}") for name, c in self.connections.items()
        ]
        waits = [
            asyncio.wait_for(c.tried.wait(), min(wait_s, c.server.timeout_s + 1))
            for c in self.connections.values()
        ]
        await asyncio.gather(*waits, return_exceptions=True)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for connection in self.connections.values():
            connection.client = None

    def status(self) -> list[ServerStatus]:
        """Each configured server (disabled ones too), in the file's order."""
        out = []
        for server in self.servers:
            connection = self.connections.get(server.name)
            if connection is None:
                out.append(
                    ServerStatus(
                        server.name, server.transport, server.where, "disabled", trusted=server.trusted
                    )
                )
            else:
                out.append(connection.status())
        return out
