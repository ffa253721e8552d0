"""The read side: what the pages and the API show, read from the database and scoped to the user.

Both adapters — the Reflex states and the HTTP routes — read through here, never through
`crud` or a session of their own. Every read runs off the event loop. A conversation, run or
resource of another user reads as missing (None / False), exactly like one that does not exist.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from finch_app.charts import TRADE_KINDS
from finch_app.db import crud
from finch_app.db.crud import Turn
from finch_app.db.engine import get_engine, session_scope
from finch_app.db.models import Conversation, Resource, ToolCall, is_id
from finch_app.export import Export, conversation_markdown, export_filename

T = TypeVar("T")

ToolCallRecord = ToolCall
"""A stored tool call as the read side hands it out (detached: reading it touches no database)."""

__all__ = [
    "ConversationInfo",
    "Export",
    "PendingApproval",
    "Reads",
    "ResourceSummary",
    "ToolCallRecord",
    "TranscriptPage",
    "Turn",
]


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    title: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TranscriptPage:
    """A page of a conversation's transcript, in reading order."""

    conversation: ConversationInfo
    turns: list[Turn]
    more: bool
    """Whether older messages exist."""
    cursor: str
    """Id of the oldest message on the page: the next page ends before it."""


@dataclass(frozen=True)
class PendingApproval:
    """A change waiting for the user's yes."""

    run_id: str
    conversation_id: str
    tool_call_id: str
    tool_name: str
    arguments: dict[str, Any]
    description: str
    requested_at: datetime


@dataclass(frozen=True)
class ResourceSummary:
    """What a list of results shows: no rows."""

    id: str
    title: str
    kind: str
    row_count: int
    partial: bool
    chart: str | None
    source: str | None
    as_of: datetime | None
    created_at: datetime
    conversation_id: str
    tool_call_id: str
    run_id: str = ""
    question: str = ""
    """The question whose answer saved it ("" when unknown)."""


def _info(conversation: Conversation) -> ConversationInfo:
    return ConversationInfo(
        conversation.id, conversation.title, conversation.created_at, conversation.updated_at
    )


def summarize(resource: Resource) -> ResourceSummary:
    return ResourceSummary(
        id=resource.id,
        title=resource.title,
        kind=resource.kind,
        row_count=resource.row_count,
        partial=resource.partial,
        chart=resource.chart,
        source=resource.source,
        as_of=resource.as_of,
        created_at=resource.created_at,
        conversation_id=resource.conversation_id,
        tool_call_id=resource.tool_call_id,
        run_id=resource.run_id,
    )


async def _read(work: Callable[[], T]) -> T:
    return await asyncio.to_thread(work)


