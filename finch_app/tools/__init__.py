"""Finch's concrete tools, one module per domain."""

from finch_app.agent.tools import ToolRegistry
from finch_app.tools.congress import get_recent_house_trades, get_recent_senate_trades
from finch_app.tools.holdings import add_holding, record_trade, remove_holding, update_holding
from finch_app.tools.insiders import (
    get_portfolio_insider_activity,
    get_recent_insider_trades,
    search_ticker_insider_activity,
)
from finch_app.tools.market import (
    compare_reddit_sentiment,
    get_price_history,
    get_reddit_ticker_sentiment,
    get_stock_quote,
)
from finch_app.tools.portfolio import get_portfolio, request_brokerage_connection
from finch_app.tools.reddit import get_reddit_trending_stocks

ALL_TOOLS = (
    get_portfolio,
    request_brokerage_connection,
    get_reddit_trending_stocks,
    get_reddit_ticker_sentiment,
    compare_reddit_sentiment,
    get_recent_senate_trades,
    get_recent_house_trades,
    get_recent_insider_trades,
    search_ticker_insider_activity,
    get_portfolio_insider_activity,
    get_stock_quote,
    get_price_history,
    add_holding,
    update_holding,
    remove_holding,
    record_trade,
)

SERVED_TOOLS = tuple(
    spec.name
    for spec in (
        get_stock_quote,
        get_price_history,
        get_reddit_trending_stocks,
        get_reddit_ticker_sentiment,
        compare_reddit_sentiment,
        get_recent_senate_trades,
        get_recent_house_trades,
        get_recent_insider_trades,
        search_ticker_insider_activity,
        get_portfolio_insider_activity,
        get_portfolio,
    )
)
"""Finch's data tools that other agents may call over MCP (`/mcp`): every tool that only reads.
Not the ones that change the user's holdings (they ask the user first, in Finch), nor the
brokerage-linking prompt (a flow in Finch's own page)."""


def default_registry() -> ToolRegistry:
    return ToolRegistry.of(ALL_TOOLS)
