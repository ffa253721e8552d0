"""The market tools over bundled sample data: schemas, results, provenance, needs_auth."""

from __future__ import annotations

import pytest

from finch_app.agent.tools import ToolArgumentError, ToolContext
from finch_app.chat_service import build_providers
from finch_app.providers.portfolio import HoldingsBook
from finch_app.settings import get_settings
from finch_app.tools import default_registry

REGISTRY = default_registry()


async def call(name: str, args: dict, user_id: str = "local"):
    spec = REGISTRY.get(name)
    return await spec(ToolContext(deps=build_providers(get_settings()), user_id=user_id), spec.parse_arguments(args))


def test_every_tool_has_a_described_schema():
    for schema in REGISTRY.schemas():
        function = schema["function"]
        assert function["description"], function["name"]
        for name, prop in function["parameters"].get("properties", {}).items():
            assert prop.get("description"), f"{function['name']}.{name}"


@pytest.mark.parametrize(
    ("name", "args"),
    [("compare_tickers", {"tickers": ["AAPL"]}), ("get_quote", {"symbols": []}), ("get_price_history", {"symbol": "<b>"})],
)
def test_bad_arguments_are_refused_by_the_schema(name, args):
    with pytest.raises(ToolArgumentError):
        REGISTRY.get(name).parse_arguments(args)


async def test_quotes_normalise_symbols_and_report_unknown_ones():
    result = await call("get_quote", {"symbols": ["aapl", "$MSFT", "aapl", "ZZZZ"]})
    assert [q.symbol for q in result.quotes] == ["AAPL", "MSFT"] and result.missing == ["ZZZZ"]
    assert result.provenance.mode == "sample" and "sample data as of" in result.provenance.data_note


async def test_history_and_comparison_agree_on_the_30_day_change():
    history = await call("get_price_history", {"symbol": "AMD", "days": 30})
    comparison = await call("compare_tickers", {"tickers": ["AMD", "NVDA"]})
    amd = next(r for r in comparison.rows if r.symbol == "AMD")
    assert amd.change_30d_pct == history.change_pct
    assert history.points[0].date < history.points[-1].date
    assert history.low <= history.last_close <= history.high


async def test_insider_trades_across_the_portfolio_need_holdings():
    empty = await call("get_insider_trades", {}, user_id="nobody")
    assert empty.needs_auth and empty.summary() == "No holdings yet"
    await HoldingsBook().load_demo("someone")
    result = await call("get_insider_trades", {}, user_id="someone")
    assert result.scope == "portfolio" and len(result.tickers) == 8
    dates = [t.transaction_date for t in result.trades if t.transaction_date]
    assert dates == sorted(dates, reverse=True)


async def test_buzz_for_an_unranked_ticker_says_so():
    result = await call("get_ticker_buzz", {"ticker": "ZZZZ"})
    assert not result.found and "not among" in result.summary()
