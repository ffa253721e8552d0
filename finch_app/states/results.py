"""The Results panel: the open conversation's resources, grouped under the question that
saved them, and the one being looked at.

Its own State class, so a tool event never carries resource rows: the list holds titles and
counts; a table's rows are read from the database when it is opened, a page at a time. The
list is in parts so no update grows with a visit: `groups` is what the conversation had when
it was opened, `live_group` the running turn's results, and each finished turn of the visit
keeps its group in one of the fixed slots `visit_0…` (`states/visit.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx

from finch_app.charts import ChartData, chart_for
from finch_app.context import app_context
from finch_app.formatting import count
from finch_app.reads import ResourceSummary
from finch_app.states import visit
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
    return f"{count(row_count, 'row')} so far" if partial else count(row_count, "row")


@dataclass
class ResultGroup:
    """The results one question saved, newest first."""

    key: str
    """The run that saved them."""
    question: str
    results: list[ResourceItem]


def _item(summary: ResourceSummary) -> ResourceItem:
    return ResourceItem(
        id=summary.id,
        title=summary.title,
        kind=summary.kind,
        row_count=summary.row_count,
        partial=summary.partial,
        label=rows_label(summary.row_count, summary.partial),
    )


def grouped(summaries: list[ResourceSummary]) -> list[ResultGroup]:
    """Results by the question that saved them, newest question first. A lookup repeated (the
    same title, in one answer or a later one) is listed once, as its newest copy, under the
    question that made it; a question left with nothing new is not listed."""
    groups: dict[str, ResultGroup] = {}
    seen: set[str] = set()
    for summary in summaries:  # newest first
        if summary.title in seen:
            continue
        seen.add(summary.title)
        group = groups.setdefault(summary.run_id, ResultGroup(summary.run_id, summary.question, []))
        group.results.append(_item(summary))
    return list(groups.values())


def without_title(groups: list[ResultGroup], title: str) -> tuple[list[ResultGroup], int]:
    """The groups without the result named `title` (a newer copy replaces it), and how many went."""
    kept, dropped = [], 0
    for group in groups:
        results = [i for i in group.results if i.title != title]
        dropped += len(group.results) - len(results)
        if results:
            same = len(results) == len(group.results)
            kept.append(group if same else ResultGroup(group.key, group.question, results))
    return kept, dropped


def with_item(group: ResultGroup, item: ResourceItem) -> ResultGroup:
    """The group with `item` added (newest first) or updated in place; one item per title."""
    kept = [i for i in group.results if i.id != item.id and i.title != item.title]
    updated = any(i.id == item.id or i.title == item.title for i in group.results)
    items = (
        [item if (i.id == item.id or i.title == item.title) else i for i in group.results]
        if updated
        else [item, *kept]
    )
    return ResultGroup(group.key, group.question, items)


class ResultsState(rx.State):
    groups: list[ResultGroup] = []
    """The conversation's results when it was opened."""
    live_group: list[ResultGroup] = []
    """The running turn's results (0 or 1 group)."""
    visit_0: list[ResultGroup] = []
    visit_1: list[ResultGroup] = []
    visit_2: list[ResultGroup] = []
    visit_3: list[ResultGroup] = []
    visit_4: list[ResultGroup] = []
    visit_5: list[ResultGroup] = []
    visit_6: list[ResultGroup] = []
    visit_7: list[ResultGroup] = []
    visit_8: list[ResultGroup] = []
    visit_9: list[ResultGroup] = []
    visit_10: list[ResultGroup] = []
    visit_11: list[ResultGroup] = []
    visit_order: list[int] = [0] * visit.SLOTS
    """Each slot's place in the list (CSS `order`: newest first)."""
    _turns: int = 0
    count: int = 0
    """How many results the conversation has (the panel's badge)."""
    has_more: bool = False
    """Groups of this visit left the list (the ring was full): "Show all results" reloads them."""
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

    def _slot(self, index: int) -> list[ResultGroup]:
        return getattr(self, visit.slot_var("visit", index))

    def _set_slot(self, index: int, groups: list[ResultGroup]) -> None:
        setattr(self, visit.slot_var("visit", index), groups)

    def _reset_visit(self) -> None:
        for index in range(visit.SLOTS):
            if self._slot(index):
                self._set_slot(index, [])
        if self.live_group:
            self.live_group = []
        self._turns = 0
        self.has_more = False

    async def _show_conversation(self, conversation_id: str) -> None:
        """Load the list for a conversation (called when one is opened)."""
        user_id = current_user_id(self)
        self.conversation_id = conversation_id
        summaries = await app_context().reads.resources(user_id, conversation_id) if conversation_id else None
        self.groups = grouped(summaries or [])
        self.count = sum(len(g.results) for g in self.groups)
        self._reset_visit()
        if self.open_id and all(i.id != self.open_id for g in self.groups for i in g.results):
            self.close()

    @rx.event
    async def show_all(self):
        """Reload the whole list (after this visit's oldest groups left it)."""
        await self._show_conversation(self.conversation_id)

    def _upsert(
        self,
        *,
        resource_id: str,
        title: str,
        kind: str,
        row_count: int,
        partial: bool,
        conversation_id: str,
        run_id: str,
        question: str,
    ) -> None:
        """A resource was saved (or grew) in the running turn: only the running turn's group is re-sent."""
        if conversation_id != self.conversation_id:
            self.conversation_id = conversation_id
            self.groups = []
            self.count = 0
            self._reset_visit()
        if self.live_group and self.live_group[0].key != run_id:
            self._settle_turn()  # a retry's new run: the earlier answer's results keep their own group
        group = self.live_group[0] if self.live_group else ResultGroup(run_id, question, [])
        before = len(group.results)
        group = with_item(
            group, ResourceItem(resource_id, title, kind, row_count, partial, rows_label(row_count, partial))
        )
        added = len(group.results) - before
        if added:
            self.count -= self._drop_older(title)
        self.count += added
        self.live_group = [group]

    def _drop_older(self, title: str) -> int:
        """A newer copy of a result arrived: its older copy leaves the list (only the vars holding
        one change: a slot, or the list loaded at open, once per title)."""
        dropped = 0
        for index in range(visit.SLOTS):
            slot = self._slot(index)
            if slot:
                kept, gone = without_title(slot, title)
                if gone:
                    self._set_slot(index, kept)
                    dropped += gone
        if self.groups:
            kept, gone = without_title(self.groups, title)
            if gone:
                self.groups = kept
                dropped += gone
        return dropped

    def _settle_turn(self) -> None:
        """The running turn is over: its group takes a slot of the visit (one var changes)."""
        if not self.live_group:
            return
        placed = visit.place(self._turns)
        if placed.evicts:
            self.has_more = True
        self._set_slot(placed.slot, self.live_group)
        order = list(self.visit_order)
        order[placed.slot] = -placed.position
        self.visit_order = order
        self._turns += 1
        self.live_group = []

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
    def open_change(self, open_: bool):
        """The viewer asks to close (Escape, a click outside, its × button)."""
        if not open_:
            self.close()

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
        self.subtitle = (
            f"{rows_label(resource.row_count, False)} · {resource.source or 'unknown source'}{when}{state}"
        )
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
        trade_rows = (
            await reads.trade_rows(user_id, resource.conversation_id)
            if resource.chart == "price_line"
            else []
        )
        self.chart = chart_for(resource, trade_rows)
