"""The `/mcp` route: Finch's MCP server, imported when the first request comes.

The MCP SDK takes most of a second to import, and most processes that build the API never
serve MCP: every app start and worker, every CLI command and test process paid for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:
    from finch_app.mcp.server import FinchMcpServer

PATH = "/mcp"


class McpEndpoint:
    """The ASGI endpoint of `PATH`; `server` is made on first use."""

    def __init__(self) -> None:
        self._server: FinchMcpServer | None = None

    @property
    def server(self) -> FinchMcpServer:
        if self._server is None:
            from finch_app.mcp.server import FinchMcpServer

            self._server = FinchMcpServer()
        return self._server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.server(scope, receive, send)

    async def aclose(self) -> None:
        if self._server is not None:
            await self._server.aclose()
