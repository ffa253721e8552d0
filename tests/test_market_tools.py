"""The market tools over bundled sample data: schemas, results, provenance, needs_auth."""

from __future__ import annotations

import pytest

from finch_app.agent.tools import ToolArgumentError, ToolContext, ToolError
from finch_app.context import build_providers
from finch_app.providers.portfolio import HoldingsBook
from finch_app.settings import get_settings
from finch_app.tools import default_registry

REGISTRY = default_registry()


async def call(name: str, args: dict, user_id: str = "local"):
    spec = REGISTRY.get(name)
    return await spec(
        ToolContext(deps=build_providers(get_settings()), user_id=user_id), spec.parse_arguments(args)
    )


def test_every_tool_has_a_described_schema():
    for schema in REGISTRY.schemas():
        function = schema["function"]
        assert function["description"], function["name"]
        for name, prop in function["parameters"].get("properties", {}).items():
            assert prop.get("description"), f"{function['name']}.{name}"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("compare_reddit_sentiment", {"tickers": ["AAPL"]}),
        ("compare_reddit_sentiment", {"tickers": [f"T{c}" for c in "ABCDEFGHIJK"]}),
        ("get_stock_quote", {"ticker": "<b>"}),
        ("get_stock_quote", {"ticker": "1234"}),
        ("get_price_history", {"ticker": "AAPL", "range": "7y"}),
    ],
)
def test_bad_arguments_are_refused_by_the_schema(name, args):
    with pytest.raises(ToolArgumentError):
        REGISTRY.get(name).parse_arguments(args)


def test_limits_beyond_the_maximum_are_clamped_not_refused():
    assert REGISTRY.get("get_reddit_trending_stocks").parse_arguments({"limit": 500}).limit == 50
    assert REGISTRY.get("get_recent_senate_trades").parse_arguments({"limit": 0}).limit == 1
    assert REGISTRY.get("get_stock_quote").parse_arguments({"ticker": "$brk.b"}).ticker == "BRK.B"


async def test_a_quote_names_its_source_and_an_unknown_ticker_is_not_found():
    result = await call("get_stock_quote", {"ticker": "aapl"})
    assert result.symbol == "AAPL" and result.provenance.mode == "sample"
    assert "sample data as of" in result.provenance.data_note
    with pytest.raises(ToolError, match="Ticker ZZZZ not found"):
        await call("get_stock_quote", {"ticker": "ZZZZ"})


async def test_price_history_covers_the_range():
    history = await call("get_price_history", {"ticker": "AMD", "range": "1mo"})
    assert history.points[0].date < history.points[-1].date
    assert history.low <= history.last_close <= history.high
    assert (history.points[-1].date - history.points[0].date).days <= 31


async def test_price_history_says_what_it_covers_when_it_covers_less_than_asked():
    full = await call("get_price_history", {"ticker": "NVDA", "range": "3mo"})
    assert full.covers == "Aug 28 – Nov 20, 2026" and not full.short_of_range
    assert full.resource().title == "NVDA price history (3mo)"
    short = await call("get_price_history", {"ticker": "NVDA", "range": "1y"})
    assert short.short_of_range and short.covers == "Aug 28 – Nov 20, 2026"
    assert short.resource().title == "NVDA price history, Aug 28 – Nov 20, 2026"  # never "(1y)"
    assert "less than the 1y asked" in short.summary()
    assert short.change_pct == full.change_pct  # measured over the days covered


async def test_portfolio_insider_activity_needs_holdings_and_reports_progress():
    empty = await call("get_portfolio_insider_activity", {}, user_id="nobody")
    assert empty.needs_auth and empty.summary() == "No holdings yet"
    await HoldingsBook().load_demo("someone")
    progress: list[str] = []

    async def report(message, fraction=None):
        progress.append(message)

    spec = REGISTRY.get("get_portfolio_insider_activity")
    ctx = ToolContext(deps=build_providers(get_settings()), user_id="someone", report_progress=report)
    result = await spec(ctx, spec.parse_arguments({"days_back": 365}))
    assert result.scope == "portfolio" and len(result.tickers) == 8
    assert progress[0] == "0/8 tickers" and progress[-1] == "8/8 tickers"
    dates = [t.transaction_date for t in result.trades if t.transaction_date]
    assert dates == sorted(dates, reverse=True)


async def test_sentiment_for_an_unranked_ticker_says_so():
    result = await call("get_reddit_ticker_sentiment", {"ticker": "ZZZZ"})
    assert not result.found and "not among" in result.summary()
    comparison = await call("compare_reddit_sentiment", {"tickers": ["TSLA", "ZZZZ"]})
    assert comparison.most_discussed == "TSLA"


async def test_card_summaries_count_in_the_singular_too():
    one_trade = await call("get_recent_senate_trades", {"limit": 1})
    assert one_trade.summary().startswith("1 trade ·")
    assert (await call("get_reddit_trending_stocks", {"limit": 1})).summary() == "Top 1 ticker · #1 SPY"
    nvda = await call("search_ticker_insider_activity", {"ticker": "NVDA"})
    assert nvda.summary() == "3 Form 4 lines · 1 buy, 1 sell"
    assert (await call("get_recent_house_trades", {"limit": 20})).summary().startswith("20 trades ·")
