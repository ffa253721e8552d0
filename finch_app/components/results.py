"""The Results panel (beside the chat on a wide screen; a drawer, closed until asked for, below
1100 px) and the resource viewer (a modal dialog): a sortable, filterable, paged table with its
chart and a CSV download."""

from __future__ import annotations

import reflex as rx
from reflex_components_radix.primitives.dialog import dialog

from finch_app.components.icons import icon
from finch_app.components.portfolio import close_button, modal
from finch_app.states import visit
from finch_app.states.results import Cell, HeaderCell, ResourceItem, ResultGroup, ResultsState

PALETTE = ["#3f8f62", "#5b8def", "#e0a030", "#c8553d", "#8e6bbf", "#2a9d8f", "#d17fb0", "#7a8b99"]
AXIS = {"fill": "#8a8a85", "fontSize": 12}
"""Tick text: filled, not stroked (a stroke drew every label bold)."""
RESULTS_DRAWER = "finch-results"
"""The id of the Results panel, a popover (drawer) on narrow screens."""


def _hide_drawer() -> dict[str, str]:
    """Opening a result from the drawer closes the drawer first (the viewer opens over the page)."""
    return {"popoverTarget": RESULTS_DRAWER, "popoverTargetAction": "hide"}


def _item(item: rx.Var[ResourceItem]) -> rx.Component:
    return rx.el.button(
        rx.match(
            item.kind,
            ("price_history", icon("chart-line", 16)),
            icon("table-2", 16),
        ),
        rx.el.span(
            rx.el.span(item.title, class_name="finch-res-title", title=item.title),
            rx.el.span(item.label, class_name="finch-res-rows"),
            class_name="finch-res-text",
        ),
        on_click=ResultsState.open(item.id),
        type="button",
        class_name="finch-res-item",
        custom_attrs={
            "data-testid": "resource-item",
            "data-kind": item.kind,
            "data-rows": item.row_count,
            "data-partial": item.partial,
            **_hide_drawer(),
        },
    )


def _group(group: rx.Var[ResultGroup]) -> rx.Component:
    return rx.el.section(
        rx.el.h3(group.question, class_name="finch-res-question", title=group.question),
        rx.foreach(group.results, _item),
        class_name="finch-res-group",
        custom_attrs={"data-testid": "result-group"},
    )


def results_panel() -> rx.Component:
    return rx.el.aside(
        rx.el.div(
            rx.el.button(
                icon("panel-right", 17),
                rx.el.span("Results", class_name="finch-res-toggle-text"),
                rx.cond(ResultsState.count > 0, rx.el.span(ResultsState.count, class_name="finch-badge")),
                on_click=ResultsState.toggle_panel,
                type="button",
                class_name="finch-res-toggle",
                aria_expanded=ResultsState.panel_open,
                aria_label=rx.cond(ResultsState.panel_open, "Collapse Results", "Expand Results"),
                custom_attrs={"data-testid": "results-toggle"},
            ),
            rx.el.span("Results", class_name="finch-res-heading"),
            rx.el.button(
                icon("x", 18),
                type="button",
                class_name="finch-icon-btn finch-drawer-close",
                aria_label="Hide results",
                custom_attrs={"data-testid": "close-results", **_hide_drawer()},
            ),
            class_name="finch-res-head",
        ),
        rx.el.div(
            rx.cond(
                ResultsState.count > 0,
                rx.el.div(
                    rx.foreach(ResultsState.live_group, _group),
                    rx.el.div(
                        *[
                            rx.el.div(
                                rx.foreach(getattr(ResultsState, visit.slot_var("visit", index)), _group),
                                class_name="finch-visit-turn",
                                style={"order": ResultsState.visit_order[index]},
                            )
                            for index in range(visit.SLOTS)
                        ],
                        class_name="finch-visit",
                    ),
                    rx.cond(
                        ResultsState.has_more,
                        rx.el.button(
                            "Show all results",
                            on_click=ResultsState.show_all,
                            type="button",
                            class_name="finch-action",
                            custom_attrs={"data-testid": "show-all-results"},
                        ),
                    ),
                    rx.foreach(ResultsState.groups, _group),
                    class_name="finch-res-groups",
                ),
                rx.el.p(
                    "Tables and charts of what Finch looks up will appear here.",
                    class_name="finch-muted finch-small",
                ),
            ),
            class_name="finch-res-list",
        ),
        id=RESULTS_DRAWER,
        class_name="finch-results",
        aria_label="Results",
        custom_attrs={
            "data-open": ResultsState.panel_open,
            "data-testid": "results-panel",
            "popover": "auto",
        },
    )


