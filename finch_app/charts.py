"""Chart data for a resource: pure shaping of its rows into what a recharts chart plots.

One chart per kind of result, where it says more than the table: allocation (pie),
price history (line, with the conversation's congressional and insider trade dates of
that ticker marked), Reddit mentions (bars) and trades per week (stacked bars).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from finch_app.db.models import Resource

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
    """Price-line markers: {"x": date label, "label": what happened}."""


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


def price_line(rows: list[dict[str, Any]], ticker: str, trades: list[tuple[date, str]]) -> ChartData:
    points = [{"x": _day(r["date"]).strftime("%b %d"), "close": r["close"]} for r in rows if _day(r.get("date"))]
    first = _day(rows[0]["date"]) if rows else None
    last = _day(rows[-1]["date"]) if rows else None
    labels = {p["x"] for p in points}
    markers = []
    for when, what in sorted(trades):
        label = when.strftime("%b %d")
        if first and last and first <= when <= last and label in labels:
            markers.append({"x": label, "label": what})
    return ChartData("price_line", f"{ticker} closing price", points, "Date", "Close (USD)", markers)


def mentions_bars(rows: list[dict[str, Any]]) -> ChartData:
    points = [
        {"ticker": r["ticker"], "mentions": r.get("mentions") or 0, "change": r.get("mentions_change_pct") or 0}
        for r in rows
        if r.get("ticker")
    ]
    return ChartData("mentions_bars", "Reddit mentions, last 24 h", points, "Ticker", "Mentions")


def trades_per_week(rows: list[dict[str, Any]]) -> ChartData:
    weeks: dict[date, Counter[str]] = {}
    for row in rows:
        when = _day(row.get("transaction_date"))
        if when is None:
            continue
        monday = when - timedelta(days=when.weekday())
        kind = str(row.get("type", "")).lower()
        bucket = "purchases" if kind.startswith("purchase") else "sales" if kind.startswith("sale") else "other"
        weeks.setdefault(monday, Counter())[bucket] += 1
    points = [
        {"week": monday.strftime("%b %d"), "purchases": c["purchases"], "sales": c["sales"], "other": c["other"]}
        for monday, c in sorted(weeks.items())
    ]
    return ChartData("trades_per_week", "Trades per week", points, "Week of", "Trades")


def trade_dates(trade_rows: list[dict[str, Any]], ticker: str) -> list[tuple[date, str]]:
    """Dates on which `ticker` was traded in these trade rows, with who traded."""
    found: list[tuple[date, str]] = []
    for row in trade_rows:
        if str(row.get("ticker", "")).upper() != ticker:
            continue
        when = _day(row.get("transaction_date"))
        if when:
            who = row.get("member") or row.get("insider") or ""
            action = row.get("type") or row.get("action") or "trade"
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
