"""Resources: what a tool found, kept as a titled table the user can open, sort and download.

Pure values and one Protocol. A tool result offers its rows through a `resource()`
method; the loop hands them to a `ResourceSink` (storage lives outside the agent core)
and announces each save with a `resource` event. A tool that fetches a lot can publish
rows in batches while it runs (`ToolContext.publish_rows`), so the table fills in early.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, JsonValue

ColumnType = Literal["text", "ticker", "int", "number", "money", "percent", "share", "date", "range", "link"]
"""How a column reads: "percent" is a signed change (+1.2%), "share" a part of a whole (12.5%)."""
ChartKind = Literal["allocation", "price_line", "mentions_bars", "trades_per_week"]


class ResourceColumn(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    type: ColumnType = "text"


class ResourceDraft(BaseModel):
    """Rows a tool wants kept, with what they are and where they came from."""

    kind: str
    """What the rows are, e.g. "senate_trades", "holdings", "price_history"."""
    title: str
    columns: list[ResourceColumn]
    rows: list[dict[str, JsonValue]] = Field(default_factory=list)
    source: str | None = None
    as_of: datetime | None = None
    chart: ChartKind | None = None
    """The chart that says more than the table, when there is one."""


class SavedResource(BaseModel):
    model_config = ConfigDict(frozen=True)

    resource_id: str
    title: str
    kind: str
    row_count: int
    partial: bool


class ResourceSink(Protocol):
    """Where a run's resources are stored (the database, in the app)."""

    async def save(
        self, *, tool_call_id: str, draft: ResourceDraft, partial: bool, resource_id: str | None
    ) -> SavedResource:
        """Create the resource, or replace the rows of `resource_id` (a growing partial result)."""
        ...


def result_resource(result: Any) -> ResourceDraft | None:
    """The resource a tool result offers, if any."""
    make = getattr(result, "resource", None)
    return make() if callable(make) else None


RESOURCE_LINK = re.compile(r"\[([^\]\n]{1,200})\]\(resource:([A-Za-z0-9_-]{1,64})\)")
_NOTE = re.compile(
    r"\n\n\[Saved for the user as \"(?P<title>[^\"\n]*)\"; link it as \[[^\]\n]*\]\(resource:(?P<id>[A-Za-z0-9_-]+)\)\]$"
)


def resource_note(title: str, resource_id: str) -> str:
    """What the model reads after a saved result, so its answer can link the table."""
    clean = title.replace('"', "'").replace("]", ")").replace("\n", " ")
    return f'\n\n[Saved for the user as "{clean}"; link it as [{clean}](resource:{resource_id})]'


def split_resource_note(text: str) -> tuple[str, tuple[str, str] | None]:
    """A tool result's text without its resource note, and the (title, id) the note named."""
    match = _NOTE.search(text)
    if match is None:
        return text, None
    return text[: match.start()], (match.group("title"), match.group("id"))