def _header(cell: rx.Var[HeaderCell]) -> rx.Component:
    return rx.el.th(
        rx.el.button(
            cell.label,
            rx.match(cell.sort, ("asc", " ▲"), ("desc", " ▼"), ""),
            on_click=ResultsState.sort_by(cell.key),
            type="button",
            class_name="finch-sort",
        ),
        custom_attrs={
            "data-type": cell.type,
            "aria-sort": rx.match(cell.sort, ("asc", "ascending"), ("desc", "descending"), "none"),
        },
    )


def _cell(cell: rx.Var[Cell]) -> rx.Component:
    return rx.el.td(
        rx.match(
            cell.type,
            ("ticker", rx.el.span(cell.text, class_name="finch-chip")),
            (
                "link",
                rx.cond(
                    cell.href != "",
                    rx.el.a(cell.text, href=cell.href, target="_blank", rel="noopener noreferrer nofollow"),
                    rx.fragment(cell.text),
                ),
            ),
            rx.fragment(cell.text),
        ),
        custom_attrs={"data-type": cell.type},
    )


def _row(row: rx.Var[list[Cell]]) -> rx.Component:
    return rx.el.tr(rx.foreach(row, _cell))


def _axes(x_key: str) -> list[rx.Component]:
    return [
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", stroke="#8a8a8533"),
        rx.recharts.x_axis(
            data_key=x_key,
            tick=AXIS,
            stroke="#8a8a85",
            label={
                "value": ResultsState.chart.x_label,
                "position": "insideBottom",
                "offset": -4,
                "fill": "#8a8a85",
            },
        ),
        rx.recharts.y_axis(
            tick=AXIS,
            stroke="#8a8a85",
            width=70,
            # Fitted to the data (a price axis from 0 flattens the line); counts start at 0.
            domain=ResultsState.chart.y_domain,
            allow_data_overflow=False,
            label={
                "value": ResultsState.chart.y_label,
                "angle": -90,
                "position": "insideLeft",
                "fill": "#8a8a85",
            },
        ),
        rx.recharts.graphing_tooltip(),
    ]


def _marker(marker: rx.Var[dict]) -> rx.Component:
    """A day with trades: a dashed line, named on the chart ("Buy", "2 × Sell")."""
    return rx.recharts.reference_line(
        x=marker["x"],
        stroke=PALETTE[3],
        stroke_dasharray="4 2",
        # Recharts takes a label's props too; Reflex types the prop as text only.
        label=rx.Var.create(
            {
                "value": marker["label"],
                "position": "top",
                "fill": PALETTE[3],
                "fontSize": 11,
                "className": "finch-marker-label",
            }
        ).to(str),
    )


def _chart() -> rx.Component:
    data = ResultsState.chart.points
    return rx.match(
        ResultsState.chart.kind,
        (
            "allocation",
            rx.recharts.pie_chart(
                rx.recharts.pie(
                    rx.foreach(
                        data, lambda _, i: rx.recharts.cell(fill=rx.Var.create(PALETTE)[i % len(PALETTE)])
                    ),
                    data=data,
                    data_key="value",
                    name_key="name",
                    inner_radius="45%",
                    outer_radius="80%",
                    is_animation_active=False,
                ),
                rx.recharts.graphing_tooltip(),
                rx.recharts.legend(),
                width="100%",
                height=280,
            ),
        ),
        (
            "price_line",
            rx.recharts.line_chart(
                *_axes("x"),
                rx.recharts.line(
                    data_key="close",
                    stroke=PALETTE[1],
                    dot=False,
                    stroke_width=2,
                    is_animation_active=False,
                    name="Close",
                ),
                rx.foreach(ResultsState.chart.markers, _marker),
                data=data,
                width="100%",
                height=280,
                margin={"top": 22, "right": 20, "bottom": 20, "left": 10},
            ),
        ),
        (
            "mentions_bars",
            rx.recharts.bar_chart(
                *_axes("ticker"),
                rx.recharts.bar(
                    data_key="mentions", fill=PALETTE[1], name="Mentions (24 h)", is_animation_active=False
                ),
                data=data,
                width="100%",
                height=280,
                margin={"top": 10, "right": 20, "bottom": 20, "left": 10},
            ),
        ),
        (
            "trades_per_week",
            rx.recharts.bar_chart(
                *_axes("week"),
                rx.recharts.bar(
                    data_key="purchases",
                    stack_id="t",
                    fill=PALETTE[0],
                    name="Purchases",
                    is_animation_active=False,
                ),
                rx.recharts.bar(
                    data_key="sales", stack_id="t", fill=PALETTE[3], name="Sales", is_animation_active=False
                ),
                rx.recharts.bar(
                    data_key="other", stack_id="t", fill=PALETTE[7], name="Other", is_animation_active=False
                ),
                rx.recharts.legend(),
                data=data,
                width="100%",
                height=280,
                margin={"top": 10, "right": 20, "bottom": 20, "left": 10},
            ),
        ),
        rx.fragment(),
    )


