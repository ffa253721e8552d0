"""Tools that change the user's holdings: add, change, remove a holding, or record a trade.

Each is marked `changes_data`, so it runs only after the user approves the call (the card says
the change in plain words). Holdings synced from a linked brokerage are the brokerage's: these
tools refuse to change them and say where to do it.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from finch_app.agent.tools import ToolError, tool
from finch_app.formatting import money
from finch_app.formatting import shares as shares_text
from finch_app.providers.base import Position, load_portfolio
from finch_app.providers.portfolio import HoldingError, validate_position
from finch_app.tools._common import Ctx, Ticker

Shares = Annotated[float, Field(gt=0, allow_inf_nan=False, description="Number of shares, more than 0")]
Price = Annotated[float, Field(gt=0, allow_inf_nan=False, description="Price per share in USD")]


class HoldingChange(BaseModel):
    """What a change did to one holding."""

    symbol: str
    action: str
    """"added", "changed", "removed", "bought" or "sold"."""
    shares_before: float
    shares_after: float
    cost_basis_after: float | None
    message: str

    def summary(self) -> str:
        return f"{self.symbol}: {shares_text(self.shares_before)} → {shares_text(self.shares_after)} shares"


class HoldingRefused(ToolError):
    """The change cannot be made; the message says why, for the user and the model."""


def _at(price: float | None) -> str:
    return f" at {money(price)}" if price is not None else ""


def _shares(count: float) -> str:
    """ "1 share", "10 shares", "2.5 shares"."""
    return f"{shares_text(count)} share{'' if count == 1 else 's'}"


def _day(value: date) -> str:
    return f"{value:%b} {value.day}, {value.year}"


async def _holdings(ctx: Ctx) -> dict[str, Position]:
    deps = ctx.deps
    if deps.holdings is None:
        raise HoldingRefused("Holdings cannot be changed on this Finch.")
    loaded = await load_portfolio(deps.portfolio, ctx.user_id)
    if loaded.source == "brokerage":
        raise HoldingRefused(
            "These holdings come from the linked brokerage and are replaced at each sync: make the change "
            "in the brokerage account (or disconnect it on the Portfolio panel first)."
        )
    return {p.symbol: p for p in await deps.holdings.list(ctx.user_id)}


async def _latest_price(ctx: Ctx, symbol: str) -> float:
    quotes = await ctx.deps.market.quotes([symbol])
    if not quotes.rows:
        raise HoldingRefused(f"No price is known for {symbol}: say the price paid per share.")
    return quotes.rows[0].price


async def _save(ctx: Ctx, position: Position) -> Position:
    try:
        checked = validate_position(position.symbol, position.shares, position.cost_basis, position.name)
    except HoldingError as exc:
        raise HoldingRefused(str(exc)) from exc
    assert ctx.deps.holdings is not None
    await ctx.deps.holdings.save(ctx.user_id, [checked])
    return checked


def _describe_add(
    ticker: str, shares: float, cost_basis: float | None = None, bought_on: date | None = None
) -> str:
    when = f" bought {_day(bought_on)}" if bought_on else ""
    price = _at(cost_basis) if cost_basis is not None else " at the latest price"
    return f"Add {_shares(shares)} of {ticker}{price}{when} to your holdings"


@tool(changes_data=True, describe=_describe_add)
async def add_holding(
    ctx: Ctx, ticker: Ticker, shares: Shares, cost_basis: Price | None = None, bought_on: date | None = None
) -> HoldingChange:
    """Add a new holding to the user's portfolio. Asks the user to approve first.

    Use it when the user says they bought or hold a stock they do not hold yet. If they already
    hold it, use record_trade instead. Ask the user for the number of shares if they did not say it.

    Args:
        ticker: Exchange ticker, e.g. "NVDA".
        shares: Number of shares.
        cost_basis: Price paid per share in USD; leave out to use the latest price.
        bought_on: Date of the purchase, if the user said it.
    """
    held = await _holdings(ctx)
    if ticker in held:
        raise HoldingRefused(
            f"{ticker} is already a holding ({shares_text(held[ticker].shares)} shares): record a trade instead."
        )
    price = cost_basis if cost_basis is not None else await _latest_price(ctx, ticker)
    saved = await _save(ctx, Position(ticker, "", shares, price))
    return HoldingChange(
        symbol=ticker,
        action="added",
        shares_before=0,
        shares_after=saved.shares,
        cost_basis_after=saved.cost_basis,
        message=f"Added {shares_text(shares)} shares of {ticker}{_at(price)}"
        + ("" if cost_basis is not None else " (the latest price, as no price was given)")
        + ".",
    )


def _describe_update(ticker: str, shares: float | None = None, cost_basis: float | None = None) -> str:
    parts = [
        _shares(shares) if shares is not None else "",
        f"an average cost of {money(cost_basis)}" if cost_basis is not None else "",
    ]
    return f"Change your {ticker} holding to " + " and ".join(p for p in parts if p)


@tool(changes_data=True, describe=_describe_update)
async def update_holding(
    ctx: Ctx, ticker: Ticker, shares: Shares | None = None, cost_basis: Price | None = None
) -> HoldingChange:
    """Correct an existing holding: set its number of shares and/or its average cost. Asks the user first.

    Use it when the user corrects a holding ("I actually have 12 NVDA", "my AAPL cost was 150").
    For a purchase or a sale use record_trade.

    Args:
        ticker: Exchange ticker of a holding the user has.
        shares: The new number of shares.
        cost_basis: The new average price paid per share in USD.
    """
    if shares is None and cost_basis is None:
        raise HoldingRefused("Say what to change: the number of shares, the average cost, or both.")
    held = await _holdings(ctx)
    if ticker not in held:
        raise HoldingRefused(f"{ticker} is not one of your holdings.")
    before = held[ticker]
    saved = await _save(
        ctx, Position(ticker, before.name, shares or before.shares, cost_basis or before.cost_basis)
    )
    return HoldingChange(
        symbol=ticker,
        action="changed",
        shares_before=before.shares,
        shares_after=saved.shares,
        cost_basis_after=saved.cost_basis,
        message=f"{ticker} is now {shares_text(saved.shares)} shares at an average cost of {money(saved.cost_basis)}.",
    )


def _describe_remove(ticker: str) -> str:
    return f"Remove {ticker} from your holdings"


@tool(changes_data=True, describe=_describe_remove)
async def remove_holding(ctx: Ctx, ticker: Ticker) -> HoldingChange:
    """Remove a holding from the user's portfolio entirely. Asks the user first.

    Args:
        ticker: Exchange ticker of a holding the user has.
    """
    held = await _holdings(ctx)
    if ticker not in held:
        raise HoldingRefused(f"{ticker} is not one of your holdings.")
    assert ctx.deps.holdings is not None
    await ctx.deps.holdings.remove(ctx.user_id, ticker)
    return HoldingChange(
        symbol=ticker,
        action="removed",
        shares_before=held[ticker].shares,
        shares_after=0,
        cost_basis_after=None,
        message=f"Removed {ticker} ({shares_text(held[ticker].shares)} shares) from your holdings.",
    )


def _describe_trade(
    ticker: str, side: str, shares: float, price: float | None = None, traded_on: date | None = None
) -> str:
    when = f" on {_day(traded_on)}" if traded_on else ""
    if side == "buy":
        at = _at(price) if price is not None else " at the latest price"
        return f"Record a purchase of {_shares(shares)} of {ticker}{at}{when} (adds to your holding)"
    return f"Record a sale of {_shares(shares)} of {ticker}{_at(price)}{when} (takes them off your holding)"


@tool(changes_data=True, describe=_describe_trade)
async def record_trade(
    ctx: Ctx,
    ticker: Ticker,
    side: Literal["buy", "sell"],
    shares: Shares,
    price: Price | None = None,
    traded_on: date | None = None,
) -> HoldingChange:
    """Record a purchase or a sale against the user's holdings. Asks the user first.

    A purchase adds shares (a new holding if the user had none) and updates the average cost;
    a sale takes shares off (the holding goes when none are left). For "sold half my TSLA", read
    the portfolio first to know how many shares that is.

    Args:
        ticker: Exchange ticker, e.g. "NVDA".
        side: "buy" or "sell".
        shares: Number of shares bought or sold.
        price: Price per share in USD, if the user said it (a purchase without one uses the latest price).
        traded_on: Date of the trade, if the user said it.
    """
    held = await _holdings(ctx)
    before = held.get(ticker)
    if side == "sell":
        if before is None:
            raise HoldingRefused(f"{ticker} is not one of your holdings, so there is nothing to sell.")
        if shares > before.shares + 1e-9:
            raise HoldingRefused(
                f"You hold {shares_text(before.shares)} shares of {ticker}, fewer than {shares_text(shares)}."
            )
        left = before.shares - shares
        if left <= 1e-9:
            assert ctx.deps.holdings is not None
            await ctx.deps.holdings.remove(ctx.user_id, ticker)
            return HoldingChange(
                symbol=ticker,
                action="sold",
                shares_before=before.shares,
                shares_after=0,
                cost_basis_after=None,
                message=f"Sold all {shares_text(before.shares)} shares of {ticker}; it is no longer a holding.",
            )
        saved = await _save(ctx, Position(ticker, before.name, left, before.cost_basis))
        return HoldingChange(
            symbol=ticker,
            action="sold",
            shares_before=before.shares,
            shares_after=saved.shares,
            cost_basis_after=saved.cost_basis,
            message=f"Sold {shares_text(shares)} shares of {ticker}{_at(price)}; {shares_text(saved.shares)} left.",
        )
    paid = price if price is not None else await _latest_price(ctx, ticker)
    total = (before.shares if before else 0) + shares
    average = ((before.shares * before.cost_basis) if before else 0) / total + shares * paid / total
    if not math.isfinite(average):
        raise HoldingRefused("That trade gives no sensible average cost.")
    saved = await _save(ctx, Position(ticker, before.name if before else "", total, round(average, 4)))
    return HoldingChange(
        symbol=ticker,
        action="bought",
        shares_before=before.shares if before else 0,
        shares_after=saved.shares,
        cost_basis_after=saved.cost_basis,
        message=f"Bought {shares_text(shares)} shares of {ticker}{_at(paid)}; you now hold {shares_text(saved.shares)} "
        f"at an average cost of {money(saved.cost_basis)}.",
    )
