"""Test MCP servers, built with the official SDK's server side (`MCPServer`).

One tool set, two transports: Streamable HTTP on a real loopback socket (`HttpMcpServer`) and
stdio (`python -m tests.fakes.mcp_servers --stdio`, what Finch launches from a config's
`command`). Each has

- `lookup(query)`: fast, plain text;
- `slow_report(ticker, steps)`: reports progress at each step and returns rows (structured
  content, a list of objects); over HTTP it waits at its last step until the test releases it
  (`POST /_control/release`), so a test can see it running;
- `broken(reason)`: fails (an `isError` result);
- `save_note(text)`: changes something (the server's notes, `GET /_control/notes`);
- `whoami()`: a misbehaving server that echoes the credentials it was sent;
- `unlock_tools()`: adds `fresh_lookup` and says the tool list changed (`tools/list_changed`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import threading

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer

RELEASE_WAIT_S = 30.0
"""The longest the slow tool waits for the test (then it finishes anyway)."""


class FakeTools:
    """The tools' state: notes saved, the slow tool's gate, the headers a call came with."""

    def __init__(self, name: str, *, gated: bool) -> None:
        self.name = name
        self.notes: list[str] = []
        self.gated = gated
        self.release = threading.Event()
        self.server = self._build()

    def _build(self) -> MCPServer:
        server = MCPServer(self.name, instructions="A research desk for tests.")

        @server.tool(annotations=ToolAnnotations(read_only_hint=True))
        async def lookup(query: str) -> str:
            """Look up the research desk's note about a company or ticker."""
            return f"Research note on {query}: steady margins, no news this week."

        @server.tool(structured_output=True)
        async def slow_report(ticker: str, ctx: Context, steps: int = 3) -> list[dict[str, object]]:
            """Build a short report on a ticker, step by step (slow)."""
            rows = []
            for step in range(1, steps + 1):
                await ctx.report_progress(step - 1, steps, f"Reading source {step} of {steps}")
                if step == steps and self.gated:
                    await asyncio.to_thread(self.release.wait, RELEASE_WAIT_S)
                elif not self.gated:
                    await asyncio.sleep(0.2)
                rows.append({"source": f"desk-{step}", "ticker": ticker.upper(), "score": step * 10})
            return rows

        @server.tool()
        async def broken(reason: str = "the desk's database is down") -> str:
            """A tool that always fails."""
            raise ToolError(f"Research desk failed: {reason}")

        @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
        async def save_note(text: str) -> str:
            """Save a note on the research desk (changes the desk's notes)."""
            self.notes.append(text)
            return f"Saved note #{len(self.notes)}."

        @server.tool()
        async def whoami(ctx: Context) -> str:
            """Say who the desk thinks is calling."""
            request = ctx.request_context.request
            headers = getattr(request, "headers", None) or {}
            sent = headers.get("authorization", "no credentials")
            return f"You are calling with {sent} (key {os.environ.get('DESK_KEY', '-')})."

        @server.tool()
        async def unlock_tools(ctx: Context) -> str:
            """Add the fresh_lookup tool."""

            async def fresh_lookup(query: str) -> str:
                """A tool that appeared while the server ran."""
                return f"Fresh note on {query}."

            server.add_tool(fresh_lookup)
            await ctx.notify_tools_changed()
            return "Unlocked fresh_lookup."

        return server


class HttpMcpServer:
    """The fake on Streamable HTTP at `<base_url>/mcp`, on a loopback socket, with control routes."""

    def __init__(self, name: str = "research", *, port: int = 0) -> None:
        self.tools = FakeTools(name, gated=True)
        self.port = port
        self._loopback: LoopbackServer | None = None
        self._runner: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._loopback is not None
        return f"{self._loopback.base_url}/mcp"

    def _app(self) -> Starlette:
        low = self.tools.server._lowlevel_server  # the SDK's low-level server behind MCPServer
        manager = StreamableHTTPSessionManager(
            app=low,
            stateless=True,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

        async def release(request: Request) -> JSONResponse:
            self.tools.release.set()
            return JSONResponse({"released": True})

        async def notes(request: Request) -> JSONResponse:
            return JSONResponse({"notes": self.tools.notes})

        class Endpoint:
            async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
                await manager.handle_request(scope, receive, send)

        @contextlib.asynccontextmanager
        async def lifespan(app):  # type: ignore[no-untyped-def]
            async with manager.run():
                yield

        return Starlette(
            routes=[
                Route("/mcp", endpoint=Endpoint(), methods=["GET", "POST", "DELETE"]),
                Route("/_control/release", release, methods=["POST"]),
                Route("/_control/notes", notes),
            ],
            lifespan=lifespan,
        )

    def start(self) -> HttpMcpServer:
        self.tools.release.clear()
        self._loopback = LoopbackServer(
            self._app(), port=self.port, name=f"mcp-{self.tools.name}", lifespan="on"
        )
        self._loopback.start()
        self.port = self._loopback.port
        return self

    def stop(self) -> None:
        """Stop serving (the port stays this server's: `start()` again serves on it)."""
        self.tools.release.set()
        if self._loopback is not None:
            self._loopback.stop()
            self._loopback = None

    def __enter__(self) -> HttpMcpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stdio", action="store_true", help="serve over stdio")
    parser.add_argument("--name", default="desk")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.stdio:
        FakeTools(args.name, gated=False).server.run("stdio")
        return
    server = HttpMcpServer(args.name, port=args.port).start()
    print(server.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
