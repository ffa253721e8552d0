"""Finch's concrete tools, one module per domain."""

from finch_app.agent.tools import ToolRegistry
from finch_app.tools.congress import get_recent_house_trades, get_recent_senate_trades
from finch_app.tools.insiders import get_insider_trades
from finch_app.tools.market import compare_tickers, get_price_history, get_quote, get_ticker_buzz
from finch_app.tools.portfolio import get_portfolio
from finch_app.tools.reddit import get_reddit_trending_stocks

ALL_TOOLS = (
    get_portfolio,
    get_reddit_trending_stocks,
    get_ticker_buzz,
    get_recent_senate_trades,
    get_recent_house_trades,
    get_insider_trades,
    get_quote,
    get_price_history,
    compare_tickers,
)


def default_registry() -> ToolRegistry:
    return ToolRegistry.of(ALL_TOOLS)
