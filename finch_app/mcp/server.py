"""Finch as an MCP server: its data tools for any MCP client, at `/mcp` on the app's own port.

Streamable HTTP through the official SDK's low-level `Server` and its session manager in
stateless mode (every request stands alone, so any worker can answer it; clients of the
2026 protocol and of the earlier handshake are both served). The tools are Finch's own data
tools with the names, schemas and descriptions the agent sees (`finch_app.tools.SERVED_TOOLS`:
quotes, price history, Reddit trends and sentiment, congress and insider trades, the caller's
portfolio) — none that change data. A call runs through the run service like a chat: a
conversation of its own in the caller's history ("MCP client …: get_stock_quote(…)"), its tool
call recorded, its progress sent back as MCP progress. Its result is the JSON the model would
read, which names its source and as-of time.

Who may call: in password and header modes whoever `finch_app.auth.api_identity` accepts (a
Finch API token as `Authorization: Bearer`, or the trusted proxy's user), each seeing only
their own portfolio; in none mode, programs on this machine only (a loopback peer and Host).
The caller reaches the tool handler through the SDK's auth context (`get_access_token()`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server.auth.middleware.auth_context import auth_context_var, get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.authentication import AuthCredentials
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from finch_app.agent.events import Done, Error, ToolCallComplete, ToolCallProgress
from finch_app.agent.resources import split_resource_note
from finch_app.agent.status import ToolStatus
from finch_app.agent.tools import ToolSpec
from finch_app.auth import api_identity
from finch_app.context import AppContext, app_context
from finch_app.runs.service import RunRefused
from finch_app.settings import get_settings
from finch_app.tools import SERVED_TOOLS

log = logging.getLogger("finch.mcp")

INSTRUCTIONS = (
    "Finch's market data tools: stock quotes and price history, Reddit trends and sentiment, "
    "US Senate and House members' trades, SEC Form 4 insider trades, and the caller's own portfolio. "
    "Every result names its source and the time its data is from."
)
UNAUTHORIZED = -32001
"""JSON-RPC error code of a request without valid credentials (sent with HTTP 401)."""


def served_tools(context: AppContext) -> list[ToolSpec]:
    """The agent's own data tools that MCP clients may call (never another server's tools)."""
    own = context.runs.agent.registry.tools
    return [own[name] for name in SERVED_TOOLS if name in own]


def _mcp_tool(spec: ToolSpec) -> types.Tool:
    return types.Tool(
        name=spec.name,
        description=spec.description,
        input_schema=spec.schema()["function"]["parameters"],
        annotations=types.ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=True),
    )


class FinchMcpServer:
    """The SDK server with Finch's tools, and the ASGI endpoint that authenticates its callers."""

    def __init__(self, context: Callable[[], AppContext] = app_context) -> None:
        self._context = context
        self.server: Server[Any] = Server(
            "finch",
            version="0.1.0",
            title="Finch",
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            get_tool_input_schema=self._input_schema,
        )
        self._manager: StreamableHTTPSessionManager | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- the tools ------------------------------------------------------------------------------

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[_mcp_tool(spec) for spec in served_tools(self._context())])

    def _input_schema(self, name: str) -> dict[str, Any] | None:
        spec = next((s for s in served_tools(self._context()) if s.name == name), None)
        return spec.schema()["function"]["parameters"] if spec else None

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        caller = get_access_token()
        if caller is None:  # the endpoint authenticates every request before the SDK sees it
            raise RuntimeError("an MCP call reached Finch without a caller")
        context = self._context()
        served = {spec.name for spec in served_tools(context)}
        if params.name not in served:
            return _failed(
                f"Finch has no tool named {params.name!r}. Its tools: {', '.join(sorted(served))}."
            )
        client = ctx.session.client_params.client_info.name if ctx.session.client_params else ""
        runs = context.runs
        try:
            started = await runs.start_call(
                user_id=caller.client_id,
                tool_name=params.name,
                arguments=dict(params.arguments or {}),
                caller=f"MCP client {client}".strip() if client else "An MCP client",
            )
        except RunRefused as exc:
            return _failed(exc.message)
        feed = await runs.follow(started.run_id)
        outcome: ToolCallComplete | None = None
        finished = False
        progress = 0.0
        try:
            async for event in feed:
                if isinstance(event, ToolCallProgress):
                    step = event.fraction * 100 if event.fraction is not None else progress + 1
                    progress = max(progress + 0.01, step)
                    total = 100.0 if event.fraction is not None else None
                    await ctx.session.report_progress(progress, total, event.message)
                elif isinstance(event, ToolCallComplete):
                    outcome = event
                elif isinstance(event, Done | Error):
                    finished = True
        finally:
            await feed.aclose()
            if not finished:  # the client went away mid-call: stop the run, its rows final
                with anyio.CancelScope(shield=True):
                    await runs.stop(started.run_id, wait=True)
        if outcome is None:
            return _failed("The call ended before the tool finished.")
        if outcome.status != ToolStatus.COMPLETED:
            return _failed(outcome.error or "The tool failed.")
        text, _ = split_resource_note(outcome.output or "")
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)],
            structured_content=data if isinstance(data, dict) else None,
        )

    # --- serving ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The `/mcp` endpoint: who is calling, then the SDK's Streamable HTTP transport."""
        settings = get_settings()
        headers = Headers(scope=scope)
        peer = scope["client"][0] if scope.get("client") else ""
        if not settings.mcp_serve:
            await _refuse(scope, receive, send, 404, "Finch does not serve MCP here (FINCH_MCP_SERVE=false).")
            return
        if scope.get("method") != "POST":
            # Stateless: no standalone stream (GET) and no session to end (DELETE), so nothing held open.
            await _refuse(
                scope, receive, send, 405, "Finch's MCP endpoint is stateless: send requests with POST."
            )
            return
        if settings.auth == "none" and not (_loopback(peer) and _loopback_host(headers.get("host", ""))):
            await _refuse(
                scope,
                receive,
                send,
                403,
                "With FINCH_AUTH=none Finch serves MCP to programs on its own machine only.",
            )
            return
        origin = headers.get("origin", "").rstrip("/")
        if origin and origin not in settings.cors_origins:
            await _refuse(scope, receive, send, 403, "This origin may not use Finch's MCP endpoint.")
            return
        identity = await anyio.to_thread.run_sync(api_identity, settings, headers, peer)
        if identity is None:
            await _refuse(
                scope,
                receive,
                send,
                401,
                "Unauthorized: send a Finch API token as `Authorization: Bearer <token>`.",
            )
            return
        user = AuthenticatedUser(
            AccessToken(token="", client_id=identity.user_id, scopes=[], subject=identity.user_id)
        )
        manager = await self._running()
        token = auth_context_var.set(user)
        try:
            await manager.handle_request({**scope, "user": user, "auth": AuthCredentials([])}, receive, send)
        finally:
            auth_context_var.reset(token)

    async def _running(self) -> StreamableHTTPSessionManager:
        """The SDK's session manager, running in a task of this event loop (started on first use)."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
        async with self._lock:
            runner = self._runner
            if (
                self._manager is not None
                and runner is not None
                and not runner.done()
                and runner.get_loop() is loop
            ):
                return self._manager
            manager = StreamableHTTPSessionManager(
                app=self.server,
                stateless=True,
                # Host, Origin and the caller are checked above, for each auth mode.
                security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            )
            ready, stop = asyncio.Event(), asyncio.Event()

            async def run() -> None:
                async with manager.run():
                    ready.set()
                    await stop.wait()

            self._runner = loop.create_task(run(), name="finch-mcp-server")
            self._manager, self._stop = manager, stop
            await ready.wait()
            return manager

    async def aclose(self) -> None:
        """Shutdown: the session manager's task ends (requests in flight are cancelled)."""
        if self._stop is not None and self._runner is not None and not self._runner.done():
            self._stop.set()
            await asyncio.gather(self._runner, return_exceptions=True)
        self._manager = self._runner = self._stop = None


def _failed(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    """A JSON-RPC error body (MCP clients show its message) with the HTTP status that fits."""
    code = UNAUTHORIZED if status == 401 else types.INVALID_REQUEST
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {"Allow": "POST"} if status == 405 else {}
    response = Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)
    await response(scope, receive, send)


def _loopback(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return parsed.is_loopback


def _loopback_host(host: str) -> bool:
    """The Host header names this machine (no DNS-rebinding name in front of it)."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    return name == "localhost" or _loopback(name)
