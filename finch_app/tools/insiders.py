"""Insider-trading tools (SEC Form 4): the latest filings market-wide, one ticker, or a whole portfolio."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel

from finch_app.agent.resources import ResourceDraft
from finch_app.agent.tools import tool
from finch_app.formatting import count
from finch_app.providers.records import DataSet, InsiderTrade
from finch_app.tools._common import Clamped, Ctx, Provenance, Ticker, draft

PER_HOLDING = 25
CONCURRENT_LOOKUPS = 4


class InsiderRow(BaseModel):
    ticker: str
    company: str
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
    """"market", a ticker, or "portfolio"."""
    tickers: list[str]
    trades: list[InsiderRow]
    buys: int
    """Open-market purchases (code P): the strongest insider signal."""
    sells: int
    """Open-market sales (code S)."""
    provenance: list[Provenance]
    needs_auth: bool = False
    message: str | None = None

    def summary(self) -> str:
        if self.needs_auth:
            return "No holdings yet"
        lines = count(len(self.trades), "Form 4 line")
        return f"{lines} · {count(self.buys, 'buy')}, {count(self.sells, 'sell')}"

    def resource(self) -> ResourceDraft | None:
        if self.needs_auth:
            return None
        return insider_draft(self.scope, self.trades, self.provenance)


INSIDER_COLUMNS = [
    ("transaction_date", "Date", "date"),
    ("ticker", "Ticker", "ticker"),
    ("company", "Company", "text"),
    ("insider", "Insider", "text"),
    ("relationship", "Role", "text"),
    ("action", "Action", "text"),
    ("shares", "Shares", "number"),
    ("price", "Price", "money"),
    ("value", "Value", "money"),
    ("shares_owned_after", "Owned after", "number"),
    ("filing_url", "Filing", "link"),
]


def insider_draft(scope: str, trades: list[InsiderRow], provenance: list[Provenance]) -> ResourceDraft:
    title = {"market": "Latest insider trades", "portfolio": "Insider trades in your holdings"}.get(
        scope, f"Insider trades: {scope}"
    )
    return draft("insider_trades", title, INSIDER_COLUMNS, trades, provenance[0] if provenance else None)


def _row(trade: InsiderTrade) -> InsiderRow:
    value = trade.value
    return InsiderRow(
        ticker=trade.ticker,
        company=trade.company,
        insider=trade.insider,
        relationship=trade.relationship,
        transaction_date=trade.transaction_date,
        code=trade.code,
        action=trade.code_description,
        shares=trade.shares,
        price=trade.price,
        value=round(value, 2) if value is not None else None,
        acquired_disposed=trade.acquired_disposed,
        shares_owned_after=trade.shares_owned_after,
        filing_url=trade.filing_url,
    )


def _result(
    scope: str, tickers: list[str], trades: list[InsiderTrade], datasets: list[DataSet]
) -> InsiderResult:
    sources: dict[str, Provenance] = {}
    for data in datasets:
        sources.setdefault(data.source, Provenance.of(data))
    return InsiderResult(
        scope=scope,
        tickers=tickers,
        trades=[_row(t) for t in trades],
        buys=sum(1 for t in trades if t.code == "P"),
        sells=sum(1 for t in trades if t.code == "S"),
        provenance=list(sources.values()),
    )


def _newest_first(trades: list[InsiderTrade]) -> list[InsiderTrade]:
    return sorted(trades, key=lambda t: (t.transaction_date or date.min, t.ticker), reverse=True)


@tool
async def get_recent_insider_trades(ctx: Ctx, limit: Clamped(1, 100) = 20) -> InsiderResult:
    """The latest insider transactions filed with the SEC (Form 4) across all companies, newest first.

    Args:
        limit: How many transaction lines to return (at most 100).
    """
    deps = ctx.deps
    data = await deps.market.recent_insider_trades(limit)
    trades = list(data.rows)[:limit]
    return _result("market", sorted({t.ticker for t in trades}), trades, [data])


@tool
async def search_ticker_insider_activity(ctx: Ctx, ticker: Ticker) -> InsiderResult:
    """Recent insider transactions (Form 4: officers, directors, 10% owners) at one company.

    Args:
        ticker: Exchange ticker, e.g. "AAPL".
    """
    deps = ctx.deps
    data = await deps.market.insider_trades(ticker, 50)
    return _result(ticker, [ticker], _newest_first(list(data.rows)), [data])


@tool
async def get_portfolio_insider_activity(ctx: Ctx, days_back: Clamped(1, 365) = 90) -> InsiderResult:
    """Insider transactions (Form 4) at every company in the user's portfolio over the last days.

    Args:
        days_back: How many days back to look (at most 365).
    """
    deps = ctx.deps
    symbols = [p.symbol for p in await deps.portfolio.positions(ctx.user_id)]
    if not symbols:
        return InsiderResult(
            scope="portfolio",
            tickers=[],
            trades=[],
            buys=0,
            sells=0,
            provenance=[],
            needs_auth=True,
            message="No portfolio yet: the user needs to add holdings first.",
        )
    gate = asyncio.Semaphore(CONCURRENT_LOOKUPS)
    checked = 0
    found: list[InsiderTrade] = []
    await ctx.report_progress(f"0/{len(symbols)} tickers", 0.0)

    async def lookup(symbol: str) -> DataSet[InsiderTrade]:
        nonlocal checked
        async with gate:
            data = await deps.market.insider_trades(symbol, PER_HOLDING)
        checked += 1
        found.extend(data.rows)
        # The rows so far go out now, so the table fills in while other tickers are checked.
        await ctx.publish_rows(
            insider_draft("portfolio", [_row(t) for t in _newest_first(found)], [Provenance.of(data)])
        )
        await ctx.report_progress(f"{checked}/{len(symbols)} tickers", checked / len(symbols))
        return data

    datasets = await asyncio.gather(*(lookup(s) for s in symbols))
    newest = max((d.as_of for d in datasets), default=datetime.now(UTC))
    since = (newest - timedelta(days=days_back)).date()
    trades = [
        t for d in datasets for t in d.rows if t.transaction_date is None or t.transaction_date >= since
    ]
    return _result("portfolio", symbols, _newest_first(trades), list(datasets))