class Reads:
    """Every read a page or a route makes."""

    def __init__(self, *, transcript_page: int = 50) -> None:
        self.transcript_page = transcript_page

    async def ping(self) -> None:
        """Raise if the database does not answer (the health check)."""

        def work() -> None:
            with get_engine().connect() as connection:
                connection.exec_driver_sql("SELECT 1")

        await _read(work)

    async def conversations(self, user_id: str, search: str = "") -> list[ConversationInfo]:
        """The user's conversations, most recently active first; with `search`, those whose title
        or messages contain it."""

        def work() -> list[ConversationInfo]:
            with session_scope() as session:
                found = crud.list_conversations(session=session, user_id=user_id, search=search[:200])
                return [_info(c) for c in found]

        return await _read(work)

    async def conversation(self, user_id: str, conversation_id: str) -> ConversationInfo | None:
        if not is_id(conversation_id):
            return None

        def work() -> ConversationInfo | None:
            with session_scope() as session:
                found = crud.get_conversation(
                    session=session, user_id=user_id, conversation_id=conversation_id
                )
                return _info(found) if found else None

        return await _read(work)

    async def transcript(
        self, user_id: str, conversation_id: str, before: str | None = None
    ) -> TranscriptPage | None:
        """The latest page of the conversation, or the page before message `before`."""
        if not is_id(conversation_id) or (before and not is_id(before)):
            return None

        def work() -> TranscriptPage | None:
            with session_scope() as session:
                conversation = crud.get_conversation(
                    session=session, user_id=user_id, conversation_id=conversation_id
                )
                if conversation is None:
                    return None
                turns, more = crud.conversation_page(
                    session=session,
                    user_id=user_id,
                    conversation_id=conversation_id,
                    limit=self.transcript_page,
                    before=before,
                )
                cursor = turns[0].message.id if turns else ""
                return TranscriptPage(_info(conversation), turns, more, cursor)

        return await _read(work)

    async def whole_conversation(
        self, user_id: str, conversation_id: str
    ) -> tuple[ConversationInfo, list[Turn]] | None:
        """The conversation with every message and the tool calls of each answer (for the API)."""
        if not is_id(conversation_id):
            return None

        def work() -> tuple[ConversationInfo, list[Turn]] | None:
            with session_scope() as session:
                conversation = crud.get_conversation(
                    session=session, user_id=user_id, conversation_id=conversation_id
                )
                if conversation is None:
                    return None
                turns = crud.conversation_turns(
                    session=session, user_id=user_id, conversation_id=conversation_id
                )
                return _info(conversation), turns

        return await _read(work)

    async def pending_approvals(self, user_id: str) -> list[PendingApproval]:
        """The user's changes waiting for a decision, oldest first."""

        def work() -> list[PendingApproval]:
            with session_scope() as session:
                return [
                    PendingApproval(
                        run_id=run.id,
                        conversation_id=run.conversation_id,
                        tool_call_id=call.tool_call_id,
                        tool_name=call.name,
                        arguments=dict(call.arguments or {}),
                        description=call.description or "",
                        requested_at=run.paused_at or call.started_at,
                    )
                    for call, run in crud.pending_approvals(session=session, user_id=user_id)
                ]

        return await _read(work)

    async def allowed_tools(self, user_id: str) -> list[str]:
        """The tools the user chose to always allow, by name."""

        def work() -> list[str]:
            with session_scope() as session:
                return sorted(crud.allowed_tools(session=session, user_id=user_id))

        return await _read(work)

    async def export(
        self, user_id: str, conversation_id: str, *, now: datetime | None = None
    ) -> Export | None:
        """The conversation as a Markdown document with its tables; None if it is not the user's."""

        def work() -> Export | None:
            with session_scope() as session:
                conversation = crud.get_conversation(
                    session=session, user_id=user_id, conversation_id=conversation_id
                )
                if conversation is None:
                    return None
                turns = crud.conversation_turns(
                    session=session, user_id=user_id, conversation_id=conversation_id
                )
                summaries = crud.list_resources(
                    session=session, user_id=user_id, conversation_id=conversation_id
                )
                tables = []
                for summary in reversed(summaries):  # oldest first, like the transcript
                    resource = crud.get_resource(session=session, user_id=user_id, resource_id=summary.id)
                    if resource is not None:
                        tables.append(resource)
                title = conversation.title
                when = now or datetime.now(UTC)
                markdown = conversation_markdown(title, turns, tables, exported_at=when)
                return Export(export_filename(title), markdown)

        return await _read(work)

    async def owns_run(self, user_id: str, run_id: str) -> bool:
        if not is_id(run_id):
            return False

        def work() -> bool:
            with session_scope() as session:
                return crud.get_run(session=session, user_id=user_id, run_id=run_id) is not None

        return await _read(work)

    async def resources(self, user_id: str, conversation_id: str) -> list[ResourceSummary] | None:
        """The conversation's saved results, newest first, without rows; None if it is not the user's."""
        if not is_id(conversation_id):
            return None

        def work() -> list[ResourceSummary] | None:
            with session_scope() as session:
                if (
                    crud.get_conversation(session=session, user_id=user_id, conversation_id=conversation_id)
                    is None
                ):
                    return None
                found = crud.list_resources(session=session, user_id=user_id, conversation_id=conversation_id)
                questions = crud.run_questions(
                    session=session, user_id=user_id, run_ids={r.run_id for r in found}
                )
                return [
                    dataclasses.replace(summarize(r), question=questions.get(r.run_id, "")) for r in found
                ]

        return await _read(work)

    async def resource(self, user_id: str, resource_id: str) -> Resource | None:
        """One of the user's saved results with its rows."""
        if not is_id(resource_id):
            return None

        def work() -> Resource | None:
            with session_scope() as session:
                found = crud.get_resource(session=session, user_id=user_id, resource_id=resource_id)
                if found is not None:
                    _ = found.rows  # loaded before the session closes
                return found

        return await _read(work)

    async def trade_rows(self, user_id: str, conversation_id: str) -> list[dict[str, Any]]:
        """The rows of the conversation's congressional and insider trade results (for chart markers)."""
        if not is_id(conversation_id):
            return []

        def work() -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            with session_scope() as session:
                for summary in crud.list_resources(
                    session=session, user_id=user_id, conversation_id=conversation_id
                ):
                    if summary.kind in TRADE_KINDS:
                        resource = crud.get_resource(session=session, user_id=user_id, resource_id=summary.id)
                        rows.extend(resource.rows if resource else [])
            return rows

        return await _read(work)
