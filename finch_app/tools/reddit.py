"""The `get_reddit_trending_stocks` tool: what retail investors talk about most on Reddit."""

from __future__ import annotations

from pydantic import BaseModel

from finch_app.agent.resources import ResourceDraft
from finch_app.agent.tools import tool
from finch_app.formatting import count
from finch_app.tools._common import Clamped, Ctx, Provenance, draft


class TrendingRow(BaseModel):
    rank: int
    ticker: str
    name: str
    mentions: int
    upvotes: int
    rank_24h_ago: int | None
    mentions_change_pct: float | None
    """Change in mentions over the last 24 hours, in percent."""


class TrendingResult(BaseModel):
    tickers: list[TrendingRow]
    provenance: Provenance

    def summary(self) -> str:
        if not self.tickers:
            return "No tickers"
        return f"Top {count(len(self.tickers), 'ticker')} · #1 {self.tickers[0].ticker}"

    def resource(self) -> ResourceDraft:
        columns = [
            ("rank", "Rank", "int"),
            ("ticker", "Ticker", "ticker"),
            ("name", "Name", "text"),
            ("mentions", "Mentions (24 h)", "int"),
            ("mentions_change_pct", "Change", "percent"),
            ("upvotes", "Upvotes", "int"),
            ("rank_24h_ago", "Rank a day ago", "int"),
        ]
        return draft(
            "reddit_trending",
            "Trending on Reddit",
            columns,
            self.tickers,
            self.provenance,
            chart="mentions_bars",
        )


@tool
async def get_reddit_trending_stocks(ctx: Ctx, limit: Clamped(1, 50) = 10) -> TrendingResult:
    """Stocks with the most Reddit mentions in the last 24 hours (r/wallstreetbets, r/stocks and more).

    Args:
        limit: How many tickers to return, most mentioned first (at most 50).
    """
    deps = ctx.deps
    await ctx.report_progress("Asking ApeWisdom for Reddit mentions…")
    data = await deps.market.reddit_trending(limit)
    rows = [
        TrendingRow(
            rank=t.rank,
            ticker=t.ticker,
            name=t.name,
            mentions=t.mentions,
            upvotes=t.upvotes,
            rank_24h_ago=t.rank_24h_ago,
            mentions_change_pct=round(t.mentions_change_pct, 1)
            if t.mentions_change_pct is not None
            else None,
        )
        for t in data.rows[:limit]
    ]
    return TrendingResult(tickers=rows, provenance=Provenance.of(data))
