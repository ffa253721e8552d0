"""The source parsers against the records the public sources really serve, and their edge cases."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from finch_app.providers.parsing import (
    clean_description,
    parse_amount,
    parse_apewisdom,
    parse_date,
    parse_house_transactions,
    parse_senate_transactions,
    parse_yahoo_chart,
)

DATA = Path(__file__).resolve().parent / "data"
"""Records in the sources' own formats, quirks included (see `tests/data/README.md`)."""


def _real(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- real data


def test_real_apewisdom_page_parses_with_its_quirks() -> None:
    payload = _real("apewisdom_all-stocks_page1.json")
    rows = parse_apewisdom(payload)
    assert len(rows) == len(payload["results"])
    by_ticker = {r.ticker: r for r in rows}

    assert by_ticker["SPY"].name == "SPDR S&P 500 ETF Trust"
    assert by_ticker["JNJ"].name == "Johnson & Johnson"
    nvda = by_ticker["NVDA"]  # every number a string in the source
    numbers = (nvda.mentions, nvda.upvotes, nvda.rank_24h_ago, nvda.mentions_24h_ago)
    assert numbers == (587, 4410, 1, 603)
    assert by_ticker["ASTS"].rank_24h_ago is None  # "0": new to the ranking
    assert by_ticker["ASTS"].mentions_24h_ago == 19
    assert by_ticker["GME"].rank_24h_ago is None  # fields missing
    assert by_ticker["GME"].mentions_24h_ago is None
    assert [r.rank for r in rows] == [1, 2, 3, 4, 5, 6]


def test_real_house_transactions_all_parse_clean() -> None:
    payload = _real("house_all_transactions.json")
    rows = parse_house_transactions(payload)
    assert len(rows) == len(payload)
    assert all(r.chamber == "house" for r in rows)
    assert not any("\x00" in r.asset_description for r in rows)
    assert all(r.transaction_date and r.disclosure_date for r in rows)

    by_ticker = {r.ticker: r for r in rows}
    # The PDF extraction's NUL-garbled filing notes go; the asset name stays.
    assert by_ticker["CAH"].asset_description == "Cardinal Health, Inc. Common Stock"
    assert by_ticker["SOLS"].asset_description == "Solstice Advanced Materials Inc. - Common Stock (SOLS)"
    assert by_ticker["NVDA"].asset_description == "NVIDIA Corporation - Common Stock"
    assert by_ticker["SPGI"].asset_description == "S&P Global Inc. Common Stock"

    exact = by_ticker["ENTG"]
    assert exact.amount == "$4,918.36"
    assert exact.amount_low == exact.amount_high == 4918.36

    ranged = by_ticker["AGX"]
    assert (ranged.amount_low, ranged.amount_high) == (15001, 50000)

    abt = by_ticker["ABT"]
    assert abt.member == "Gideon R. Halvorsen"
    assert abt.district == "WA09"
    assert abt.transaction_type == "Sale"
    assert abt.transaction_date == date(2026, 7, 8)
    assert abt.disclosure_date == date(2026, 7, 9)
    assert abt.source_url and abt.source_url.endswith("20035087.pdf")


def test_real_senate_transactions_all_parse_clean() -> None:
    payload = _real("senate_all_transactions.json")
    rows = parse_senate_transactions(payload)
    # Every row names a security or a filing; none is dropped.
    assert len(rows) == len(payload)
    assert all(r.chamber == "senate" and r.member for r in rows)
    assert all(r.transaction_date is not None for r in rows)
    assert not any("<" in r.asset_description or "&amp;" in r.asset_description for r in rows)

    for raw, row in zip(payload, rows, strict=True):
        assert row.member == raw["senator"]
        assert row.source_url == raw["ptr_link"]
        assert row.transaction_type == raw["type"]
        if raw["ticker"] == "--" and raw["asset_description"] in {"msft", "aapl", "ba", "zm"}:
            assert row.ticker == raw["asset_description"].upper()
        elif raw["ticker"] in {"--", "N/A"}:
            assert row.ticker is None
        else:
            assert row.ticker == raw["ticker"]

    resolved = {r.ticker for r, raw in zip(rows, payload, strict=True) if raw["ticker"] == "--"}
    assert {"MSFT", "AAPL", "BA", "ZM"} <= resolved
    walmart = next(r for r in rows if r.asset_description == "Walmart Inc.")
    assert walmart.ticker is None  # a company name is not a ticker

    pdf = next(r for r in rows if r.asset_type == "PDF Disclosed Filing")
    assert pdf.ticker is None
    assert (pdf.amount_low, pdf.amount_high) == (None, None)  # "Unknown"

    bond = next(r for r in rows if r.asset_description.startswith("FORD MOTOR CREDIT"))
    assert bond.asset_description == "FORD MOTOR CREDIT CO LLC; Rate/Coupon: 3.35%; Matures: 11/01/22"
    exchange = next(r for r in rows if r.ticker == "CARR")
    assert exchange.asset_description == (
        "United Technologies Corporation (Exchanged); Carrier Global Corporation (Received)"
    )
    private = next(r for r in rows if r.asset_description.startswith("Larchmont"))
    assert private.asset_description == (
        "Larchmont Mills & Co.; Company: Larchmont Mills & Co. (Wilmington, DE); "
        "Description: Specialty textiles manufacturer."
    )
    assert any(r.asset_description == "JPMorgan Chase & Co." for r in rows)
    assert {"BRK-B", "RDS-B"} <= {r.ticker for r in rows}

    first = rows[0]
    assert first.transaction_date == date(2020, 11, 10)
    assert (first.amount_low, first.amount_high) == (50001, 100000)


def test_parsers_are_fast_on_large_feeds() -> None:
    payload = _real("senate_all_transactions.json") * 380  # 30,020 rows
    started = time.perf_counter()
    rows = parse_senate_transactions(payload)
    assert len(rows) == len(payload)
    assert time.perf_counter() - started < 5


# ---------------------------------------------------------------- pieces


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("$1,001 - $15,000", (1001, 15000)),
        ("$1,000,001 - $5,000,000", (1_000_001, 5_000_000)),
        ("$2,722.50", (2722.5, 2722.5)),
        ("$50,000,000 +", (50_000_000, None)),
        ("Over $50,000,000", (50_000_000, None)),
        ("Unknown", (None, None)),
        ("", (None, None)),
    ],
)
def test_parse_amount(text: str, bounds: tuple[float | None, float | None]) -> None:
    assert parse_amount(text) == bounds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("07/08/2026", date(2026, 7, 8)),
        ("7/8/2026", date(2026, 7, 8)),
        ("2026-07-08", date(2026, 7, 8)),
        ("2026-07-08T00:00:00", date(2026, 7, 8)),
        ("13/45/2026", None),
        ("--", None),
        ("", None),
    ],
)
def test_parse_date(text: str, expected: date | None) -> None:
    assert parse_date(text) == expected