def resource_viewer() -> rx.Component:
    return modal(
        rx.cond(
            ResultsState.chart.kind != "",
            rx.el.figure(
                rx.el.figcaption(ResultsState.chart.title, class_name="finch-chart-title"),
                _chart(),
                rx.cond(
                    ResultsState.chart.markers.length() > 0,
                    rx.el.details(
                        rx.el.summary(
                            "Dashed lines: the ",
                            ResultsState.chart.markers.length(),
                            " days this conversation's trade results show a trade in this ticker",
                            class_name="finch-small finch-muted finch-markers-label",
                        ),
                        rx.el.ul(
                            rx.foreach(ResultsState.chart.markers, lambda m: rx.el.li(m["detail"])),
                            class_name="finch-markers",
                        ),
                        custom_attrs={"data-testid": "chart-markers"},
                    ),
                ),
                class_name="finch-chart",
                custom_attrs={"data-testid": "chart", "data-kind": ResultsState.chart.kind},
            ),
        ),
        rx.el.div(
            rx.el.form(
                rx.el.input(
                    name="filter",
                    placeholder="Filter rows…",
                    default_value=ResultsState.filter_text,
                    class_name="finch-field",
                    aria_label="Filter rows",
                    custom_attrs={"data-testid": "resource-filter"},
                ),
                on_submit=ResultsState.apply_filter,
                class_name="finch-filter",
            ),
            rx.el.a(
                icon("download", 15),
                "Download CSV",
                href="/api/resources/" + ResultsState.open_id + ".csv",
                download=ResultsState.title + ".csv",
                class_name="finch-action",
                # A file, not a page: the router must let the browser load it itself.
                custom_attrs={"data-testid": "download-csv", "reloadDocument": True},
            ),
            class_name="finch-table-tools",
        ),
        rx.el.div(
            rx.el.table(
                rx.el.thead(rx.el.tr(rx.foreach(ResultsState.headers, _header))),
                rx.el.tbody(rx.foreach(ResultsState.page_rows, _row)),
                class_name="finch-table",
                custom_attrs={"data-testid": "resource-table"},
            ),
            class_name="finch-table-wrap",
            tab_index=0,
            aria_label="Table: " + ResultsState.title,
        ),
        rx.el.div(
            rx.el.button(
                "‹ Previous",
                on_click=ResultsState.go_to_page(ResultsState.page - 1),
                disabled=ResultsState.page <= 0,
                type="button",
                class_name="finch-action",
            ),
            rx.el.span(
                "Page ",
                ResultsState.page + 1,
                " of ",
                ResultsState.page_count,
                " · ",
                ResultsState.match_count,
                " rows",
                class_name="finch-small finch-muted",
                custom_attrs={"data-testid": "pager-info"},
            ),
            rx.el.button(
                "Next ›",
                on_click=ResultsState.go_to_page(ResultsState.page + 1),
                disabled=ResultsState.page >= ResultsState.page_count - 1,
                type="button",
                class_name="finch-action",
            ),
            class_name="finch-pager",
        ),
        title=rx.el.div(
            rx.el.div(
                dialog.title(ResultsState.title, class_name="finch-panel-title"),
                rx.el.p(ResultsState.subtitle, class_name="finch-muted finch-small"),
                class_name="finch-panel-heading",
            ),
            close_button(ResultsState.close),
            class_name="finch-panel-head",
        ),
        open_=ResultsState.open_id != "",
        on_open_change=ResultsState.open_change,
        class_name="finch-panel finch-panel-wide finch-dialog",
        aria_describedby=None,
        custom_attrs={"data-testid": "resource-viewer"},
    )
