"""Market tools: quotes, price history, one ticker's Reddit buzz, and a side-by-side comparison."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from finch_app.agent.tools import ToolContext, tool
from finch_app.providers.base import Providers
from finch_app.providers.records import DataSet, PricePoint, RedditTicker
from finch_app.tools._common import Provenance

Ticker = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^\$?[A-Za-z][A-Za-z0-9.\-]{0,9}$")]


def _symbol(raw: str) -> str:
    return raw.lstrip("$").upper()


class QuoteRow(BaseModel):
    symbol: str
    price: float
    change_pct: float | None
    """Change since the previous close, in percent."""
    currency: str
    as_of: datetime


class QuotesResult(BaseModel):
    quotes: list[QuoteRow]
    missing: list[str]
    """Symbols the source did not know."""
    provenance: Provenance

    def summary(self) -> str:
        shown = ", ".join(f"{q.symbol} {q.price:,.2f}" for q in self.quotes[:3])
        more = f" +{len(self.quotes) - 3} more" if len(self.quotes) > 3 else ""
        missing = f" · unknown: {', '.join(self.missing)}" if self.missing else ""
        return (shown + more or "No quotes") + missing


@tool
async def get_quote(ctx: ToolContext, symbols: Annotated[list[Ticker], Field(min_length=1, max_length=20)]) -> QuotesResult:
    """Latest price and day change for one or more tickers.

    Args:
        symbols: Exchange tickers, e.g. ["AAPL", "MSFT"].
    """
    deps: Providers = ctx.deps
    wanted = list(dict.fromkeys(_symbol(s) for s in symbols))
    data = await deps.market.quotes(wanted)
    rows = [
        QuoteRow(
            symbol=q.symbol,
            price=q.price,
            change_pct=round((q.price / q.previous_close - 1) * 100, 2) if q.previous_close else None,
            currency=q.currency,
            as_of=q.as_of,
        )
        for q in data.rows
    ]
    found = {r.symbol for r in rows}
    return QuotesResult(quotes=rows, missing=[s for s in wanted if s not in found], provenance=Provenance.of(data))


class HistoryResult(BaseModel):
    symbol: str
    days: int
    points: list[PricePoint]
    first_close: float | None
    last_close: float | None
    change_pct: float | None
    high: float | None
    low: float | None
    provenance: Provenance

    def summary(self) -> str:
        if not self.points:
            return f"No price history for {self.symbol}"
        change = f" · {self.change_pct:+.1f}%" if self.change_pct is not None else ""
        return f"{self.symbol} · {len(self.points)} closes{change}"


def _history(symbol: str, days: int, data: DataSet[PricePoint]) -> HistoryResult:
    points = list(data.rows)
    closes = [p.close for p in points]
    first, last = (closes[0], closes[-1]) if closes else (None, None)
    return HistoryResult(
        symbol=symbol,
        days=days,
        points=points,
        first_close=first,
        last_close=last,
        change_pct=round((last / first - 1) * 100, 2) if first and last else None,
        high=max(closes) if closes else None,
        low=min(closes) if closes else None,
        provenance=Provenance.of(data),
    )


@tool
async def get_price_history(
    ctx: ToolContext, symbol: Ticker, days: Annotated[int, Field(ge=5, le=1825)] = 90
) -> HistoryResult:
    """Daily closing prices of a ticker over the last `days` calendar days, with change, high and low.

    Args:
        symbol: Exchange ticker, e.g. "NVDA".
        days: Look-back window in calendar days (5 to 1825).
    """
    deps: Providers = ctx.deps
    symbol = _symbol(symbol)
    return _history(symbol, days, await deps.market.price_history(symbol, days))


class BuzzResult(BaseModel):
    ticker: str
    found: bool
    rank: int | None = None
    name: str | None = None
    mentions: int | None = None
    upvotes: int | None = None
    rank_24h_ago: int | None = None
    mentions_change_pct: float | None = None
    provenance: Provenance

    def summary(self) -> str:
        if not self.found:
            return f"{self.ticker} is not among Reddit's ranked tickers"
        return f"{self.ticker} #{self.rank} · {self.mentions:,} mentions"


def _buzz(ticker: str, data: DataSet[RedditTicker]) -> BuzzResult:
    row = next((r for r in data.rows if r.ticker.upper() == ticker), None)
    if row is None:
        return BuzzResult(ticker=ticker, found=False, provenance=Provenance.of(data))
    change = row.mentions_change_pct
    return BuzzResult(
        ticker=ticker,
        found=True,
        rank=row.rank,
        name=row.name,
        mentions=row.mentions,
        upvotes=row.upvotes,
        rank_24h_ago=row.rank_24h_ago,
        mentions_change_pct=round(change, 1) if change is not None else None,
        provenance=Provenance.of(data),
    )


@tool
async def get_ticker_buzz(ctx: ToolContext, ticker: Ticker) -> BuzzResult:
    """How much Reddit talks about one ticker: its rank, mentions and upvotes over the last 24 hours.

    Args:
        ticker: Exchange ticker, e.g. "GME".
    """
    deps: Providers = ctx.deps
    ticker = _symbol(ticker)
    return _buzz(ticker, await deps.market.ticker_buzz(ticker))


class ComparisonRow(BaseModel):
    symbol: str
    price: float | None
    day_change_pct: float | None
    change_30d_pct: float | None
    high_30d: float | None
    low_30d: float | None
    reddit_rank: int | None
    reddit_mentions: int | None


class ComparisonResult(BaseModel):
    rows: list[ComparisonRow]
    provenance: list[Provenance]

    def summary(self) -> str:
        best = max((r for r in self.rows if r.change_30d_pct is not None), key=lambda r: r.change_30d_pct or 0, default=None)
        lead = f" · 30 d leader {best.symbol} {best.change_30d_pct:+.1f}%" if best else ""
        return f"{len(self.rows)} tickers compared{lead}"


@tool
async def compare_tickers(
    ctx: ToolContext, tickers: Annotated[list[Ticker], Field(min_length=2, max_length=6)]
) -> ComparisonResult:
    """Side-by-side comparison of 2 to 6 tickers: price, day change, 30-day change and range, Reddit rank.

    Args:
        tickers: Exchange tickers to compare, e.g. ["AMD", "NVDA"].
    """
    deps: Providers = ctx.deps
    symbols = list(dict.fromkeys(_symbol(t) for t in tickers))
    await ctx.report_progress(f"Fetching quotes, 30-day history and Reddit buzz for {len(symbols)} tickers…")
    quotes, histories, buzz = await asyncio.gather(
        deps.market.quotes(symbols),
        asyncio.gather(*(deps.market.price_history(s, 30) for s in symbols)),
        asyncio.gather(*(deps.market.ticker_buzz(s) for s in symbols)),
    )
    by_symbol = {q.symbol: q for q in quotes.rows}
    rows = []
    for symbol, history, mentions in zip(symbols, histories, buzz, strict=True):
        quote = by_symbol.get(symbol)
        summary = _history(symbol, 30, history)
        reddit = _buzz(symbol, mentions)
        rows.append(
            ComparisonRow(
                symbol=symbol,
                price=quote.price if quote else summary.last_close,
                day_change_pct=round((quote.price / quote.previous_close - 1) * 100, 2)
                if quote and quote.previous_close
                else None,
                change_30d_pct=summary.change_pct,
                high_30d=summary.high,
                low_30d=summary.low,
                reddit_rank=reddit.rank,
                reddit_mentions=reddit.mentions,
            )
        )
    sources = {Provenance.of(quotes).source: Provenance.of(quotes)}
    for data in (*histories, *buzz):
        sources.setdefault(data.source, Provenance.of(data))
    return ComparisonResult(rows=rows, provenance=list(sources.values()))

