"""The `get_portfolio` tool: the user's positions valued with current quotes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from finch_app.agent.resources import ResourceDraft
from finch_app.agent.tools import tool
from finch_app.formatting import count, money
from finch_app.providers.base import load_portfolio
from finch_app.tools._common import Ctx, Provenance, draft


class HoldingRow(BaseModel):
    symbol: str
    name: str
    shares: float
    cost_basis: float
    """Average price paid per share."""
    price: float | None
    """Latest price; None when no quote was available."""
    value: float | None
    gain: float | None
    gain_pct: float | None
    day_change_pct: float | None
    weight_pct: float | None
    """Share of the portfolio's total value."""


class PortfolioResult(BaseModel):
    needs_auth: bool = False
    message: str | None = None
    source: str = "holdings"
    """Where the positions come from: "holdings" (entered, imported, demo) or "brokerage" (synced)."""
    synced_at: datetime | None = None
    """With source "brokerage": when the positions were pulled from it."""
    brokerage_available: bool = False
    """Whether this Finch can link a brokerage (SnapTrade is configured)."""
    holdings: list[HoldingRow] = []
    total_value: float = 0.0
    total_cost: float = 0.0
    total_gain: float = 0.0
    total_gain_pct: float | None = None
    provenance: Provenance | None = None

    def summary(self) -> str:
        if self.needs_auth:
            return "No holdings yet"
        return f"{count(len(self.holdings), 'holding')} · {money(self.total_value, cents=False)}"

    def resource(self) -> ResourceDraft | None:
        if self.needs_auth:
            return None
        columns = [
            ("symbol", "Symbol", "ticker"),
            ("name", "Name", "text"),
            ("shares", "Shares", "number"),
            ("cost_basis", "Avg cost", "money"),
            ("price", "Price", "money"),
            ("value", "Value", "money"),
            ("gain", "Gain", "money"),
            ("gain_pct", "Gain %", "percent"),
            ("day_change_pct", "Day %", "percent"),
            ("weight_pct", "Weight", "share"),
        ]
        return draft("holdings", "Your holdings", columns, self.holdings, self.provenance, chart="allocation")


@tool
async def get_portfolio(ctx: Ctx) -> PortfolioResult:
    """The user's current holdings with shares, cost basis, latest price, value, gain and weight.

    Use it whenever the user asks about their portfolio, holdings, positions or performance.
    """
    deps = ctx.deps
    await ctx.report_progress("Loading your holdings…", 0.1)
    loaded = await load_portfolio(deps.portfolio, ctx.user_id)
    positions = loaded.positions
    if not positions:
        ways = (
            "add holdings, import a broker CSV, load the demo portfolio, or connect a brokerage (SnapTrade)"
            if deps.brokerage_available
            else "add holdings, import a broker CSV, or load the demo portfolio (brokerage linking is not configured on this Finch)"
        )
        return PortfolioResult(
            needs_auth=True,
            message=" ".join(
                filter(None, [loaded.note, f"No portfolio yet: the user can {ways}, then ask again."])
            ),
            brokerage_available=deps.brokerage_available,
        )
    await ctx.report_progress(f"Pricing {len(positions)} holdings…", 0.4)
    quotes = await deps.market.quotes([p.symbol for p in positions])
    by_symbol = {q.symbol: q for q in quotes.rows}
    rows: list[HoldingRow] = []
    for position in positions:
        quote = by_symbol.get(position.symbol)
        price = quote.price if quote else None
        value = price * position.shares if price is not None else None
        cost = position.cost_basis * position.shares
        day = (quote.price / quote.previous_close - 1) * 100 if quote and quote.previous_close else None
        rows.append(
            HoldingRow(
                symbol=position.symbol,
                name=position.name,
                shares=position.shares,
                cost_basis=position.cost_basis,
                price=price,
                value=round(value, 2) if value is not None else None,
                gain=round(value - cost, 2) if value is not None else None,
                gain_pct=round((value / cost - 1) * 100, 2) if value is not None and cost else None,
                day_change_pct=round(day, 2) if day is not None else None,
                weight_pct=None,
            )
        )
    total_value = sum(r.value for r in rows if r.value is not None)
    total_cost = sum(r.cost_basis * r.shares for r in rows if r.value is not None)
    rows = [
        r.model_copy(update={"weight_pct": round(r.value / total_value * 100, 2)})
        if r.value is not None and total_value
        else r
        for r in rows
    ]
    rows.sort(key=lambda r: r.value or 0.0, reverse=True)
    return PortfolioResult(
        holdings=rows,
        total_value=round(total_value, 2),
        total_cost=round(total_cost, 2),
        total_gain=round(total_value - total_cost, 2),
        total_gain_pct=round((total_value / total_cost - 1) * 100, 2) if total_cost else None,
        provenance=Provenance.of(quotes),
        message=loaded.note,
        source=loaded.source,
        synced_at=loaded.synced_at,
        brokerage_available=deps.brokerage_available,
    )


class BrokerageConnectionResult(BaseModel):
    needs_auth: bool = True
    brokerage_available: bool
    """Whether this Finch can link a brokerage account (SnapTrade is configured)."""
    message: str


@tool
async def request_brokerage_connection(ctx: Ctx) -> BrokerageConnectionResult:
    """Offer the user a way to give Finch their portfolio: connect a brokerage account (when available),
    add holdings by hand, import a broker CSV export, or load a demo portfolio.

    Use it when the user asks to link or connect their broker or account.
    """
    deps = ctx.deps
    if deps.brokerage_available:
        message = (
            "The user can connect a brokerage account (opens SnapTrade), or add holdings or import a CSV."
        )
    else:
        message = (
            "Brokerage linking is not configured on this Finch; the user can add holdings, "
            "import a broker CSV export, or load the demo portfolio."
        )
    return BrokerageConnectionResult(brokerage_available=deps.brokerage_available, message=message)
