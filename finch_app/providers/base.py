"""What the tools may ask of the outside world, as small Protocols.

The tools depend on these, never on a concrete source: the bundled sample data, the
live HTTP sources and the test fakes all fit behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from finch_app.providers.records import CongressTrade, DataSet, Quote, RedditTicker


class MarketData(Protocol):
    async def reddit_trending(self, limit: int) -> DataSet[RedditTicker]: ...

    async def senate_trades(self, limit: int) -> DataSet[CongressTrade]: ...

    async def house_trades(self, limit: int) -> DataSet[CongressTrade]: ...

    async def quotes(self, symbols: list[str]) -> DataSet[Quote]: ...


@dataclass(frozen=True)
class Position:
    """Shares of one security a user holds, with the average price paid."""

    symbol: str
    name: str
    shares: float
    cost_basis: float


class PortfolioSource(Protocol):
    async def positions(self, user_id: str) -> list[Position]: ...


@dataclass
class Providers:
    """The dependencies handed to every tool through `ToolContext.deps`."""

    market: MarketData
    portfolio: PortfolioSource
