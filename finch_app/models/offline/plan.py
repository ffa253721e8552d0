"""Which tools answer an `Ask`, with which arguments, in the order their cards appear.

A first round from the question alone; a second round only when the first found no price
for a ticker that is not a typo, to show what else Finch knows about it (BRK.B in the
bundled sample has Senate trades but no chart), or — for a change to the holdings — to
make the change once the first round has read them (`ledger`).
"""

from __future__ import annotations

from typing import Any

from finch_app.models.offline import ledger
from finch_app.models.offline import tickers as tk
from finch_app.models.offline.intents import Ask
from finch_app.models.offline.results import Result

Call = tuple[str, dict[str, Any]]

WHOLE_WINDOW = 100
"""Rows asked of a trades tool when the answer filters or joins them: the most the tool gives."""
JOIN_TRENDING = 50
"""Reddit's most-mentioned tickers checked against the holdings."""
MAX_TICKERS = 3

RANGE_DAYS = {"5d": 7, "1mo": 31, "3mo": 92, "6mo": 183, "1y": 366, "2y": 731, "5y": 1827}
"""The price-history tool's ranges and the calendar days each covers."""
RANGE_WORDS = {
    "5d": "5 days",
    "1mo": "1 month",
    "3mo": "3 months",
    "6mo": "6 months",
    "1y": "1 year",
    "2y": "2 years",
    "5y": "5 years",
}


def price_range(days: int | None, default: str = "3mo") -> str:
    """The price-history range that covers `days` (the tool's ranges: 5d … 5y)."""
    if days is None:
        return default
    return next((name for name, covered in RANGE_DAYS.items() if days <= covered), "5y")


def first_round(ask: Ask) -> list[Call]:
    """The tool calls for the question itself."""
    if ask.kind == "change" and ask.change is not None:
        return ledger.first_round(ask.change)
    if "brokerage" in ask.topics:
        return [("request_brokerage_connection", {})]
    if ask.kind == "why" and ask.tickers:
        return _ticker_story(ask)
    if ask.kind == "advice":
        if not ask.tickers:
            return [("get_reddit_trending_stocks", {"limit": 10}), *_both_chambers()]
        return [("get_portfolio", {}), *_ticker_story(ask)]
    if ask.kind != "lookup":
        return []
    return _lookup(ask)


def second_round(ask: Ask, results: list[Result]) -> list[Call]:
    """More calls when the first round found no price for a plausible ticker, or the change to
    the holdings once they are known; else none."""
    if ask.kind == "change" and ask.change is not None:
        return ledger.second_round(ask.change, results)
    if ask.kind != "lookup" or not ask.topics <= {"quote", "history"}:
        return []
    missing = [t for t in ask.tickers if _no_price(t, results) and tk.suggest(t) in (None, t)]
    if not missing or any(r.tool.startswith("get_recent_") for r in results):
        return []
    calls: list[Call] = [
        ("get_reddit_ticker_sentiment", {"ticker": tk.for_tool(t, "reddit")}) for t in missing[:MAX_TICKERS]
    ]
    return calls + _both_chambers()


def _no_price(symbol: str, results: list[Result]) -> bool:
    priced = [
        r for r in results if r.tool in ("get_stock_quote", "get_price_history") and tk.same(r.ticker, symbol)
    ]
    return bool(priced) and all(not r.ok for r in priced)


def _ticker_story(ask: Ask) -> list[Call]:
    """Price, insiders, Reddit and Congress around each ticker: what "why" and "should I" need."""
    chosen = ask.tickers[:MAX_TICKERS]
    window = price_range(ask.days)
    return [
        *[("get_price_history", {"ticker": tk.for_tool(t, "history"), "range": window}) for t in chosen],
        *[("search_ticker_insider_activity", {"ticker": tk.for_tool(t, "insider")}) for t in chosen],
        *[("get_reddit_ticker_sentiment", {"ticker": tk.for_tool(t, "reddit")}) for t in chosen],
        *_both_chambers(),
    ]


def _both_chambers() -> list[Call]:
    return [
        ("get_recent_senate_trades", {"limit": WHOLE_WINDOW}),
        ("get_recent_house_trades", {"limit": WHOLE_WINDOW}),
    ]


def _lookup(ask: Ask) -> list[Call]:
    topics, chosen = ask.topics, ask.tickers[:MAX_TICKERS]
    calls: list[Call] = []
    portfolio_insiders = "insiders" in topics and "portfolio" in topics and not ask.tickers
    if "portfolio" in topics and not portfolio_insiders:
        calls.append(("get_portfolio", {}))
    if "quote" in topics and ("history" not in topics or not ask.chart):
        calls += [("get_stock_quote", {"ticker": tk.for_tool(t, "quote")}) for t in ask.tickers[:5]]
    if "history" in topics:
        window = price_range(ask.days, default="1mo" if "quote" in topics else "3mo")
        calls += [
            ("get_price_history", {"ticker": tk.for_tool(t, "history"), "range": window}) for t in chosen
        ]
    if "sentiment" in topics and ask.tickers:
        if len(ask.tickers) > 1:
            calls.append(
                (
                    "compare_reddit_sentiment",
                    {"tickers": [tk.for_tool(t, "reddit") for t in ask.tickers[:10]]},
                )
            )
        else:
            calls.append(("get_reddit_ticker_sentiment", {"ticker": tk.for_tool(ask.tickers[0], "reddit")}))
    if "insiders" in topics:
        if ask.tickers:
            calls += [
                ("search_ticker_insider_activity", {"ticker": tk.for_tool(t, "insider")}) for t in chosen
            ]
        elif portfolio_insiders:
            calls.append(
                ("get_portfolio_insider_activity", {"days_back": min(ask.days, 365)} if ask.days else {})
            )
        else:
            calls.append(("get_recent_insider_trades", {"limit": ask.limit} if ask.limit else {}))
    if "trending" in topics:
        if "portfolio" in topics:
            calls.append(("get_reddit_trending_stocks", {"limit": JOIN_TRENDING}))
        else:
            calls.append(("get_reddit_trending_stocks", {"limit": ask.limit} if ask.limit else {}))
    narrowed = bool(ask.tickers or ask.side or ask.days or "portfolio" in topics)
    for chamber in ("senate", "house"):
        if chamber in topics:
            limit = WHOLE_WINDOW if narrowed else ask.limit
            calls.append((f"get_recent_{chamber}_trades", {"limit": limit} if limit else {}))
    return calls
