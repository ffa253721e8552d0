"""The holdings panel: a thin adapter over `HoldingsBook` for the signed-in user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import reflex as rx

from finch_app.providers.base import Position
from finch_app.context import app_context
from finch_app.providers.brokerage import BrokerageError, BrokerageNotConfigured, SnapTradeLink
from finch_app.providers.portfolio import (
    MAX_IMPORT_BYTES,
    HoldingError,
    HoldingsBook,
    parse_holdings_csv,
    validate_position,
)
from finch_app.states.auth import current_user_id, uploader_id
from finch_app.states.chat import LiveTurnState

T = TypeVar("T")
CSV_UPLOAD_ID = "holdings-csv"


@dataclass
class HoldingItem:
    symbol: str
    name: str
    shares: str
    cost_basis: str


async def _brokerage_view(user_id: str) -> tuple[bool, bool, str]:
    """(SnapTrade configured, user linked, "Synced …" label) for the panel."""
    link = app_context().brokerage
    connection = await link.connection(user_id) if link is not None else None
    synced = connection.last_synced_at if connection else None
    return link is not None, connection is not None, f"Synced {synced:%b %d, %Y %H:%M} UTC" if synced else ""


def _item(p: Position) -> HoldingItem:
    return HoldingItem(symbol=p.symbol, name=p.name, shares=f"{p.shares:,.4f}".rstrip("0").rstrip("."), cost_basis=f"${p.cost_basis:,.2f}")


class PortfolioState(rx.State):
    open: bool = False
    holdings: list[HoldingItem] = []
    message: str = ""
    error: str = ""
    brokerage_available: bool = False
    """SnapTrade is configured: "Connect brokerage" is offered (set on page load and when the panel opens)."""
    brokerage_connected: bool = False
    brokerage_synced: str = ""
    """"Synced Nov 24, 2026 13:27 UTC", or "" before the first sync."""
    brokerage_busy: bool = False
    portal_url: str = ""
    """The last connection portal link: shown in case the browser blocked the popup (valid ~5 minutes)."""

    async def _refresh(self) -> None:
        self.holdings = [_item(p) for p in await HoldingsBook().list(current_user_id(self))]

    async def _refresh_brokerage(self, user_id: str) -> None:
        self._show_brokerage(await _brokerage_view(user_id))

    def _show_brokerage(self, view: tuple[bool, bool, str]) -> None:
        self.brokerage_available, self.brokerage_connected, self.brokerage_synced = view

    async def _brokerage_action(self, busy_message: str, action: Callable[[SnapTradeLink, str], Awaitable[T]]):
        """Run a SnapTrade call for the user with the panel showing it is busy.

        The call and the reads after it happen outside `async with self`: SnapTrade can be slow,
        and the tab's state lock must not wait on it. Returns (user_id, result) or None on error.
        """
        async with self:
            user_id = current_user_id(self)
            self.brokerage_busy = True
            self._say(message=busy_message)
        try:
            link = app_context().brokerage
            if link is None:
                raise BrokerageNotConfigured()
            result = await action(link, user_id)
        except BrokerageError as exc:
            async with self:
                self.brokerage_busy = False
                self._say(error=str(exc))
            return None
        view = await _brokerage_view(user_id)
        holdings = [_item(p) for p in await HoldingsBook().list(user_id)]
        async with self:
            self.brokerage_busy = False
            self._show_brokerage(view)
            self.holdings = holdings
        return user_id, result

    def _say(self, message: str = "", error: str = "") -> None:
        self.message, self.error = message, error

    @rx.event
    async def on_load(self):
        """Whether to offer "Connect brokerage" (the needs-auth answer shows it before the panel opens)."""
        await self._refresh_brokerage(current_user_id(self))

    @rx.event
    async def open_panel(self):
        self.open = True
        self._say()
        await self._refresh()
        await self._refresh_brokerage(current_user_id(self))

    @rx.event(background=True)
    async def connect_brokerage(self):
        """Open SnapTrade's connection portal in a popup (registering the user with SnapTrade first)."""
        done = await self._brokerage_action("Opening SnapTrade…", lambda link, user_id: link.connect_url(user_id))
        if done is None:
            return
        _, url = done
        async with self:
            self.portal_url = url
            self._say(
                message="SnapTrade opened in a new window: link your brokerage there, then come back and "
                "press “Sync from brokerage” (or ask Finch about your portfolio)."
            )
        yield rx.redirect(url, is_external=True, popup=True)

    @rx.event(background=True)
    async def sync_brokerage(self):
        """Pull the linked brokerage's positions into the holdings now."""
        done = await self._brokerage_action("Syncing from your brokerage…", lambda link, user_id: link.sync(user_id))
        if done is not None:
            async with self:
                self._say(message=done[1].summary())

    @rx.event(background=True)
    async def disconnect_brokerage(self):
        """Unlink: SnapTrade forgets the user and Finch its secret; the synced holdings stay."""
        done = await self._brokerage_action("Disconnecting…", lambda link, user_id: link.disconnect(user_id))
        if done is not None:
            async with self:
                self.portal_url = ""
                self._say(message="Brokerage disconnected. The holdings of the last sync stay until you change them.")

    @rx.event
    def close_panel(self):
        self.open = False

    @rx.event
    async def add_holding(self, form_data: dict):
        try:
            shares = float(str(form_data.get("shares", "")).replace(",", "") or "nan")
            cost = float(str(form_data.get("cost_basis", "") or "0").replace(",", "").replace("$", ""))
            position = validate_position(str(form_data.get("symbol", "")), shares, cost)
        except ValueError as exc:
            message = str(exc) if isinstance(exc, HoldingError) else "Shares and average cost must be numbers."
            self._say(error=message)
            return
        try:
            await HoldingsBook().save(current_user_id(self), [position])
        except HoldingError as exc:
            self._say(error=str(exc))
            return
        await self._refresh()
        self._say(message=f"Saved {position.symbol}: {position.shares:g} shares at ${position.cost_basis:,.2f}.")
        return rx.set_value("holding-symbol", "")

    @rx.event
    async def remove(self, symbol: str):
        await HoldingsBook().remove(current_user_id(self), symbol)
        await self._refresh()
        self._say(message=f"Removed {symbol}.")

    @rx.event
    async def load_demo(self):
        await HoldingsBook().load_demo(current_user_id(self))
        await self._refresh()
        self._say(message="Loaded the demo portfolio (8 holdings). Ask Finch about it.")

    @rx.event
    async def load_demo_and_ask_again(self):
        """From the "no portfolio yet" answer: load the demo and answer the question again."""
        await HoldingsBook().load_demo(current_user_id(self))
        return LiveTurnState.retry

    @rx.event
    async def clear_all(self):
        await HoldingsBook().save(current_user_id(self), [], replace=True)
        await self._refresh()
        self._say(message="All holdings removed.")

    @rx.event
    async def import_csv(self, files: list[rx.UploadFile]):
        if not files:
            return
        user_id = uploader_id(self)  # the upload request's own user, who must be this tab's
        upload = files[0]
        data = await upload.read(MAX_IMPORT_BYTES + 1)  # never more than one byte past the limit
        if len(data) > MAX_IMPORT_BYTES:
            largest = f"{MAX_IMPORT_BYTES // 1_000_000} MB"
            self._say(error=f"That file is larger than {largest}; export only your positions.")
            return
        try:
            result = parse_holdings_csv(data.decode("utf-8-sig", errors="replace"))
            await HoldingsBook().save(user_id, result.positions, replace=True)
        except HoldingError as exc:
            self._say(error=str(exc))
            return
        await self._refresh()
        self._say(message=f"Imported {len(result.positions)} holdings from {upload.name or 'the file'}.")
        return rx.clear_selected_files(CSV_UPLOAD_ID)
