"""Chart data for a resource: pure shaping of its rows into what a recharts chart plots.

One chart per kind of result, where it says more than the table: allocation (pie),
price history (line, with the conversation's congressional and insider trade dates of
that ticker marked), Reddit mentions (bars) and trades per week (stacked bars).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from finch_app.db.models import Resource
from finch_app.formatting import date_span, signed_pct

TRADE_KINDS = ("senate_trades", "house_trades", "insider_trades")


@dataclass
class ChartData:
    kind: str = ""
    """"" (no chart), "allocation", "price_line", "mentions_bars" or "trades_per_week"."""
    title: str = ""
    points: list[dict[str, Any]] = field(default_factory=list)
    x_label: str = ""
    y_label: str = ""
    markers: list[dict[str, Any]] = field(default_factory=list)
    """Price-line markers, one per day with trades: {"x": date label, "label": "Buy" / "Sell" /
    "3 trades" (drawn on the line), "detail": "Nov 3: Jane Doe (Senate) bought; …" (listed below)}."""
    y_domain: list[float] = field(default_factory=lambda: [0.0, 1.0])
    """The value axis from low to high: around the data for prices (not from 0, which flattens
    the line), from 0 for counts and amounts."""


def nice_domain(low: float, high: float, *, from_zero: bool) -> list[float]:
    """Axis ends a little beyond the data, on round numbers."""
    if from_zero:
        low = min(0.0, low)
    pad = (high - low) * 0.08 or abs(high) * 0.02 or 1.0
    lower = low if from_zero else low - pad
    upper = high + pad
    step = 10 ** math.floor(math.log10(max(upper - lower, 1e-9))) / 2
    return [round(math.floor(lower / step) * step, 6), round(math.ceil(upper / step) * step, 6)]


def _day(value: Any) -> date | None:
    try:
        return datetime.fromisoformat(str(value)).date()
    except (TypeError, ValueError):
        return None


def allocation(rows: list[dict[str, Any]]) -> ChartData:
    points = [
        {"name": r["symbol"], "value": round(float(r["value"]), 2)}
        for r in rows
        if r.get("value") not in (None, 0)
    ]
    return ChartData("allocation", "Allocation by value", points, "", "Value (USD)")


def _side(what: str) -> str:
    text = what.lower()
    if "purchase" in text or "buy" in text:
        return "Buy"
    if "sale" in text or "sell" in text:
        return "Sell"
    return "Trade"


def _trade_words(what: list[str]) -> str:
    """A day's trades in a word or two for the line: "Buy", "2 × Sell", "3 trades"."""
    sides = {_side(w) for w in what}
    side = sides.pop() if len(sides) == 1 else "Trade"
    if len(what) == 1:
        return side
    return f"{len(what)} × {side}" if side != "Trade" else f"{len(what)} trades"


def price_line(rows: list[dict[str, Any]], ticker: str, trades: list[tuple[date, str]]) -> ChartData:
    """Closing prices on an axis fitted to them; the title says the days the data covers (which may
    be fewer than were asked for) and the change over them; each day with trades is marked and named."""
    dated = [
        (d, r["close"]) for r in rows if (d := _day(r.get("date"))) is not None and r.get("close") is not None
    ]
    points = [{"x": d.strftime("%b %d"), "close": close} for d, close in dated]
    if not dated:
        return ChartData("price_line", f"{ticker} closing price", [], "Date", "Close (USD)")
    first, last = dated[0][0], dated[-1][0]
    closes = [close for _, close in dated]
    change = (closes[-1] / closes[0] - 1) * 100 if closes[0] else None
    title = f"{ticker} closing price, {date_span(first, last)}" + (
        f" ({signed_pct(change)})" if change is not None else ""
    )
    labels = {p["x"] for p in points}
    by_day: dict[date, list[str]] = {}
    for when, what in sorted(trades):
        if first <= when <= last and when.strftime("%b %d") in labels:
            by_day.setdefault(when, []).append(what)
    markers = [
        {
            "x": when.strftime("%b %d"),
            "label": _trade_words(what),
            "detail": f"{when:%b} {when.day}: " + "; ".join(what),
        }
        for when, what in sorted(by_day.items())
    ]
    return ChartData(
        "price_line",
        title,
        points,
        "Date",
        "Close (USD)",
        markers,
        nice_domain(min(closes), max(closes), from_zero=False),
    )


def mentions_bars(rows: list[dict[str, Any]]) -> ChartData:
    points = [
        {
            "ticker": r["ticker"],
            "mentions": r.get("mentions") or 0,
            "change": r.get("mentions_change_pct") or 0,
        }
        for r in rows
        if r.get("ticker")
    ]
    high = max((p["mentions"] for p in points), default=1)
    return ChartData(
        "mentions_bars",
        "Reddit mentions, last 24 h",
        points,
        "Ticker",
        "Mentions",
        y_domain=nice_domain(0, high, from_zero=True),
    )


def trades_per_week(rows: list[dict[str, Any]]) -> ChartData:
    weeks: dict[date, Counter[str]] = {}
    for row in rows:
        when = _day(row.get("transaction_date"))
        if when is None:
            continue
        monday = when - timedelta(days=when.weekday())
        kind = str(row.get("type", "")).lower()
        bucket = (
            "purchases" if kind.startswith("purchase") else "sales" if kind.startswith("sale") else "other"
        )
        weeks.setdefault(monday, Counter())[bucket] += 1
    points = [
        {
            "week": monday.strftime("%b %d"),
            "purchases": c["purchases"],
            "sales": c["sales"],
            "other": c["other"],
        }
        for monday, c in sorted(weeks.items())
    ]
    high = max((p["purchases"] + p["sales"] + p["other"] for p in points), default=1)
    return ChartData(
        "trades_per_week", "Trades per week", points, "Week of", "Trades", y_domain=[0.0, float(max(high, 1))]
    )


def trade_dates(trade_rows: list[dict[str, Any]], ticker: str) -> list[tuple[date, str]]:
    """Dates on which `ticker` was traded in these trade rows, with who traded."""
    found: list[tuple[date, str]] = []
    for row in trade_rows:
        if str(row.get("ticker", "")).upper() != ticker:
            continue
        when = _day(row.get("transaction_date"))
        if when:
            who = row.get("member") or row.get("insider") or ""
            action = str(row.get("type") or row.get("action") or "trade")
            found.append((when, f"{who}: {action}".strip(": ")))
    return found


def chart_for(resource: Resource, trade_rows: list[dict[str, Any]]) -> ChartData:
    """The chart of a resource, or an empty ChartData when a table says it all.

    Args:
        trade_rows: The rows of the conversation's trade results, to mark trades on a price line.
    """
    rows = resource.rows or []
    match resource.chart:
        case "allocation":
            return allocation(rows)
        case "price_line":
            ticker = resource.title.split(" ", 1)[0]
            return price_line(rows, ticker, trade_dates(trade_rows, ticker))
        case "mentions_bars":
            return mentions_bars(rows)
        case "trades_per_week":
            return trades_per_week(rows)
    return ChartData()
