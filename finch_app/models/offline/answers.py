"""The answer to a question, written once its tool results are back.

Picks the writer for the kind of question ("why", "should I", a comparison, plain
lookups), adds a line for each tool that failed, and closes with the not-advice line.
"""

from __future__ import annotations

from collections.abc import Sequence

from finch_app.models.offline import analysis, ledger
from finch_app.models.offline import sections as s
from finch_app.models.offline import tickers as tk
from finch_app.models.offline.intents import Ask
from finch_app.models.offline.results import Result

NOT_ADVICE = "_This is information, not financial advice._"
CHAMBER_TOOLS = ("get_recent_senate_trades", "get_recent_house_trades")


def compose(ask: Ask, results: Sequence[Result]) -> str:
    """The markdown answer to `ask` from this turn's results."""
    if ask.kind == "change" and ask.change is not None:
        return ledger.answer(ask.change, results)
    if not results:
        return "I couldn't run the lookups this needs here, so I have nothing to report."
    if ask.kind == "why" and ask.tickers:
        body = analysis.why(ask, results)
    elif ask.kind == "advice":
        body = analysis.advice(ask, results)
    else:
        body = _lookup(ask, results)
    closing = (
        NOT_ADVICE if any(r.ok and not r.needs_auth for r in results) and _about_markets(results) else ""
    )
    return s.paragraphs(body.strip() or "The tools returned nothing to report.", closing)


def _about_markets(results: Sequence[Result]) -> bool:
    return any(r.tool != "request_brokerage_connection" for r in results)


def _lookup(ask: Ask, results: Sequence[Result]) -> str:
    if ask.topics <= {"quote", "history"} and any(r.tool in CHAMBER_TOOLS for r in results):
        return analysis.no_price(ask, results)
    by_tool: dict[str, list[Result]] = {}
    for result in results:
        by_tool.setdefault(result.tool, []).append(result)
    first = {name: found[0] for name, found in by_tool.items()}
    blocks: list[str] = []
    handled: set[int] = set()

    def take(*found: Result | None) -> None:
        handled.update(id(r) for r in found if r is not None)

    if "request_brokerage_connection" in first:
        blocks.append(s.brokerage(first["request_brokerage_connection"]))
        take(first["request_brokerage_connection"])

    portfolio = first.get("get_portfolio")
    chambers = [r for r in results if r.tool in CHAMBER_TOOLS]
    trending = first.get("get_reddit_trending_stocks")
    joinable = portfolio is not None and portfolio.ok and not portfolio.needs_auth
    if joinable and chambers:
        blocks.append(analysis.portfolio_vs_trades(portfolio, chambers, ask))
        take(portfolio, *chambers)
    if joinable and trending is not None and trending.ok:
        blocks.append(analysis.portfolio_vs_reddit(portfolio, trending))
        take(portfolio, trending)
    if portfolio is not None and id(portfolio) not in handled and portfolio.ok:
        blocks.append(s.portfolio(portfolio, ask))
        take(portfolio)

    quotes = by_tool.get("get_stock_quote", [])
    histories = by_tool.get("get_price_history", [])
    comparison = first.get("compare_reddit_sentiment")
    if ask.compare and len(ask.tickers) > 1 and histories:
        blocks.append(analysis.compare_tickers(histories, comparison))
        take(*histories, comparison)
    elif quotes and histories and not ask.chart:
        for symbol in ask.tickers:
            quote = next((r for r in quotes if r.ok and tk.same(r.ticker, symbol)), None)
            hist = next((r for r in histories if r.ok and tk.same(r.ticker, symbol)), None)
            if quote or hist:
                blocks.append(s.overview(quote, hist))
                take(quote, hist)
    if quotes and any(id(q) not in handled and q.ok for q in quotes):
        pending = [q for q in quotes if id(q) not in handled and q.ok]
        blocks.append(s.quotes(pending))
        take(*pending)
    for hist in histories:
        if id(hist) not in handled and hist.ok:
            blocks.append(s.history(hist, ask))
            take(hist)

    if comparison is not None and id(comparison) not in handled and comparison.ok:
        blocks.append(s.comparison_sentiment(comparison))
        take(comparison)
    sentiments = [r for r in by_tool.get("get_reddit_ticker_sentiment", []) if r.ok]
    if sentiments:
        blocks.append(s.sentiment(sentiments))
        take(*sentiments)

    for name in (
        "get_portfolio_insider_activity",
        "search_ticker_insider_activity",
        "get_recent_insider_trades",
    ):
        for result in by_tool.get(name, []):
            if result.ok:
                blocks.append(s.insiders(result, ask))
                take(result)

    if trending is not None and id(trending) not in handled and trending.ok:
        blocks.append(s.trending(trending, ask))
        take(trending)

    pending_chambers = [r for r in chambers if id(r) not in handled and r.ok]
    for result in pending_chambers:
        blocks.append(s.trades(result, ask))
        take(result)
    if len(pending_chambers) == 2:
        blocks.append(s.both_chambers(pending_chambers[0], pending_chambers[1], ask))

    failures = [r for r in results if not r.ok and id(r) not in handled]
    if failures:
        blocks.append("\n".join(f"- {s.failure(r)}" if len(failures) > 1 else s.failure(r) for r in failures))
    return "\n\n".join(b for b in blocks if b)
