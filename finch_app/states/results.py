"""The Results panel: the open conversation's resources, and the one being looked at.

Its own State class, so a tool event never carries resource rows: the list holds titles
and counts; a table's rows are read from the database when it is opened, a page at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx

from finch_app.charts import ChartData, chart_for
from finch_app.context import app_context
from finch_app.formatting import plural
from finch_app.reads import ResourceSummary
from finch_app.states.auth import current_user_id
from finch_app.tables import query_rows
from finch_app.views import format_cell

PAGE_SIZE = 50


@dataclass
class ResourceItem:
    id: str
    title: str
    kind: str
    row_count: int
    partial: bool
    label: str
    """"50 rows", "120 rows so far"."""


@dataclass
class HeaderCell:
    key: str
    label: str
    type: str
    sort: str
    """"asc", "desc" or "" for the column the table is sorted by."""


@dataclass
class Cell:
    text: str
    type: str
    href: str = ""


def rows_label(row_count: int, partial: bool) -> str:
    return f"{plural(row_count, 'row')} so far" if partial else plural(row_count, "row")


def _item(summary: ResourceSummary) -> ResourceItem:
    return ResourceItem(
        id=summary.id,
        title=summary.title,
        kind=summary.kind,
        row_count=summary.row_count,
        partial=summary.partial,
        label=rows_label(summary.row_count, summary.partial),
    )


class ResultsState(rx.State):
    items: list[ResourceItem] = []
    panel_open: bool = True
    conversation_id: str = ""

    open_id: str = ""
    title: str = ""
    subtitle: str = ""
    headers: list[HeaderCell] = []
    page_rows: list[list[Cell]] = []
    filter_text: str = ""
    sort_key: str = ""
    descending: bool = False
    page: int = 0
    page_count: int = 0
    match_count: int = 0
    chart: ChartData = ChartData()

    async def _show_conversation(self, conversation_id: str) -> None:
        """Load the list for a conversation (called when one is opened)."""
        user_id = current_user_id(self)
        self.conversation_id = conversation_id
        summaries = await app_context().reads.resources(user_id, conversation_id) if conversation_id else None
        self.items = [_item(s) for s in summaries or []]
        if self.open_id and all(i.id != self.open_id for i in self.items):
            self.close()

    def _upsert(self, *, resource_id: str, title: str, kind: str, row_count: int, partial: bool, conversation_id: str) -> None:
        """A resource was saved (or grew) in the running turn: newest first, no rows."""
        if conversation_id != self.conversation_id:
            self.conversation_id = conversation_id
            self.items = []
        item = ResourceItem(resource_id, title, kind, row_count, partial, rows_label(row_count, partial))
        others = [i for i in self.items if i.id != resource_id]
        existing = len(others) != len(self.items)
        self.items = [item if i.id == resource_id else i for i in self.items] if existing else [item, *others]

    @rx.event
    def toggle_panel(self):
        self.panel_open = not self.panel_open

    @rx.event
    async def open(self, resource_id: str):
        self.open_id = resource_id
        self.filter_text = ""
        self.sort_key = ""
        self.descending = False
        self.page = 0
        await self._render()

    @rx.event
    def close(self):
        self.open_id = ""
        self.headers = []
        self.page_rows = []
        self.chart = ChartData()

    @rx.event
    async def sort_by(self, key: str):
        if self.sort_key == key:
            self.descending = not self.descending
        else:
            self.sort_key, self.descending = key, False
        self.page = 0
        await self._render()

    @rx.event
    async def apply_filter(self, form_data: dict):
        self.filter_text = str(form_data.get("filter", ""))[:100]
        self.page = 0
        await self._render()

    @rx.event
    async def go_to_page(self, page: int):
        self.page = max(0, min(page, max(0, self.page_count - 1)))
        await self._render()

    async def _render(self) -> None:
        user_id = current_user_id(self)
        reads = app_context().reads
        resource = await reads.resource(user_id, self.open_id)
        if resource is None:
            self.close()
            return
        columns: list[dict[str, Any]] = resource.columns
        rows = query_rows(
            resource.rows, filter_text=self.filter_text, sort_key=self.sort_key, descending=self.descending
        )
        self.match_count = len(rows)
        self.page_count = max(1, -(-len(rows) // PAGE_SIZE))
        self.page = min(self.page, self.page_count - 1)
        start = self.page * PAGE_SIZE
        self.title = resource.title
        when = f" · as of {resource.as_of:%b %d, %Y %H:%M} UTC" if resource.as_of else ""
        state = " · partial: the run stopped before all rows arrived" if resource.partial else ""
        self.subtitle = f"{rows_label(resource.row_count, False)} · {resource.source or 'unknown source'}{when}{state}"
        self.headers = [
            HeaderCell(
                key=c["key"],
                label=c.get("label", c["key"]),
                type=c.get("type", "text"),
                sort=("desc" if self.descending else "asc") if c["key"] == self.sort_key else "",
            )
            for c in columns
        ]
        self.page_rows = [
            [Cell(*format_cell(row.get(c["key"]), c.get("type", "text"))) for c in columns]
            for row in rows[start : start + PAGE_SIZE]
        ]
        trade_rows = await reads.trade_rows(user_id, resource.conversation_id) if resource.chart == "price_line" else []
        self.chart = chart_for(resource, trade_rows)
