"""Stored resources: saving a run's tool results, reading them back a page at a time, CSV export.

The storage side of `finch_app.agent.resources` (which is pure). Rows are never part of a
websocket delta for a tool event: lists carry titles and counts; rows load on demand.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from finch_app.agent.resources import ResourceDraft, SavedResource
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.db.models import Resource

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
            resource_id=saved_id, title=draft.title, kind=draft.kind, row_count=len(draft.rows), partial=partial
        )


@dataclass
class ResourceSummary:
    """What a list shows: no rows."""

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


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def summarize(resource: Resource) -> ResourceSummary:
    return ResourceSummary(
        id=resource.id,
        title=resource.title,
        kind=resource.kind,
        row_count=resource.row_count,
        partial=resource.partial,
        chart=resource.chart,
        source=resource.source,
        as_of=_aware(resource.as_of),
        created_at=_aware(resource.created_at) or resource.created_at,
        conversation_id=resource.conversation_id,
        tool_call_id=resource.tool_call_id,
    )


def list_for_conversation(user_id: str, conversation_id: str) -> list[ResourceSummary]:
    with session_scope() as session:
        return [summarize(r) for r in crud.list_resources(session=session, user_id=user_id, conversation_id=conversation_id)]


def load(user_id: str, resource_id: str) -> Resource | None:
    """One of the user's resources with its rows (None for a missing or foreign id)."""
    with session_scope() as session:
        resource = crud.get_resource(session=session, user_id=user_id, resource_id=resource_id)
        if resource is not None:
            _ = resource.rows  # load before the session closes
        return resource


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None or value == "":
        return (2, "")
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    return (1, str(value).lower())


def query_rows(
    rows: list[dict[str, Any]],
    *,
    filter_text: str = "",
    sort_key: str = "",
    descending: bool = False,
) -> list[dict[str, Any]]:
    """Rows matching `filter_text` (in any column), sorted by one column; blanks sort last."""
    needle = filter_text.strip().lower()
    selected = [r for r in rows if not needle or any(needle in str(v).lower() for v in r.values() if v is not None)]
    if sort_key:
        present = [r for r in selected if r.get(sort_key) not in (None, "")]
        blank = [r for r in selected if r.get(sort_key) in (None, "")]
        present.sort(key=lambda r: _sort_key(r.get(sort_key)), reverse=descending)
        selected = present + blank
    return selected


def _safe_cell(value: Any) -> str:
    """A cell a spreadsheet will show as text: a leading =, +, -, @ would start a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(resource: Resource) -> str:
    """The resource as CSV (header row of labels), safe to open in a spreadsheet."""
    columns = resource.columns or [{"key": k, "label": k} for k in (resource.rows[0] if resource.rows else {})]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_safe_cell(c.get("label", c["key"])) for c in columns])
    for row in resource.rows:
        writer.writerow([_safe_cell(row.get(c["key"])) for c in columns])
    return out.getvalue()
