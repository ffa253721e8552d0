"""A user's holdings: stored positions, the demo portfolio, and broker CSV imports.

`DbPortfolio` is what the `get_portfolio` tool reads (scoped to the user). `HoldingsBook`
is what the UI and the API change them through. CSV parsing is pure and accepts the
position exports of the common US brokers (Fidelity, Schwab, Vanguard, E*TRADE…).
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from finch_app.agent.tools import ToolError
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.providers.base import Position

DEMO_POSITIONS: tuple[Position, ...] = (
    Position("AAPL", "Apple Inc.", 40, 172.10),
    Position("MSFT", "Microsoft Corporation", 18, 338.45),
    Position("NVDA", "NVIDIA Corporation", 55, 61.20),
    Position("AMZN", "Amazon.com, Inc.", 30, 141.80),
    Position("GOOGL", "Alphabet Inc. Class A", 25, 128.30),
    Position("JPM", "JPMorgan Chase & Co.", 20, 158.00),
    Position("XOM", "Exxon Mobil Corporation", 35, 104.75),
    Position("VOO", "Vanguard S&P 500 ETF", 22, 402.60),
)

SYMBOL = re.compile(r"^[A-Z][A-Z0-9]{0,5}([.\-][A-Z]{1,2})?$")
MAX_HOLDINGS = 500
"""Holdings one user may keep (typed, imported or synced)."""
MAX_IMPORT_BYTES = 2_000_000
"""The largest broker CSV Finch imports (the HTTP layer caps `/_upload` just above it)."""
MAX_SHARES = 1e12
MAX_COST = 1e9


class HoldingError(ToolError, ValueError):
    """A holding the user typed or imported that cannot be stored, with the reason."""


def clean_symbol(raw: str) -> str:
    symbol = raw.strip().upper().lstrip("$")
    if not SYMBOL.match(symbol):
        raise HoldingError(f"{raw.strip() or 'An empty symbol'!s} is not a ticker symbol (e.g. AAPL, BRK.B).")
    return symbol


def validate_position(symbol: str, shares: float, cost_basis: float, name: str = "") -> Position:
    symbol = clean_symbol(symbol)
    if not (math.isfinite(shares) and math.isfinite(cost_basis)):
        raise HoldingError(f"{symbol}: shares and average cost must be ordinary numbers.")
    if not shares > 0:
        raise HoldingError(f"{symbol}: shares must be more than 0.")
    if shares > MAX_SHARES:
        raise HoldingError(f"{symbol}: {shares:g} shares is more than Finch can value.")
    if cost_basis < 0:
        raise HoldingError(f"{symbol}: the average cost cannot be negative.")
    if cost_basis > MAX_COST:
        raise HoldingError(f"{symbol}: an average cost of ${cost_basis:,.0f} is more than Finch can value.")
    return Position(symbol, name.strip()[:120], float(shares), float(cost_basis))


# --- CSV import -------------------------------------------------------------------------

_SYMBOL_COLUMNS = ("symbol", "ticker", "symbol/cusip", "security symbol")
_SHARES_COLUMNS = ("quantity", "shares", "qty", "share quantity", "units")
_UNIT_COST_COLUMNS = (
    "average cost basis",
    "average cost",
    "avg cost",
    "avg. cost",
    "cost per share",
    "cost/share",
    "price paid",
    "purchase price",
    "unit cost",
)
_TOTAL_COST_COLUMNS = ("cost basis total", "cost basis", "total cost", "total cost basis", "cost")
_NAME_COLUMNS = ("description", "name", "security name", "security description", "investment name")
_NOT_A_SECURITY = re.compile(r"cash|pending|total|money market|core\*\*|account", re.I)


def _number(text: str) -> float | None:
    value = text.strip().replace("$", "").replace(",", "").replace("+", "")
    negative = value.startswith("(") and value.endswith(")")
    value = value.strip("()")
    if value in {"", "--", "n/a", "N/A"}:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return -number if negative else number


def _find(header: list[str], names: Iterable[str]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


@dataclass
class ImportResult:
    positions: list[Position] = field(default_factory=list)


class ImportRejected(HoldingError):
    """A file with rows that look like positions but cannot be read: nothing is imported."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        super().__init__(f"Nothing was imported. Fix these rows and try again: {shown}")
        self.problems = problems


