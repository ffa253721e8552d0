"""The holdings panel (a modal): add, remove, import a broker CSV, or load the demo."""

from __future__ import annotations

import reflex as rx

from finch_app.states.portfolio import CSV_UPLOAD_ID, HoldingItem, PortfolioState


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
            )
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
                    rx.cond(PortfolioState.brokerage_synced != "", PortfolioState.brokerage_synced + ".", "Not synced yet."),
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


def portfolio_panel() -> rx.Component:
    return rx.cond(
        PortfolioState.open,
        rx.el.div(
            rx.el.div(
                rx.el.div(
                    rx.el.h2("Your holdings", class_name="finch-panel-title"),
                    rx.el.button("×", on_click=PortfolioState.close_panel, class_name="finch-close", aria_label="Close", type="button"),
                    class_name="finch-panel-head",
                ),
                rx.el.p(
                    "Finch values these with quotes when you ask about your portfolio. They are stored only in your Finch.",
                    class_name="finch-muted finch-small",
                ),
                rx.cond(PortfolioState.message != "", rx.el.div(PortfolioState.message, class_name="finch-ok", role="status")),
                rx.cond(PortfolioState.error != "", rx.el.div(PortfolioState.error, class_name="finch-notice", role="alert")),
                rx.cond(
                    PortfolioState.holdings.length() > 0,
                    rx.el.table(
                        rx.el.thead(rx.el.tr(rx.el.th("Symbol"), rx.el.th("Name"), rx.el.th("Shares", class_name="finch-num"), rx.el.th("Avg cost", class_name="finch-num"), rx.el.th(""))),
                        rx.el.tbody(rx.foreach(PortfolioState.holdings, _row)),
                        class_name="finch-holdings",
                    ),
                    rx.el.p("No holdings yet.", class_name="finch-muted"),
                ),
                rx.el.form(
                    _field("symbol", "Symbol", "AAPL", id="holding-symbol", required=True, max_length=12, auto_complete="off"),
                    _field("shares", "Shares", "10", required=True, input_mode="decimal"),
                    _field("cost_basis", "Avg cost ($)", "150.00", input_mode="decimal"),
                    rx.el.button("Add", type="submit", class_name="finch-btn finch-btn-send", custom_attrs={"data-testid": "add-holding"}),
                    on_submit=PortfolioState.add_holding,
                    reset_on_submit=True,
                    class_name="finch-holding-form",
                ),
                rx.el.div(
                    rx.upload(
                        rx.el.div(
                            rx.el.strong("Import CSV"),
                            rx.el.span(" — drop a positions export from Fidelity, Schwab, Vanguard… or click to choose", class_name="finch-muted"),
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
                    rx.el.button("Load demo portfolio", on_click=PortfolioState.load_demo, class_name="finch-action", type="button", custom_attrs={"data-testid": "load-demo"}),
                    rx.cond(
                        PortfolioState.holdings.length() > 0,
                        rx.el.button("Remove all", on_click=PortfolioState.clear_all, class_name="finch-action", type="button"),
                    ),
                    class_name="finch-panel-actions",
                ),
                class_name="finch-panel",
                role="dialog",
                aria_modal="true",
                aria_label="Your holdings",
                custom_attrs={"data-testid": "portfolio-panel"},
            ),
            class_name="finch-overlay",
        ),
    )
