"""Holdings: validation, broker CSV imports, per-user storage, and get_portfolio's needs_auth."""

from __future__ import annotations

import pytest

from finch_app.agent.tools import ToolContext
from finch_app.context import build_providers
from finch_app.providers.portfolio import (
    DEMO_POSITIONS,
    DbPortfolio,
    HoldingError,
    HoldingsBook,
    ImportRejected,
    parse_holdings_csv,
    validate_position,
)
from finch_app.settings import get_settings
from finch_app.tools.portfolio import get_portfolio

pytestmark = pytest.mark.persistence

FIDELITY = """\ufeffAccount Number,Account Name,Symbol,Description,Quantity,Last Price,Current Value,Cost Basis Total,Average Cost Basis,Type
Z123,Individual,SPAXX**,HELD IN MONEY MARKET,,,$1234.56,,,Cash
Z123,Individual,AAPL,APPLE INC,40,$268.40,"$10,736.00","$6,884.00",$172.10,Cash
Z123,Individual,NVDA,NVIDIA CORPORATION,55,$187.90,"$10,334.50","$3,366.00",$61.20,Cash
Z456,Roth IRA,AAPL,APPLE INC,10,$268.40,"$2,684.00","$2,000.00",$200.00,Cash
Z123,Individual,Pending Activity,,,,$-12.00,,,

"The data and information in this spreadsheet is provided to you solely for your use..."
"""

SCHWAB = """"Positions for account Individual ...123 as of 09:12 PM ET, 11/20/2026"

"Symbol","Description","Quantity","Price","Price Change %","Market Value","Cost Basis","Gain/Loss $"
"MSFT","MICROSOFT CORP","18","$509.70","0.5%","$9,174.60","$6,092.10","$3,082.50"
"BRK.B","BERKSHIRE HATHAWAY INC CLASS B","5","$470.00","0.1%","$2,350.00","$1,750.00","$600.00"
"Cash & Cash Investments","--","--","--","--","$1,000.00","--","--"
"Account Total","--","--","--","--","$12,524.60","$7,842.10","--"
"""


def test_fidelity_export_merges_accounts_and_skips_cash_and_footers():
    result = parse_holdings_csv(FIDELITY)
    by_symbol = {p.symbol: p for p in result.positions}
    assert set(by_symbol) == {"AAPL", "NVDA"}
    assert by_symbol["AAPL"].shares == 50
    assert by_symbol["AAPL"].cost_basis == pytest.approx((40 * 172.10 + 10 * 200.0) / 50)
    assert by_symbol["NVDA"].name == "NVIDIA CORPORATION"


def test_schwab_export_derives_unit_cost_from_the_total():
    result = parse_holdings_csv(SCHWAB)
    by_symbol = {p.symbol: p for p in result.positions}
    assert set(by_symbol) == {"MSFT", "BRK.B"}
    assert by_symbol["MSFT"].cost_basis == pytest.approx(6092.10 / 18)
    assert by_symbol["BRK.B"].shares == 5


def test_bad_rows_reject_the_whole_file_with_line_numbers():
    with pytest.raises(ImportRejected) as caught:
        parse_holdings_csv("Symbol,Shares,Avg Cost\nAAPL,10,150\nnot a ticker!,5,1\nTSLA,-3,100\n")
    assert [p.split(":")[0] for p in caught.value.problems] == ["line 3", "line 4"]
    assert str(caught.value).startswith("Nothing was imported.")


async def test_a_rejected_import_leaves_the_holdings_as_they_were():
    book = HoldingsBook()
    await book.load_demo("dana")
    with pytest.raises(ImportRejected):
        parse_holdings_csv("Symbol,Quantity\nMSFT,3\nNVDA,abc\n")
    assert len(await book.list("dana")) == len(DEMO_POSITIONS)


def test_a_file_without_positions_is_refused():
    with pytest.raises(HoldingError, match="no Symbol and Quantity"):
        parse_holdings_csv("Date,Amount\n2026-01-01,5\n")
    with pytest.raises(HoldingError, match="No positions"):
        parse_holdings_csv("Symbol,Quantity\n")


@pytest.mark.parametrize(
    ("symbol", "shares", "cost"),
    [
        ("", 1, 1),
        ("AAPL", 0, 1),
        ("AAPL", 1, -5),
        ("<script>", 1, 1),
        ("AAPL", float("inf"), 1),
        ("AAPL", float("nan"), 1),
        ("AAPL", 1, float("nan")),
        ("AAPL", 1, float("inf")),
        ("AAPL", 1e300, 1),
    ],
)
def test_invalid_positions_are_refused_with_a_reason(symbol, shares, cost):
    with pytest.raises(HoldingError):
        validate_position(symbol, shares, cost)


def test_a_csv_with_non_finite_numbers_is_refused():
    with pytest.raises(HoldingError, match="ordinary numbers"):
        parse_holdings_csv("Symbol,Quantity,Average Cost\nAAPL,inf,1\nMSFT,2,NaN\n")


async def test_a_user_keeps_at_most_so_many_holdings_and_a_save_past_it_keeps_nothing():
    from finch_app.providers.portfolio import MAX_HOLDINGS

    book = HoldingsBook()
    symbols = [f"A{n:03d}" for n in range(MAX_HOLDINGS)]
    await book.save("bob", [validate_position(s, 1, 1) for s in symbols])
    with pytest.raises(HoldingError, match=f"at most {MAX_HOLDINGS}"):
        await book.save("bob", [validate_position("ZZZZ", 1, 1)])
    assert len(await book.list("bob")) == MAX_HOLDINGS and "ZZZZ" not in {
        p.symbol for p in await book.list("bob")
    }


async def test_holdings_are_stored_per_user():
    book = HoldingsBook()
    await book.load_demo("alice")
    await book.save("bob", [validate_position("tsla", 3, 200)])
    assert [p.symbol for p in await book.list("bob")] == ["TSLA"]
    assert len(await DbPortfolio().positions("alice")) == len(DEMO_POSITIONS)
    await book.save("bob", [validate_position("TSLA", 5, 210)])  # same symbol: replaced, not duplicated
    assert [(p.symbol, p.shares) for p in await book.list("bob")] == [("TSLA", 5)]
    await book.remove("bob", "TSLA")
    assert await book.list("bob") == []
    assert len(await book.list("alice")) == len(DEMO_POSITIONS)


async def test_get_portfolio_needs_holdings_first_then_values_them():
    deps = build_providers(get_settings())
    empty = await get_portfolio(ToolContext(deps=deps, user_id="carol"), get_portfolio.params_model())
    assert empty.needs_auth and empty.summary() == "No holdings yet"
    await HoldingsBook().load_demo("carol")
    valued = await get_portfolio(ToolContext(deps=deps, user_id="carol"), get_portfolio.params_model())
    assert not valued.needs_auth and len(valued.holdings) == 8
    assert valued.total_value == pytest.approx(sum(h.value for h in valued.holdings), abs=0.05)
    assert sum(h.weight_pct for h in valued.holdings) == pytest.approx(100, abs=0.1)
