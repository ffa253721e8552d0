"""Keeping a run's tool results: the storage side of `finch_app.agent.resources` (which is pure)."""

from __future__ import annotations

import asyncio
from typing import Any

from finch_app.agent.resources import ResourceDraft, SavedResource
from finch_app.db import crud
from finch_app.db.engine import session_scope


class DbResourceSink:
    """Keeps one run's resources in the database, owned by the conversation's user."""

    def __init__(self, *, user_id: str, conversation_id: str, run_id: str) -> None:
        self.user_id = user_id
        self.conversation_id = conversation_id
        self.run_id = run_id

    async def save(
        self, *, tool_call_id: str, draft: ResourceDraft, partial: bool, resource_id: str | None
    ) -> SavedResource:
        values: dict[str, Any] = {
            "kind": draft.kind,
            "title": draft.title,
            "columns": [c.model_dump() for c in draft.columns],
            "rows": draft.rows,
            "row_count": len(draft.rows),
            "partial": partial,
            "chart": draft.chart,
            "source": draft.source,
            "as_of": draft.as_of,
        }

        def write() -> str:
            with session_scope() as session:
                return crud.save_resource(
                    session=session,
                    user_id=self.user_id,
                    conversation_id=self.conversation_id,
                    run_id=self.run_id,
                    tool_call_id=tool_call_id,
                    resource_id=resource_id,
                    values=values,
                ).id

        saved_id = await asyncio.to_thread(write)
        return SavedResource(
            resource_id=saved_id,
            title=draft.title,
            kind=draft.kind,
            row_count=len(draft.rows),
            partial=partial,
        )
