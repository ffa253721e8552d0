"""The congressional trading tools: recent Senate and House periodic transaction reports."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from finch_app.agent.resources import ResourceDraft
from finch_app.agent.tools import tool
from finch_app.formatting import count
from finch_app.providers.records import CongressTrade, DataSet
from finch_app.tools._common import Clamped, Ctx, Provenance, draft


class TradeRow(BaseModel):
    member: str
    transaction_date: date | None
    disclosure_date: date | None
    ticker: str | None
    asset: str
    type: str
    amount: str
    owner: str | None
    district: str | None


class TradesResult(BaseModel):
    chamber: Literal["senate", "house"]
    trades: list[TradeRow]
    provenance: Provenance

    def summary(self) -> str:
        if not self.trades:
            return "No trades"
        latest = max((t.transaction_date for t in self.trades if t.transaction_date), default=None)
        suffix = f" · latest {latest:%b %d, %Y}" if latest else ""
        return f"{count(len(self.trades), 'trade')}{suffix}"

    def resource(self) -> ResourceDraft:
        columns = [
            ("transaction_date", "Traded", "date"),
            ("member", "Member", "text"),
            ("district", "District", "text"),
            ("ticker", "Ticker", "ticker"),
            ("asset", "Asset", "text"),
            ("type", "Type", "text"),
            ("amount", "Amount", "range"),
            ("owner", "Owner", "text"),
            ("disclosure_date", "Disclosed", "date"),
        ]
        title = "Recent Senate trades" if self.chamber == "senate" else "Recent House trades"
        return draft(
            f"{self.chamber}_trades", title, columns, self.trades, self.provenance, chart="trades_per_week"
        )


def _result(chamber: Literal["senate", "house"], data: DataSet[CongressTrade], limit: int) -> TradesResult:
    rows = [
        TradeRow(
            member=t.member,
            transaction_date=t.transaction_date,
            disclosure_date=t.disclosure_date,
            ticker=t.ticker,
            asset=t.asset_description,
            type=t.transaction_type,
            amount=t.amount,
            owner=t.owner,
            district=t.district,
        )
        for t in data.rows[:limit]
    ]
    return TradesResult(chamber=chamber, trades=rows, provenance=Provenance.of(data))


@tool
async def get_recent_senate_trades(ctx: Ctx, limit: Clamped(1, 100) = 20) -> TradesResult:
    """Recent stock trades disclosed by U.S. senators, newest first.

    Args:
        limit: How many trades to return (at most 100).
    """
    deps = ctx.deps
    await ctx.report_progress("Reading Senate periodic transaction reports…")
    return _result("senate", await deps.market.senate_trades(limit), limit)


@tool
async def get_recent_house_trades(ctx: Ctx, limit: Clamped(1, 100) = 20) -> TradesResult:
    """Recent stock trades disclosed by members of the U.S. House of Representatives, newest first.

    Args:
        limit: How many trades to return (at most 100).
    """
    deps = ctx.deps
    await ctx.report_progress("Reading House periodic transaction reports…")
    return _result("house", await deps.market.house_trades(limit), limit)
