"""The MCP servers Finch uses, as the settings page shows them: each one's state and tools.

This process's view (each worker keeps its own connections). Only the operator's file adds
servers, so the page lists them and nothing here changes them. Why a server is unavailable is
shown to admins only (it may name internal hosts).
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from finch_app.auth import NotSignedIn
from finch_app.context import app_context
from finch_app.states.auth import identity_for

_STATES = {
    "connected": "Connected",
    "connecting": "Connecting…",
    "unavailable": "Unavailable",
    "disabled": "Disabled",
}


@dataclass
class McpServerItem:
    name: str
    kind: str
    """ "HTTP" or "local command"."""
    state: str
    """connected | connecting | unavailable | disabled (`data-state`)."""
    label: str
    """The state in words, with the reason for an admin."""
    approval: str
    tools: str
    """The tools' names as the cards show them, comma-separated."""


class McpServersState(rx.State):
    servers: list[McpServerItem] = []
    configured: bool = False
    """FINCH_MCP_CONFIG is set."""

    @rx.event
    async def on_load(self):
        identity = identity_for(self)
        if identity is None:
            raise NotSignedIn()
        clients = app_context().mcp
        self.configured = clients is not None
        items = []
        for status in clients.status() if clients is not None else []:
            label = _STATES[status.state]
            if status.error and identity.is_admin:
                label += f": {status.error}"
            names = [info.tool + (" (asks first)" if info.asks else "") for info in status.tools]
            items.append(
                McpServerItem(
                    name=status.name,
                    kind="HTTP" if status.transport == "http" else "local command",
                    state=status.state,
                    label=label,
                    approval="Trusted: its tools run at once"
                    if status.trusted
                    else "Each call asks you first",
                    tools=", ".join(names) or "none",
                )
            )
        self.servers = items
