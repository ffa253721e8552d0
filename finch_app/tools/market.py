"""Market tools: a stock quote, price history, and Reddit sentiment for one or several tickers."""

from __future__ import annotations

import asyncio
from datetime import date as date_
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from finch_app.agent.resources import ResourceDraft
from finch_app.agent.tools import ToolError, tool
from finch_app.formatting import count, date_span
from finch_app.providers.records import DataSet, PricePoint, RedditTicker
from finch_app.tools._common import Ctx, Provenance, Ticker, draft

PriceRange = Literal["5d", "1mo", "3mo", "6mo", "1y", "2y", "5y"]
RANGE_DAYS: dict[str, int] = {"5d": 7, "1mo": 31, "3mo": 92, "6mo": 183, "1y": 366, "2y": 731, "5y": 1827}
COVERAGE_SLACK_DAYS = 10
"""Weekends, holidays and a source's lag: data this much shorter than the range still covers it."""


def short_of(range_: str, first: date_, last: date_) -> bool:
    """Whether closes from `first` to `last` cover less than the range asked for."""
    return (last - first).days + COVERAGE_SLACK_DAYS < RANGE_DAYS[range_]


class QuoteResult(BaseModel):
    symbol: str
    price: float
    previous_close: float | None
    change: float | None
    change_pct: float | None
    """Change since the previous close, in percent."""
    currency: str
    as_of: datetime
    provenance: Provenance

    def summary(self) -> str:
        change = f" ({self.change_pct:+.2f}%)" if self.change_pct is not None else ""
        return f"{self.symbol} {self.price:,.2f} {self.currency}{change}"

    def resource(self) -> ResourceDraft:
        columns = [
            ("symbol", "Ticker", "ticker"),
            ("price", "Price", "money"),
            ("previous_close", "Previous close", "money"),
            ("change", "Change", "money"),
            ("change_pct", "Change %", "percent"),
            ("as_of", "As of", "date"),
        ]
        row = self.model_dump(mode="json", exclude={"provenance"})
        return draft("quote", f"Quote: {self.symbol}", columns, [row], self.provenance)


@tool
async def get_stock_quote(ctx: Ctx, ticker: Ticker) -> QuoteResult:
    """The latest price of a stock or ETF and its change since the previous close.

    Args:
        ticker: Exchange ticker, e.g. "AAPL".
    """
    deps = ctx.deps
    data = await deps.market.quotes([ticker])
    quote = next((q for q in data.rows if q.symbol == ticker), None)
    if quote is None:
        raise ToolError(f"Ticker {ticker} not found: {data.source} has no quote for it. Check the symbol.")
    change = quote.price - quote.previous_close if quote.previous_close else None
    return QuoteResult(
        symbol=quote.symbol,
        price=quote.price,
        previous_close=quote.previous_close,
        change=round(change, 4) if change is not None else None,
        change_pct=round(change / quote.previous_close * 100, 2)
        if change is not None and quote.previous_close
        else None,
        currency=quote.currency,
        as_of=quote.as_of,
        provenance=Provenance.of(data),
    )


class HistoryResult(BaseModel):
    symbol: str
    range: str
    """The period asked for."""
    covers: str
    """The days the closes actually cover, e.g. "Aug 28 – Nov 20, 2026"."""
    short_of_range: bool
    """The data covers less than the period asked for: say what it covers, and measure from its first day."""
    points: list[PricePoint]
    first_close: float | None
    last_close: float | None
    change_pct: float | None
    """From the first close to the last: over `covers`, not over `range` when the data is shorter."""
    high: float | None
    low: float | None
    provenance: Provenance

    def summary(self) -> str:
        change = f" · {self.change_pct:+.1f}%" if self.change_pct is not None else ""
        asked = f", less than the {self.range} asked" if self.short_of_range else ""
        return f"{self.symbol} · {count(len(self.points), 'daily close')}, {self.covers}{asked}{change}"

    def resource(self) -> ResourceDraft:
        title = (
            f"{self.symbol} price history, {self.covers}"
            if self.short_of_range
            else f"{self.symbol} price history ({self.range})"
        )
        columns = [("date", "Date", "date"), ("close", "Close", "money")]
        return draft("price_history", title, columns, self.points, self.provenance, chart="price_line")


@tool
async def get_price_history(ctx: Ctx, ticker: Ticker, range: PriceRange = "3mo") -> HistoryResult:  # noqa: A002
    """Daily closing prices of a stock or ETF over a period, with its change, high and low.

    Args:
        ticker: Exchange ticker, e.g. "NVDA".
        range: The period: 5d, 1mo, 3mo, 6mo, 1y, 2y or 5y.
    """
    deps = ctx.deps
    data = await deps.market.price_history(ticker, RANGE_DAYS[range])
    points = list(data.rows)
    if not points:
        raise ToolError(f"Ticker {ticker} not found: {data.source} has no price history for it.")
    closes = [p.close for p in points]
    first, last = points[0].date, points[-1].date
    return HistoryResult(
        symbol=ticker,
        range=range,
        covers=date_span(first, last),
        short_of_range=short_of(range, first, last),
        points=points,
        first_close=closes[0],
        last_close=closes[-1],
        change_pct=round((closes[-1] / closes[0] - 1) * 100, 2) if closes[0] else None,
        high=max(closes),
        low=min(closes),
        provenance=Provenance.of(data),
    )


