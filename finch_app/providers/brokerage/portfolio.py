"""`get_portfolio`'s source when SnapTrade is configured: a linked brokerage's positions."""

from __future__ import annotations

from finch_app.providers.base import PortfolioLoad, Position
from finch_app.providers.brokerage.errors import BrokerageError
from finch_app.providers.brokerage.snaptrade import SnapTradeLink, describe_time
from finch_app.providers.portfolio import DbPortfolio


class BrokeragePortfolio:
    """`get_portfolio`'s source when SnapTrade is configured: a connected user's brokerage
    positions (synced on each call, at most every `sync_interval_s`), else their holdings."""

    def __init__(
        self, link: SnapTradeLink, *, stored: DbPortfolio | None = None, sync_interval_s: float = 15.0
    ) -> None:
        self.link = link
        self.stored = stored or DbPortfolio()
        self.sync_interval_s = sync_interval_s

    async def positions(self, user_id: str) -> list[Position]:
        return (await self.load(user_id)).positions

    async def load(self, user_id: str) -> PortfolioLoad:
        connection = await self.link.connection(user_id)
        if connection is None:
            return PortfolioLoad(await self.stored.positions(user_id))
        last = connection.last_synced_at
        try:
            result = await self.link.sync_if_stale(user_id, self.sync_interval_s)
        except BrokerageError as exc:
            positions = await self.stored.positions(user_id)
            if last is not None:
                note = f"{exc} These are the holdings of the last sync ({describe_time(last)})."
            else:
                note = f"{exc} Nothing was synced from the brokerage yet."
            return PortfolioLoad(
                positions, source="brokerage" if last else "holdings", note=note, synced_at=last
            )
        if result is None:  # synced moments ago (or by a concurrent call): the stored copy is current
            fresh = await self.link.connection(user_id)
            return PortfolioLoad(
                await self.stored.positions(user_id),
                source="brokerage",
                synced_at=fresh.last_synced_at if fresh else last,
            )
        if not result.accounts:
            return PortfolioLoad(
                await self.stored.positions(user_id),
                note="A SnapTrade user exists but no brokerage account is linked yet: the user should finish "
                "connecting in the SnapTrade window, then ask again.",
            )
        note = None
        if result.skipped:
            note = (
                "Left out of the brokerage positions: "
                + ", ".join(f"{n} {why}" for why, n in sorted(result.skipped.items()))
                + "."
            )
        return PortfolioLoad(result.positions, source="brokerage", note=note, synced_at=result.synced_at)