def parse_holdings_csv(text: str) -> ImportResult:
    """Positions from a broker's CSV export, all or nothing: any unreadable position row rejects
    the file (with line numbers); cash, totals and notes are not positions and are passed over."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header_index = next(
        (
            i
            for i, row in enumerate(rows[:15])
            if _find(row, _SYMBOL_COLUMNS) is not None and _find(row, _SHARES_COLUMNS) is not None
        ),
        None,
    )
    if header_index is None:
        raise HoldingError(
            "This file has no Symbol and Quantity (or Shares) columns; is it a positions export?"
        )
    header = rows[header_index]
    symbol_at = _find(header, _SYMBOL_COLUMNS)
    shares_at = _find(header, _SHARES_COLUMNS)
    unit_cost_at = _find(header, _UNIT_COST_COLUMNS)
    total_cost_at = _find(header, _TOTAL_COST_COLUMNS)
    name_at = _find(header, _NAME_COLUMNS)
    problems: list[str] = []
    merged: dict[str, Position] = {}
    for line_no, row in enumerate(rows[header_index + 1 :], start=header_index + 2):
        if not any(cell.strip() for cell in row) or len(row) <= max(symbol_at, shares_at):  # type: ignore[type-var]
            continue
        raw_symbol = row[symbol_at].strip()  # type: ignore[index]
        shares = _number(row[shares_at])  # type: ignore[index]
        if not raw_symbol or _NOT_A_SECURITY.search(raw_symbol) or raw_symbol.endswith("**"):
            continue  # cash sweeps ("SPAXX**"), totals, pending activity
        if shares is None and not SYMBOL.match(raw_symbol.upper().lstrip("$")):
            continue  # a note or disclaimer line, not a position
        unit_cost = (
            _number(row[unit_cost_at]) if unit_cost_at is not None and unit_cost_at < len(row) else None
        )
        if unit_cost is None and total_cost_at is not None and total_cost_at < len(row) and shares:
            total = _number(row[total_cost_at])
            unit_cost = total / shares if total is not None else None
        name = row[name_at].strip() if name_at is not None and name_at < len(row) else ""
        try:
            if shares is None:
                raise HoldingError(f"{raw_symbol}: no quantity.")
            position = validate_position(
                raw_symbol, shares, unit_cost if unit_cost is not None else 0.0, name
            )
        except HoldingError as exc:
            problems.append(f"line {line_no}: {exc}")
            continue
        if position.symbol in merged:  # the same security in two accounts
            earlier = merged[position.symbol]
            total_shares = earlier.shares + position.shares
            cost = (
                earlier.cost_basis * earlier.shares + position.cost_basis * position.shares
            ) / total_shares
            position = Position(position.symbol, earlier.name or position.name, total_shares, round(cost, 4))
        merged[position.symbol] = position
    if problems:
        raise ImportRejected(problems)
    if not merged:
        raise HoldingError("No positions found in this file.")
    if len(merged) > MAX_HOLDINGS:
        raise HoldingError(f"This file has {len(merged)} positions; Finch keeps at most {MAX_HOLDINGS}.")
    return ImportResult(positions=list(merged.values()))


# --- storage ------------------------------------------------------------------------------


def _positions(user_id: str) -> list[Position]:
    with session_scope() as session:
        return [
            Position(h.symbol, h.name, h.shares, h.cost_basis)
            for h in crud.list_holdings(session=session, user_id=user_id)
        ]


class DbPortfolio:
    """The user's stored holdings, as the tools see them."""

    async def positions(self, user_id: str) -> list[Position]:
        return await asyncio.to_thread(_positions, user_id)


class HoldingsBook:
    """Changes to a user's holdings, for the UI and the API."""

    async def list(self, user_id: str) -> list[Position]:
        return await asyncio.to_thread(_positions, user_id)

    async def save(self, user_id: str, positions: Iterable[Position], *, replace: bool = False) -> None:
        items = list(positions)

        def write() -> None:
            with session_scope() as session:
                if replace:
                    crud.clear_holdings(session=session, user_id=user_id)
                for p in items:
                    crud.upsert_holding(
                        session=session,
                        user_id=user_id,
                        symbol=p.symbol,
                        shares=p.shares,
                        cost_basis=p.cost_basis,
                        name=p.name,
                    )
                session.flush()
                if len(crud.list_holdings(session=session, user_id=user_id)) > MAX_HOLDINGS:
                    # Raised inside the transaction: nothing of this save is kept.
                    raise HoldingError(f"Finch keeps at most {MAX_HOLDINGS} holdings; remove some first.")

        await asyncio.to_thread(write)

    async def remove(self, user_id: str, symbol: str) -> None:
        def write() -> None:
            with session_scope() as session:
                crud.delete_holding(session=session, user_id=user_id, symbol=symbol)

        await asyncio.to_thread(write)

    async def load_demo(self, user_id: str) -> None:
        await self.save(user_id, DEMO_POSITIONS, replace=True)


class DemoPortfolio:
    """A fixed portfolio (tests and demos that need holdings without a database)."""

    def __init__(self, positions: Iterable[Position] = DEMO_POSITIONS) -> None:
        self._positions = list(positions)

    async def positions(self, user_id: str) -> list[Position]:
        return list(self._positions)