def test_clean_description_keeps_the_name_and_drops_garbled_notes() -> None:
    text = "Apple Inc. F\x00\x00\x00\x00\x00 S\x00\x00\x00\x00\x00: New O\x00: Roth IRA"
    assert clean_description(text) == "Apple Inc."
    assert clean_description("\x00\x00Apple Inc.") == "Apple Inc."
    assert clean_description("AT&amp;T   Inc.") == "AT&T Inc."


def _house_row(**overrides: Any) -> dict[str, Any]:
    row = {
        "transaction_date": "10/01/2026",
        "disclosure_date": "10/20/2026",
        "ticker": "AAPL",
        "asset_description": "Apple Inc. - Common Stock",
        "asset_type": "Stock",
        "type": "Purchase",
        "amount": "$1,001 - $15,000",
        "representative": "Jane Doe",
        "district": "OH12",
        "owner": "Self",
        "source_url": "https://example.test/1.pdf",
    }
    return row | overrides


def test_house_placeholder_tickers_and_bad_dates() -> None:
    rows = parse_house_transactions(
        [
            _house_row(ticker="--"),
            _house_row(ticker=""),
            _house_row(ticker="N/A"),
            _house_row(ticker=" msft "),
            _house_row(transaction_date="2026-10-02", disclosure_date="not a date"),
        ]
    )
    assert [r.ticker for r in rows] == [None, None, None, "MSFT", "AAPL"]
    assert rows[4].transaction_date == date(2026, 10, 2)
    assert rows[4].disclosure_date is None


