"""A conversation as one Markdown document: the questions, the answers and every table its tools
saved, in full. Pure text shaping over rows already read (the read side reads them); the
browser's "Export" and `GET /api/conversations/{id}/export.md` hand out the same document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from finch_app.agent.resources import RESOURCE_LINK
from finch_app.agent.status import MessageStatus, ToolStatus
from finch_app.formatting import count, seconds
from finch_app.tables import to_markdown
from finch_app.views import format_cell

if TYPE_CHECKING:
    from finch_app.db.crud import Turn
    from finch_app.db.models import Resource


@dataclass(frozen=True)
class Export:
    filename: str
    """"finch-portfolio-review.md"."""
    markdown: str


def slug(text: str) -> str:
    """A heading's anchor as Markdown viewers make it (GitHub style): "Quote: AAPL" → "quote-aapl"."""
    kept = re.sub(r"[^\w\- ]+", "", text.lower(), flags=re.UNICODE)
    return re.sub(r"\s", "-", kept.strip())


def export_filename(title: str) -> str:
    name = re.sub(r"-+", "-", slug(title)).strip("-")[:60].rstrip("-")
    return f"finch-{name or 'conversation'}.md"


def _cell(value: Any, column_type: str) -> str:
    text, _, href = format_cell(value, column_type)
    return f"[Open]({href})" if href else text


def _headings(tables: Sequence[Resource]) -> dict[str, str]:
    """Each table's heading, made unique ("Recent Senate trades (2)") so links can point at it."""
    seen: dict[str, int] = {}
    headings = {}
    for table in tables:
        seen[table.title] = seen.get(table.title, 0) + 1
        headings[table.id] = table.title if seen[table.title] == 1 else f"{table.title} ({seen[table.title]})"
    return headings


def _answer(content: str, headings: dict[str, str]) -> str:
    """An answer's links to saved tables point at the tables in this document."""

    def target(match: re.Match[str]) -> str:
        heading = headings.get(match.group(2))
        return f"[{match.group(1)}](#{slug(heading)})" if heading else match.group(1)

    return RESOURCE_LINK.sub(target, content)


def _tools_line(turn: Turn) -> str:
    calls = []
    for call in turn.tool_calls:
        if call.status == ToolStatus.COMPLETED:
            calls.append(f"{call.name} ({seconds(call.duration_ms)})")
        else:
            calls.append(f"{call.name} ({call.status}{': ' + call.error if call.error else ''})")
    return f"_Tools: {'; '.join(calls)}._" if calls else ""


def _ending(turn: Turn) -> str:
    message = turn.message
    match message.status:
        case MessageStatus.ERROR | MessageStatus.INTERRUPTED:
            return f"_Finch could not finish this answer: {message.error or 'it failed'}._"
        case MessageStatus.CANCELLED:
            return "_Stopped before it finished._"
    return ""


def _table(table: Resource, heading: str) -> str:
    facts = [count(table.row_count, "row")]
    if table.source:
        facts.append(table.source)
    if table.as_of:
        facts.append(f"as of {table.as_of:%b %d, %Y %H:%M} UTC")
    if table.partial:
        facts.append("partial: the run stopped before all rows arrived")
    body = to_markdown(table.columns, table.rows, cell=_cell) if table.rows else "_No rows._"
    return "\n\n".join([f"### {heading}", f"_{' · '.join(facts)}_", body])


def conversation_markdown(
    title: str, turns: Sequence[Turn], tables: Sequence[Resource], *, exported_at: datetime
) -> str:
    """The conversation in reading order, then its tables (oldest first), as Markdown."""
    headings = _headings(tables)
    parts = [f"# {title}", f"_Exported from Finch on {exported_at:%b %d, %Y %H:%M} UTC._"]
    for turn in turns:
        message = turn.message
        if message.role == "user":
            parts += ["## You", message.content]
            continue
        answer = [
            _tools_line(turn),
            _answer(message.content, headings) if message.content else "",
            _ending(turn),
        ]
        parts += ["## Finch", *[a for a in answer if a]]
    if tables:
        parts += ["---", "## Tables"]
        parts += [_table(t, headings[t.id]) for t in tables]
    return "\n\n".join(parts) + "\n"
