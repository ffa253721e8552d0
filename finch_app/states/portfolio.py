"""The holdings panel: a thin adapter over `HoldingsBook` for the signed-in user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import reflex as rx

from finch_app.context import app_context
from finch_app.formatting import count as plural
from finch_app.providers.base import Position
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
    return HoldingItem(
        symbol=p.symbol,
        name=p.name,
        shares=f"{p.shares:,.4f}".rstrip("0").rstrip("."),
        cost_basis=f"${p.cost_basis:,.2f}",
    )


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
    confirm: str = ""
    """A replacement waiting for the user's yes, in words ("Replace your 8 holdings with the 2 in
    this file?")."""
    undo_label: str = ""
    """What "Undo" would bring back, after holdings were removed or replaced ("" when nothing)."""
    _pending: list[Position] = []
    """The positions of an imported file, until the user confirms the replacement."""
    _pending_name: str = ""
    _undo: list[Position] = []
    """The holdings before the last removal or replacement."""

    async def _refresh(self) -> None:
        self.holdings = [_item(p) for p in await HoldingsBook().list(current_user_id(self))]

    async def _refresh_brokerage(self, user_id: str) -> None:
        self._show_brokerage(await _brokerage_view(user_id))

    def _show_brokerage(self, view: tuple[bool, bool, str]) -> None:
        self.brokerage_available, self.brokerage_connected, self.brokerage_synced = view

    async def _brokerage_action(
        self, busy_message: str, action: Callable[[SnapTradeLink, str], Awaitable[T]]
    ):
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
            self._no_undo()
        return user_id, result

    def _say(self, message: str = "", error: str = "") -> None:
        self.message, self.error = message, error

    async def _keep_for_undo(self, user_id: str, label: str) -> int:
        """Remember the holdings before a removal or replacement, so "Undo" can put them back."""
        before = await HoldingsBook().list(user_id)
        self._undo = before
        self.undo_label = label if before else ""
        return len(before)

    def _no_undo(self) -> None:
        self._undo, self.undo_label = [], ""

    @rx.event
    async def on_load(self):
        """Whether to offer "Connect brokerage" (the needs-auth answer shows it before the panel opens)."""
        await self._refresh_brokerage(current_user_id(self))

    @rx.event
    async def open_panel(self):
        self.open = True
        self._say()
        self._no_undo()
        self._forget_pending()
        await self._refresh()
        await self._refresh_brokerage(current_user_id(self))

    @rx.event(background=True)
    async def connect_brokerage(self):
        """Open SnapTrade's connection portal in a popup (registering the user with SnapTrade first)."""
        done = await self._brokerage_action(
            "Opening SnapTrade…", lambda link, user_id: link.connect_url(user_id)
        )
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
        done = await self._brokerage_action(
            "Syncing from your brokerage…", lambda link, user_id: link.sync(user_id)
        )
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
                self._say(
                    message="Brokerage disconnected. The holdings of the last sync stay until you change them."
                )

    @rx.event
    def close_panel(self):
        self.open = False
        self._forget_pending()

    @rx.event
    def open_change(self, open_: bool):
        """The dialog asks to open or close (Escape, a click outside, its × button)."""
        if not open_:
            self.open = False
            self._forget_pending()

    def _forget_pending(self) -> None:
        self._pending, self._pending_name, self.confirm = [], "", ""

    @rx.event
    async def add_holding(self, form_data: dict):
        try:
            shares = float(str(form_data.get("shares", "")).replace(",", "") or "nan")
            cost = float(str(form_data.get("cost_basis", "") or "0").replace(",", "").replace("$", ""))
            position = validate_position(str(form_data.get("symbol", "")), shares, cost)
        except ValueError as exc:
            message = (
                str(exc) if isinstance(exc, HoldingError) else "Shares and average cost must be numbers."
            )
            self._say(error=message)
            return
        try:
            await HoldingsBook().save(current_user_id(self), [position])
        except HoldingError as exc:
            self._say(error=str(exc))
            return
        self._no_undo()
        await self._refresh()
        self._say(
            message=f"Saved {position.symbol}: {position.shares:g} shares at ${position.cost_basis:,.2f}."
        )
        # The form already emptied itself on submit (`reset_on_submit`): emptying it again here
        # would wipe the next ticker if the user had started typing it. Just be ready for it.
        return rx.set_focus("holding-symbol")

    @rx.event
    async def remove(self, symbol: str):
        user_id = current_user_id(self)
        await self._keep_for_undo(user_id, f"Put {symbol} back")
        await HoldingsBook().remove(user_id, symbol)
        await self._refresh()
        self._say(message=f"Removed {symbol}.")

    @rx.event
    async def load_demo(self):
        user_id = current_user_id(self)
        had = await self._keep_for_undo(user_id, "Undo: bring back your holdings")
        await HoldingsBook().load_demo(user_id)
        await self._refresh()
        replaced = f" in place of your {plural(had, 'holding')}" if had else ""
        self._say(message=f"Loaded the demo portfolio (8 holdings){replaced}. Ask Finch about it.")

    @rx.event
    async def undo(self):
        """Put back the holdings as they were before the last removal or replacement."""
        if not self.undo_label:
            return
        before = self._undo
        self._no_undo()
        await HoldingsBook().save(current_user_id(self), before, replace=True)
        await self._refresh()
        self._say(message="Undone: your holdings are back as they were.")

    @rx.event
    async def load_demo_and_ask_again(self):
        """From the "no portfolio yet" answer: load the demo and answer the question again."""
        await HoldingsBook().load_demo(current_user_id(self))
        return LiveTurnState.retry

    @rx.event
    async def clear_all(self):
        user_id = current_user_id(self)
        had = await self._keep_for_undo(user_id, "Undo: bring back your holdings")
        await HoldingsBook().save(user_id, [], replace=True)
        await self._refresh()
        self._say(message=f"Removed all {plural(had, 'holding')}.")

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
        except HoldingError as exc:
            self._say(error=str(exc))
            return
        name = upload.name or "the file"
        current = len(await HoldingsBook().list(user_id))
        if not current:
            await self._replace_with(result.positions, name)
        else:
            # Importing replaces every holding: say what will change, and wait for a yes.
            self._pending, self._pending_name = result.positions, name
            self.confirm = (
                f"Replace your {plural(current, 'holding')} with the {len(result.positions)} in {name}?"
            )
            self._say()

    @rx.event
    async def confirm_import(self):
        if self._pending:
            positions, name = self._pending, self._pending_name
            self._forget_pending()
            await self._replace_with(positions, name)

    @rx.event
    def cancel_import(self):
        self._forget_pending()
        self._say(message="Nothing was imported; your holdings are unchanged.")

    async def _replace_with(self, positions: list[Position], name: str) -> None:
        user_id = current_user_id(self)
        had = await self._keep_for_undo(user_id, "Undo: bring back your holdings")
        try:
            await HoldingsBook().save(user_id, positions, replace=True)
        except HoldingError as exc:  # more holdings than Finch keeps: nothing was replaced
            self._no_undo()
            self._say(error=str(exc))
            return
        await self._refresh()
        replaced = f", replacing your {plural(had, 'holding')}" if had else ""
        self._say(message=f"Imported {len(positions)} holdings from {name}{replaced}.")
