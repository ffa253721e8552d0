"""The insider-trading tool: SEC Form 4 transactions for a ticker or for every holding."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field

from finch_app.agent.tools import ToolContext, tool
from finch_app.providers.base import Providers
from finch_app.providers.records import DataSet, InsiderTrade
from finch_app.tools._common import Provenance
from finch_app.tools.market import Ticker, _symbol

PER_HOLDING = 5
CONCURRENT_LOOKUPS = 4


class InsiderRow(BaseModel):
    ticker: str
    insider: str
    relationship: str
    transaction_date: date | None
    code: str
    action: str
    """Plain words for the Form 4 code: "Open-market purchase", "Sale", "Award"…"""
    shares: float | None
    price: float | None
    value: float | None
    acquired_disposed: str | None
    shares_owned_after: float | None
    filing_url: str | None


class InsiderResult(BaseModel):
    scope: str
    """The ticker asked about, or "portfolio"."""
    tickers: list[str]
    trades: list[InsiderRow]
    buys: int
    sells: int
    provenance: list[Provenance]
    needs_auth: bool = False
    message: str | None = None

    def summary(self) -> str:
        if self.needs_auth:
            return "No holdings yet"
        return f"{len(self.trades)} Form 4 lines · {self.buys} buys, {self.sells} sells"


def _row(trade: InsiderTrade) -> InsiderRow:
    return InsiderRow(
        ticker=trade.ticker,
        insider=trade.insider,
        relationship=trade.relationship,
        transaction_date=trade.transaction_date,
        code=trade.code,
        action=trade.code_description,
        shares=trade.shares,
        price=trade.price,
        value=round(trade.value, 2) if trade.value is not None else None,
        acquired_disposed=trade.acquired_disposed,
        shares_owned_after=trade.shares_owned_after,
        filing_url=trade.filing_url,
    )


@tool
async def get_insider_trades(
    ctx: ToolContext,
    ticker: Ticker | None = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
) -> InsiderResult:
    """Recent insider transactions (SEC Form 4: officers, directors, 10% owners) for a ticker, or,
    with no ticker, for every holding in the user's portfolio.

    Args:
        ticker: Exchange ticker, e.g. "AAPL". Leave out to cover the whole portfolio.
        limit: Most transaction lines to return, newest first.
    """
    deps: Providers = ctx.deps
    if ticker:
        symbols = [_symbol(ticker)]
    else:
        symbols = [p.symbol for p in await deps.portfolio.positions(ctx.user_id)]
        if not symbols:
            return InsiderResult(
                scope="portfolio", tickers=[], trades=[], buys=0, sells=0, provenance=[], needs_auth=True,
                message="No portfolio yet: the user needs to add holdings first.",
            )
    gate = asyncio.Semaphore(CONCURRENT_LOOKUPS)
    done = 0

    async def lookup(symbol: str) -> DataSet[InsiderTrade]:
        nonlocal done
        async with gate:
            data = await deps.market.insider_trades(symbol, limit if ticker else PER_HOLDING)
        done += 1
        if len(symbols) > 1:
            await ctx.report_progress(f"Checked {done} of {len(symbols)} holdings ({symbol})", done / len(symbols))
        return data

    if len(symbols) > 1:
        await ctx.report_progress(f"Checking Form 4 filings for {len(symbols)} holdings…", 0.0)
    results = await asyncio.gather(*(lookup(s) for s in symbols))
    trades = sorted(
        (t for data in results for t in data.rows),
        key=lambda t: (t.transaction_date or date.min, t.ticker),
        reverse=True,
    )[:limit]
    sources: dict[str, Provenance] = {}
    for data in results:
        sources.setdefault(data.source, Provenance.of(data))
    return InsiderResult(
        scope=symbols[0] if ticker else "portfolio",
        tickers=symbols,
        trades=[_row(t) for t in trades],
        buys=sum(1 for t in trades if t.code == "P"),
        sells=sum(1 for t in trades if t.code == "S"),
        provenance=list(sources.values()),
    )