class SentimentResult(BaseModel):
    ticker: str
    found: bool
    """False when the ticker is not among the tickers Reddit is ranking: little or no chatter."""
    rank: int | None = None
    name: str | None = None
    mentions: int | None = None
    upvotes: int | None = None
    rank_24h_ago: int | None = None
    mentions_24h_ago: int | None = None
    mentions_change_pct: float | None = None
    provenance: Provenance

    def summary(self) -> str:
        if not self.found:
            return f"{self.ticker}: not among Reddit's ranked tickers"
        return f"{self.ticker} #{self.rank} · {self.mentions:,} mentions"

    def resource(self) -> ResourceDraft:
        return sentiment_draft([self], f"Reddit sentiment: {self.ticker}", self.provenance)


SENTIMENT_COLUMNS = [
    ("ticker", "Ticker", "ticker"),
    ("rank", "Rank", "int"),
    ("name", "Name", "text"),
    ("mentions", "Mentions (24 h)", "int"),
    ("mentions_change_pct", "Change", "percent"),
    ("upvotes", "Upvotes", "int"),
    ("rank_24h_ago", "Rank a day ago", "int"),
]


def sentiment_draft(rows: list[SentimentResult], title: str, provenance: Provenance | None) -> ResourceDraft:
    plain = [r.model_dump(mode="json", exclude={"provenance", "found"}) for r in rows]
    return draft("reddit_sentiment", title, SENTIMENT_COLUMNS, plain, provenance, chart="mentions_bars")


def _sentiment(ticker: str, data: DataSet[RedditTicker]) -> SentimentResult:
    row = next((r for r in data.rows if r.ticker.upper() == ticker), None)
    if row is None:
        return SentimentResult(ticker=ticker, found=False, provenance=Provenance.of(data))
    change = row.mentions_change_pct
    return SentimentResult(
        ticker=ticker,
        found=True,
        rank=row.rank,
        name=row.name,
        mentions=row.mentions,
        upvotes=row.upvotes,
        rank_24h_ago=row.rank_24h_ago,
        mentions_24h_ago=row.mentions_24h_ago,
        mentions_change_pct=round(change, 1) if change is not None else None,
        provenance=Provenance.of(data),
    )


@tool
async def get_reddit_ticker_sentiment(ctx: Ctx, ticker: Ticker) -> SentimentResult:
    """How much Reddit talks about one ticker: its rank, mentions and upvotes over the last 24 hours
    and the change from the day before.

    Args:
        ticker: Exchange ticker, e.g. "GME".
    """
    deps = ctx.deps
    return _sentiment(ticker, await deps.market.ticker_buzz(ticker))


class SentimentComparison(BaseModel):
    tickers: list[SentimentResult]
    most_discussed: str | None
    provenance: list[Provenance]

    def summary(self) -> str:
        found = sum(1 for t in self.tickers if t.found)
        lead = f" · most discussed {self.most_discussed}" if self.most_discussed else ""
        return f"{count(len(self.tickers), 'ticker')}, {found} ranked{lead}"

    def resource(self) -> ResourceDraft:
        title = "Reddit sentiment: " + ", ".join(t.ticker for t in self.tickers)
        return sentiment_draft(self.tickers, title, self.provenance[0] if self.provenance else None)


@tool
async def compare_reddit_sentiment(
    ctx: Ctx, tickers: Annotated[list[Ticker], Field(min_length=2, max_length=10)]
) -> SentimentComparison:
    """Compare Reddit attention for 2 to 10 tickers side by side: rank, mentions, upvotes, 24 h change.

    Args:
        tickers: Exchange tickers to compare, e.g. ["AMD", "NVDA"].
    """
    deps = ctx.deps
    symbols = list(dict.fromkeys(tickers))
    await ctx.report_progress(f"Looking up {len(symbols)} tickers on Reddit…")
    results = await asyncio.gather(*(deps.market.ticker_buzz(s) for s in symbols))
    rows = [_sentiment(s, data) for s, data in zip(symbols, results, strict=True)]
    ranked = [r for r in rows if r.found and r.mentions is not None]
    top = max(ranked, key=lambda r: r.mentions or 0, default=None)
    sources = {r.provenance.source: r.provenance for r in rows}
    return SentimentComparison(
        tickers=rows, most_discussed=top.ticker if top else None, provenance=list(sources.values())
    )
