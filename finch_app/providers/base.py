"""What the tools may ask of the outside world, as small Protocols.

The tools depend on these, never on a concrete source: the bundled sample data, the
live HTTP sources and the test fakes all fit behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from finch_app.agent.tools import ToolError
from finch_app.providers.records import (
    CongressTrade,
    DataSet,
    InsiderTrade,
    PricePoint,
    Quote,
    RedditTicker,
)


class DataUnavailable(ToolError):
    """A data source could not answer: unreachable, failing, rate-limiting or not configured.

    The message is for the person asking, in plain words naming the source ("Couldn't reach
    ApeWisdom"); what the network said ("[Errno -2] Name or service not known") is `detail`, for
    the log. How to fix a setup problem is the operator's business (README, settings page).
    """

    def __init__(self, source: str, message: str, *, reason: str | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.source = source
        self.reason = reason or f"Couldn't reach {source}"
        """Why a fallback shows other data, as the start of its note: "Couldn't reach SEC EDGAR —
        showing the copy from 2 h ago", "Live SEC data is off on this server — showing sample data"."""
        self.detail = detail
        """The technical cause, for the log only."""


class MarketData(Protocol):
    """Market data with provenance: every answer is a `DataSet` saying where and when it is from.

    Implementations raise `DataUnavailable` when they cannot answer at all; a ticker a
    source does not know is not an error but an empty (or shorter) `rows`.
    """

    async def reddit_trending(self, limit: int) -> DataSet[RedditTicker]:
        """The most-mentioned tickers on Reddit, most mentioned first."""
        ...

    async def ticker_buzz(self, ticker: str) -> DataSet[RedditTicker]:
        """One ticker's Reddit ranking row; no rows when it is not among the ranked tickers."""
        ...

    async def senate_trades(self, limit: int) -> DataSet[CongressTrade]:
        """Senators' periodic transaction reports, newest transaction first."""
        ...

    async def house_trades(self, limit: int) -> DataSet[CongressTrade]:
        """Representatives' periodic transaction reports, newest transaction first."""
        ...

    async def quotes(self, symbols: list[str]) -> DataSet[Quote]:
        """Latest quotes in the order asked (duplicates dropped); unknown symbols are absent."""
        ...

    async def price_history(self, symbol: str, days: int) -> DataSet[PricePoint]:
        """Daily closes, oldest first, of the last `days` calendar days; empty for an unknown symbol."""
        ...

    async def insider_trades(self, ticker: str, limit: int) -> DataSet[InsiderTrade]:
        """Form 4 transactions of the company's insiders, newest filing first; empty for an unknown ticker."""
        ...

    async def recent_insider_trades(self, limit: int) -> DataSet[InsiderTrade]:
        """The latest Form 4 transactions filed with the SEC across all companies, newest filing first.

        At most `limit` rows; one filing may hold several rows (each with its own ticker).
        """
        ...


@dataclass(frozen=True)
class Position:
    """Shares of one security a user holds, with the average price paid."""

    symbol: str
    name: str
    shares: float
    cost_basis: float


class PortfolioSource(Protocol):
    async def positions(self, user_id: str) -> list[Position]: ...


@dataclass(frozen=True)
class PortfolioLoad:
    """A user's positions with where they came from (a source may offer `load(user_id)`)."""

    positions: list[Position]
    source: str = "holdings"
    """"holdings" (entered, imported, demo) or "brokerage" (synced from a linked brokerage)."""
    note: str | None = None
    """Something the user should know, e.g. the brokerage could not be reached and these are the last sync's."""
    synced_at: datetime | None = None
    """With source "brokerage": when the positions were pulled."""


async def load_portfolio(source: PortfolioSource, user_id: str) -> PortfolioLoad:
    """`source.load(user_id)` when the source offers it, else its bare positions."""
    load = getattr(source, "load", None)
    if load is not None:
        return await load(user_id)
    return PortfolioLoad(await source.positions(user_id))


class HoldingsStore(Protocol):
    """Where a user's own holdings are kept, to change them (the tools that change data use it)."""

    async def list(self, user_id: str) -> list[Position]: ...

    async def save(self, user_id: str, positions: list[Position], *, replace: bool = False) -> None: ...

    async def remove(self, user_id: str, symbol: str) -> None: ...


@dataclass
class Providers:
    """The dependencies handed to every tool through `ToolContext.deps`."""

    market: MarketData
    portfolio: PortfolioSource
    brokerage_available: bool = False
    """True when a brokerage can be linked (SnapTrade credentials are configured)."""
    holdings: HoldingsStore | None = None
    """The user's own holdings, to change (None: this Finch cannot change them)."""
