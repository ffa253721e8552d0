"""The holdings panel (a modal dialog: Escape or a click outside closes it, focus stays inside
while it is open): add, remove, import a broker CSV, or load the demo. Replacing holdings asks
first or offers Undo, and says what changes."""

from __future__ import annotations

import reflex as rx
from reflex_components_radix.primitives.dialog import dialog

from finch_app.components.icons import icon
from finch_app.states.portfolio import HoldingItem, PortfolioState

CSV_UPLOAD_ID = "holdings-csv"
"""The broker-CSV drop zone. It hands its file straight to the import, so nothing stays selected
for the server to clear (which Reflex would send as a script to `eval`: the CSP refuses it)."""


def modal(
    *content: rx.Component, title: rx.Component, open_: rx.Var[bool], on_open_change, **props
) -> rx.Component:
    """A modal dialog (Radix): Escape and a click outside ask `on_open_change(False)`; the rest
    of the page is inert while it is open, and focus returns where it was when it closes."""
    return dialog.root(
        dialog.portal(
            dialog.overlay(class_name="finch-overlay"),
            dialog.content(title, *content, **props),
        ),
        open=open_,
        on_open_change=on_open_change,
    )


def close_button(on_click) -> rx.Component:
    return rx.el.button(
        icon("x", 18), on_click=on_click, class_name="finch-close", aria_label="Close", type="button"
    )


def _row(item: rx.Var[HoldingItem]) -> rx.Component:
    return rx.el.tr(
        rx.el.td(rx.el.strong(item.symbol)),
        rx.el.td(item.name, class_name="finch-muted"),
        rx.el.td(item.shares, class_name="finch-num"),
        rx.el.td(item.cost_basis, class_name="finch-num"),
        rx.el.td(
            rx.el.button(
                "Remove",
                on_click=PortfolioState.remove(item.symbol),
                class_name="finch-link-btn",
                type="button",
                aria_label="Remove " + item.symbol,
            ),
            class_name="finch-num",
        ),
        custom_attrs={"data-testid": "holding-row"},
    )


def _field(name: str, label: str, placeholder: str, **props) -> rx.Component:
    return rx.el.label(
        rx.el.span(label),
        rx.el.input(name=name, placeholder=placeholder, class_name="finch-field", **props),
        class_name="finch-label",
    )


def connect_brokerage_button(label: str = "Connect brokerage", *, primary: bool = False) -> rx.Component:
    """Opens SnapTrade's connection portal in a popup; render it only when `brokerage_available`."""
    return rx.el.button(
        label,
        on_click=PortfolioState.connect_brokerage,
        disabled=PortfolioState.brokerage_busy,
        class_name="finch-action finch-action-primary" if primary else "finch-action",
        type="button",
        custom_attrs={"data-testid": "connect-brokerage"},
    )


def _brokerage() -> rx.Component:
    """Link a brokerage through SnapTrade (only when this Finch has SnapTrade credentials)."""
    return rx.el.div(
        rx.el.div(
            rx.el.strong("Brokerage"),
            rx.cond(
                PortfolioState.brokerage_connected,
                rx.el.span(
                    " — linked through SnapTrade. ",
                    rx.cond(
                        PortfolioState.brokerage_synced != "",
                        PortfolioState.brokerage_synced + ".",
                        "Not synced yet.",
                    ),
                    " A sync replaces the holdings below with the brokerage's positions.",
                    class_name="finch-muted",
                ),
                rx.el.span(
                    " — link your broker through SnapTrade (opens a window); its positions then replace the holdings below.",
                    class_name="finch-muted",
                ),
            ),
        ),
        rx.el.div(
            connect_brokerage_button(),
            rx.cond(
                PortfolioState.brokerage_connected,
                rx.fragment(
                    rx.el.button(
                        "Sync from brokerage",
                        on_click=PortfolioState.sync_brokerage,
                        disabled=PortfolioState.brokerage_busy,
                        class_name="finch-action",
                        type="button",
                        custom_attrs={"data-testid": "sync-brokerage"},
                    ),
                    rx.el.button(
                        "Disconnect",
                        on_click=PortfolioState.disconnect_brokerage,
                        disabled=PortfolioState.brokerage_busy,
                        class_name="finch-action",
                        type="button",
                        custom_attrs={"data-testid": "disconnect-brokerage"},
                    ),
                ),
            ),
            class_name="finch-callout-actions",
        ),
        rx.cond(
            PortfolioState.portal_url != "",
            rx.el.p(
                "No window? ",
                rx.el.a(
                    "Open SnapTrade",
                    href=PortfolioState.portal_url,
                    target="_blank",
                    rel="noopener noreferrer",
                    class_name="finch-md-link",
                ),
                " (the link works for a few minutes).",
                class_name="finch-muted finch-small",
            ),
        ),
        class_name="finch-import",
        custom_attrs={"data-testid": "brokerage"},
    )