def test_one_bad_row_does_not_sink_the_payload() -> None:
    rows = parse_house_transactions(
        [
            _house_row(),
            "not a row",
            _house_row(representative=""),
            {"ticker": "X"},
            _house_row(ticker="NVDA"),
        ]
    )
    assert [r.ticker for r in rows] == ["AAPL", "NVDA"]

    page = {
        "results": [
            {"rank": 1, "ticker": "SPY", "name": "S&amp;P", "mentions": 5, "upvotes": 1},
            {"rank": 2, "ticker": "", "name": "nothing", "mentions": 4, "upvotes": 1},
            {"rank": "two", "ticker": "GME", "name": "GameStop", "mentions": 4, "upvotes": 1},
            {"rank": "3", "ticker": "amc", "name": "AMC", "mentions": "1,204", "upvotes": None},
        ]
    }
    reddit = parse_apewisdom(page)
    assert [(r.ticker, r.mentions, r.upvotes) for r in reddit] == [("SPY", 5, 1), ("AMC", 1204, 0)]


def test_payload_of_the_wrong_shape_is_an_error() -> None:
    with pytest.raises(ValueError, match="expected a list"):
        parse_senate_transactions({"rows": []})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected an object"):
        parse_apewisdom([])  # type: ignore[arg-type]


def test_senate_description_ticker_only_when_it_looks_like_one() -> None:
    base = {
        "transaction_date": "11/02/2026",
        "owner": "Spouse",
        "ticker": "--",
        "asset_type": "",
        "type": "Sale (Partial)",
        "amount": "$15,001 - $50,000",
        "comment": "--",
        "senator": "John Roe",
        "ptr_link": "https://example.test/ptr/1/",
    }
    descriptions = ["nvda", "brk.b", "Visa", "Walmart Inc.", "toolongname"]
    rows = parse_senate_transactions([base | {"asset_description": d} for d in descriptions])
    assert [r.ticker for r in rows] == ["NVDA", "BRK.B", None, None, None]
    assert all(r.asset_type is None for r in rows)


# ---------------------------------------------------------------- Yahoo chart

# 2026-11-18/19/20 09:30 New York (EST, UTC-5) and 16:00 on the 20th.
STAMPS = [1795012200, 1795098600, 1795185000]
CLOSE_20TH = 1795208400


def _chart(**meta_overrides: Any) -> dict[str, Any]:
    meta = {
        "currency": "USD",
        "symbol": "AAPL",
        "gmtoffset": -18000,
        "regularMarketPrice": 268.4,
        "regularMarketTime": CLOSE_20TH,
        "chartPreviousClose": 250.0,
    } | meta_overrides
    return {
        "chart": {
            "result": [
                {
                    "meta": meta,
                    "timestamp": STAMPS,
                    "indicators": {"quote": [{"close": [265.1, None, 268.4]}]},
                }
            ],
            "error": None,
        }
    }


def test_yahoo_chart_quote_and_history() -> None:
    quote, history = parse_yahoo_chart(_chart())
    assert quote.symbol == "AAPL"
    assert quote.price == 268.4
    assert quote.currency == "USD"
    assert quote.as_of == datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    # The null bar of the 19th is skipped; bars are dated in New York time.
    assert history == [(date(2026, 11, 18), 265.1), (date(2026, 11, 20), 268.4)]
    # chartPreviousClose is the close before the range; the previous session is the bar before.
    assert quote.previous_close == 265.1


def test_yahoo_chart_previous_close_sources() -> None:
    quote, _ = parse_yahoo_chart(_chart(previousClose=266.0))
    assert quote.previous_close == 266.0

    payload = _chart()
    result = payload["chart"]["result"][0]
    result["timestamp"] = STAMPS[-1:]
    result["indicators"]["quote"][0]["close"] = [268.4]
    quote, history = parse_yahoo_chart(payload)  # a one-day range
    assert quote.previous_close == 250.0
    assert history == [(date(2026, 11, 20), 268.4)]


def test_yahoo_chart_errors() -> None:
    error = {"code": "Not Found", "description": "No data found, symbol may be delisted"}
    not_found = {"chart": {"result": None, "error": error}}
    with pytest.raises(ValueError, match="symbol may be delisted"):
        parse_yahoo_chart(not_found)
    with pytest.raises(ValueError, match="no result"):
        parse_yahoo_chart({"chart": {"result": [], "error": None}})
    with pytest.raises(ValueError, match="not a Yahoo chart"):
        parse_yahoo_chart({"finance": {"error": "bad request"}})
