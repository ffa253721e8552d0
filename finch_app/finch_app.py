"""The Reflex app: pages and the startup work. Nothing else lives here."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

import reflex as rx

from finch_app.api import api
from finch_app.config_check import check, format_report
from finch_app.context import app_context
from finch_app.pages.account import login_page, settings_page
from finch_app.pages.chat import CONVERSATION_ROUTE, NEW_CHAT_ROUTE, chat_page
from finch_app.redact import install_log_redaction
from finch_app.settings import get_settings
from finch_app.states.auth import AuthGate, LoginState, SettingsState, handle_backend_exception
from finch_app.states.chat import ChatState
from finch_app.states.mcp import McpServersState
from finch_app.states.permissions import PermissionsState
from finch_app.states.portfolio import PortfolioState

log = logging.getLogger("finch")


@contextlib.asynccontextmanager
async def finch_lifespan():
    """Startup: check the configuration, build the app's parts, open the run service (which
    ends the runs a dead process left behind) and connect to the MCP servers. Shutdown: runs
    still going end `interrupted`, connections close."""
    install_log_redaction()
    report = await asyncio.to_thread(check, get_settings())
    for line in format_report(report).splitlines():
        log.error(line) if line.startswith("error") else log.warning(line)
    if not report.ok:
        raise RuntimeError("Finch's configuration has errors (see above); it will not start.")
    context = app_context()
    runs = context.runs
    await runs.open()
    if context.mcp is not None:
        await context.mcp.start()  # the servers' tools are listed before the first question
    yield
    await runs.aclose()
    if context.mcp is not None:
        await context.mcp.aclose()
    await api.state.mcp_server.aclose()


app = rx.App(
    stylesheets=["/finch.css"],
    theme=None,
    head_components=[
        rx.el.meta(name="description", content="Finch — chat with an AI agent about your investments"),
    ],
    api_transformer=api,
    backend_exception_handler=handle_backend_exception,
    # The one toaster ("Copied"): centred, clear of the composer's Send button on a phone.
    toaster=rx.toast.provider(position="bottom-center", duration=2500, offset="96px"),
)
app.register_lifespan_task(finch_lifespan)
# Before Reflex's hydrate middleware: a tab's user is settled before any state is sent.
app.add_middleware(AuthGate(), index=0)
app.add_page(login_page, route="/login", title="Sign in · Finch", on_load=LoginState.on_load)
app.add_page(
    settings_page,
    route="/settings",
    title="Settings · Finch",
    on_load=[SettingsState.on_load, PermissionsState.on_load, McpServersState.on_load],
)
for route in (NEW_CHAT_ROUTE, CONVERSATION_ROUTE):
    app.add_page(
        functools.partial(chat_page, route),
        route=route,
        title="Finch",
        on_load=[ChatState.on_load, PortfolioState.on_load],
    )
