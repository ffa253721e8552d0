"""The Reflex app: pages and the startup work. Nothing else lives here."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import reflex as rx

from finch_app.api import api
from finch_app.chat_service import get_chat_service
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.pages.chat import chat_page
from finch_app.states.chat import ChatState

log = logging.getLogger("finch")


def _mark_interrupted() -> int:
    with session_scope() as session:
        return crud.mark_interrupted_runs(session=session)


@contextlib.asynccontextmanager
async def finch_lifespan():
    """Startup: runs left `running` by a dead process can never finish, so say so.
    Shutdown: close the model client's connections."""
    count = await asyncio.to_thread(_mark_interrupted)
    if count:
        log.warning("Marked %d run(s) from a previous process as interrupted", count)
    yield
    await get_chat_service().aclose()


app = rx.App(
    stylesheets=["/finch.css"],
    theme=None,
    head_components=[rx.el.meta(name="description", content="Finch — chat with an AI agent about your investments")],
    api_transformer=api,
)
app.register_lifespan_task(finch_lifespan)
app.add_page(chat_page, route="/", title="Finch", on_load=ChatState.on_load)
app.add_page(chat_page, route="/c/[cid]", title="Finch", on_load=ChatState.on_load)
