"""Finch's concrete tools, one module per domain."""

from finch_app.agent.tools import ToolRegistry
from finch_app.tools.congress import get_recent_house_trades, get_recent_senate_trades
from finch_app.tools.portfolio import get_portfolio
from finch_app.tools.reddit import get_reddit_trending_stocks

ALL_TOOLS = (
    get_portfolio,
    get_reddit_trending_stocks,
    get_recent_senate_trades,
    get_recent_house_trades,
)


def default_registry() -> ToolRegistry:
    return ToolRegistry.of(ALL_TOOLS)