def _confirm_import() -> rx.Component:
    """Importing replaces every holding: the question says what changes, the user says yes or no."""
    return rx.el.div(
        rx.el.p(icon("triangle-alert", 15), PortfolioState.confirm, class_name="finch-confirm-text"),
        rx.el.div(
            rx.el.button(
                "Replace holdings",
                on_click=PortfolioState.confirm_import,
                class_name="finch-action finch-action-danger",
                type="button",
                custom_attrs={"data-testid": "confirm-import"},
            ),
            rx.el.button(
                "Keep my holdings",
                on_click=PortfolioState.cancel_import,
                class_name="finch-action",
                type="button",
                auto_focus=True,
                custom_attrs={"data-testid": "cancel-import"},
            ),
            class_name="finch-callout-actions",
        ),
        class_name="finch-confirm",
        role="alertdialog",
        aria_label="Confirm import",
        custom_attrs={"data-testid": "import-confirm"},
    )


def _message() -> rx.Component:
    return rx.cond(
        PortfolioState.message != "",
        rx.el.div(
            rx.el.span(PortfolioState.message),
            rx.cond(
                PortfolioState.undo_label != "",
                rx.el.button(
                    icon("undo-2", 14),
                    PortfolioState.undo_label,
                    on_click=PortfolioState.undo,
                    class_name="finch-action finch-undo",
                    type="button",
                    custom_attrs={"data-testid": "undo-holdings"},
                ),
            ),
            class_name="finch-ok",
            role="status",
        ),
    )


def portfolio_panel() -> rx.Component:
    return modal(
        rx.el.p(
            "Finch values these with quotes when you ask about your portfolio. "
            "They are stored only in your Finch.",
            class_name="finch-muted finch-small",
        ),
        _message(),
        rx.cond(
            PortfolioState.error != "",
            rx.el.div(PortfolioState.error, class_name="finch-notice", role="alert"),
        ),
        rx.cond(PortfolioState.confirm != "", _confirm_import()),
        rx.cond(
            PortfolioState.holdings.length() > 0,
            rx.el.div(
                rx.el.table(
                    rx.el.thead(
                        rx.el.tr(
                            rx.el.th("Symbol"),
                            rx.el.th("Name"),
                            rx.el.th("Shares", class_name="finch-num"),
                            rx.el.th("Avg cost", class_name="finch-num"),
                            rx.el.th(rx.el.span("Actions", class_name="finch-sr-only")),
                        )
                    ),
                    rx.el.tbody(rx.foreach(PortfolioState.holdings, _row)),
                    class_name="finch-holdings",
                ),
                class_name="finch-holdings-wrap",
            ),
            rx.el.p("No holdings yet.", class_name="finch-muted"),
        ),
        rx.el.form(
            _field(
                "symbol",
                "Symbol",
                "AAPL",
                id="holding-symbol",
                required=True,
                max_length=12,
                auto_complete="off",
            ),
            _field("shares", "Shares", "10", required=True, input_mode="decimal"),
            _field("cost_basis", "Avg cost ($)", "150.00", input_mode="decimal"),
            rx.el.button(
                icon("plus", 16),
                "Add",
                type="submit",
                class_name="finch-btn finch-btn-send",
                custom_attrs={"data-testid": "add-holding"},
            ),
            on_submit=PortfolioState.add_holding,
            reset_on_submit=True,
            class_name="finch-holding-form",
        ),
        rx.el.div(
            # The unstyled root: the styled one sets a border from a theme this app does not load
            # (so it vanished) and 5em of padding.
            rx.upload.root(
                rx.el.div(
                    icon("upload", 18),
                    rx.el.div(
                        rx.el.strong("Import a broker CSV"),
                        rx.el.span(
                            "Drop a positions export from Fidelity, Schwab, Vanguard… here, "
                            "or choose a file. "
                            "It replaces your holdings (you'll be asked first).",
                            class_name="finch-muted finch-small",
                        ),
                        class_name="finch-dropzone-text",
                    ),
                    class_name="finch-dropzone-inner",
                ),
                id=CSV_UPLOAD_ID,
                accept={"text/csv": [".csv"], "text/plain": [".csv", ".txt"]},
                max_files=1,
                multiple=False,
                on_drop=PortfolioState.import_csv(rx.upload_files(upload_id=CSV_UPLOAD_ID)),
                class_name="finch-dropzone",
                custom_attrs={"data-testid": "import-csv"},
            ),
            class_name="finch-import",
        ),
        rx.cond(PortfolioState.brokerage_available, _brokerage()),
        rx.el.div(
            rx.el.button(
                "Load demo portfolio",
                on_click=PortfolioState.load_demo,
                class_name="finch-action",
                type="button",
                custom_attrs={"data-testid": "load-demo"},
            ),
            rx.cond(
                PortfolioState.holdings.length() > 0,
                rx.el.button(
                    icon("trash-2", 14),
                    "Remove all",
                    on_click=PortfolioState.clear_all,
                    class_name="finch-action finch-action-quiet-danger",
                    type="button",
                    custom_attrs={"data-testid": "remove-all"},
                ),
            ),
            class_name="finch-panel-actions",
        ),
        title=rx.el.div(
            dialog.title("Your holdings", class_name="finch-panel-title"),
            close_button(PortfolioState.close_panel),
            class_name="finch-panel-head",
        ),
        open_=PortfolioState.open,
        on_open_change=PortfolioState.open_change,
        class_name="finch-panel finch-dialog",
        aria_describedby=None,
        custom_attrs={"data-testid": "portfolio-panel"},
    )
