"""The bundled sample snapshots (formats and quirks) and `SampleMarketData` serving them."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from finch_app.providers import sample
from finch_app.providers.parsing import (
    parse_apewisdom,
    parse_house_transactions,
    parse_senate_transactions,
    parse_yahoo_chart,
)
from finch_app.providers.sample import SAMPLE_DIR, SampleMarketData, sample_as_of

AS_OF = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
CHART_SYMBOLS = sorted(
    ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "TSLA", "JPM", "XOM", "VOO", "SPY", "PLTR", "AMD"]
)


def _load(name: str) -> Any:
    return json.loads((SAMPLE_DIR / name).read_text(encoding="utf-8"))


def _mmddyyyy(text: str) -> date:
    return datetime.strptime(text, "%m/%d/%Y").date()


# ---------------------------------------------------------------- the files


def test_manifest_and_size() -> None:
    assert sample_as_of() == AS_OF
    assert _load("manifest.json")["note"]
    total = sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file())
    assert total < 1_000_000


def test_apewisdom_sample_has_the_source_quirks() -> None:
    payload = _load("apewisdom_all-stocks_page1.json")
    raw = payload["results"]
    assert {"count", "pages", "current_page"} <= payload.keys()
    assert any(isinstance(r["mentions"], str) for r in raw)
    assert any("&amp;" in r["name"] for r in raw)
    assert any(r.get("rank_24h_ago") in (0, "0") for r in raw)
    assert any("rank_24h_ago" not in r for r in raw)

    rows = parse_apewisdom(payload)
    assert len(rows) == len(raw) >= 35
    assert {"SPY", "NVDA", "TSLA", "AAPL", "PLTR", "AMD", "GME"} <= {r.ticker for r in rows}
    assert not any("&amp;" in r.name for r in rows)
    assert all(isinstance(r.mentions, int) for r in rows)
    new = [r for r, src in zip(rows, raw, strict=True) if src.get("rank_24h_ago") in (0, "0", None)]
    assert new and all(r.rank_24h_ago is None for r in new)


def test_house_sample_has_the_source_quirks() -> None:
    raw = _load("house_all_transactions.json")
    assert 70 <= len(raw) <= 90
    assert any("\x00" in r["asset_description"] for r in raw)
    assert any(r["ticker"] == "--" for r in raw)
    assert any(" - " not in r["amount"] for r in raw)  # an exact amount
    for r in raw:
        traded, disclosed = _mmddyyyy(r["transaction_date"]), _mmddyyyy(r["disclosure_date"])
        assert date(2026, 9, 1) <= traded <= date(2026, 11, 18)
        assert traded < disclosed <= date(2026, 11, 20)
    assert len({r["representative"] for r in raw}) >= 4

    rows = parse_house_transactions(raw)
    assert len(rows) == len(raw)
    assert not any("\x00" in r.asset_description for r in rows)
    assert {"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "JPM", "XOM"} <= {r.ticker for r in rows}
    assert any(r.amount_low is not None and r.amount_low == r.amount_high for r in rows)
    assert any(r.ticker is None for r in rows)


def test_senate_sample_has_the_source_quirks() -> None:
    raw = _load("senate_all_transactions.json")
    assert 70 <= len(raw) <= 90
    traded = [_mmddyyyy(r["transaction_date"]) for r in raw]
    assert all(date(2026, 9, 1) <= day <= date(2026, 11, 17) for day in traded)
    lowercase = [r for r in raw if r["ticker"] == "--" and r["asset_description"].islower()]
    assert lowercase
    assert any(r["asset_type"] == "" for r in raw)
    assert {"Purchase", "Sale (Partial)", "Exchange"} <= {r["type"] for r in raw}
    assert len({r["senator"] for r in raw}) >= 4

    rows = parse_senate_transactions(raw)
    assert len(rows) == len(raw)
    by_link = {r.source_url: r for r in rows}
    for r in lowercase:
        assert by_link[r["ptr_link"]].ticker == r["asset_description"].upper()
    assert any(r.asset_type is None for r in rows)
    assert not any("<" in r.asset_description or "&amp;" in r.asset_description for r in rows)


@pytest.mark.parametrize("symbol", CHART_SYMBOLS)
def test_yahoo_chart_samples(symbol: str) -> None:
    payload = _load(f"yahoo_chart/{symbol}.json")
    quote, history = parse_yahoo_chart(payload)
    assert quote.symbol == symbol
    assert quote.as_of == AS_OF
    assert len(history) == 60
    assert history[-1][0] == date(2026, 11, 20)
    assert all(day.weekday() < 5 for day, _ in history)
    assert [day for day, _ in history] == sorted({day for day, _ in history})
    assert quote.price == history[-1][1]
    assert quote.previous_close == history[-2][1]
    assert all(close > 0 and round(close, 2) == close for _, close in history)


def test_a_yahoo_sample_has_a_null_bar() -> None:
    closes = _load("yahoo_chart/AMD.json")["chart"]["result"][0]["indicators"]["quote"][0]["close"]
    assert None in closes
    _, history = parse_yahoo_chart(_load("yahoo_chart/AMD.json"))
    assert len(history) == len(closes) - closes.count(None)


# ---------------------------------------------------------------- SampleMarketData


def test_labels_every_dataset_as_sample_data() -> None:
    market = SampleMarketData(latency_ms=0)

    async def everything() -> list[Any]:
        return await asyncio.gather(
            market.reddit_trending(3),
            market.senate_trades(3),
            market.house_trades(3),
            market.quotes(["AAPL"]),
            market.price_history("AAPL", 10),
        )

    datasets = asyncio.run(everything())
    assert [d.source for d in datasets] == [
        "ApeWisdom (bundled sample)",
        "Senate Stock Watcher (bundled sample)",
        "House Stock Watcher (bundled sample)",
        "Yahoo Finance (bundled sample)",
        "Yahoo Finance (bundled sample)",
    ]
    for dataset in datasets:
        assert dataset.mode == "sample"
        assert dataset.as_of == AS_OF
        assert dataset.note == "sample data as of 2026-11-20"
        assert dataset.rows
    assert market.as_of() == AS_OF


def test_reddit_trending_in_rank_order_with_limit() -> None:
    market = SampleMarketData(latency_ms=0)
    top = asyncio.run(market.reddit_trending(5)).rows
    assert [r.rank for r in top] == [1, 2, 3, 4, 5]
    everything = asyncio.run(market.reddit_trending(1000)).rows
    assert len(everything) == len(_load("apewisdom_all-stocks_page1.json")["results"])
    assert asyncio.run(market.reddit_trending(0)).rows == []


@pytest.mark.parametrize("chamber", ["senate", "house"])
def test_trades_newest_first_with_limit(chamber: str) -> None:
    market = SampleMarketData(latency_ms=0)
    fetch = market.senate_trades if chamber == "senate" else market.house_trades
    rows = asyncio.run(fetch(500)).rows
    assert len(rows) >= 70
    dates = [r.transaction_date for r in rows]
    assert dates == sorted(dates, reverse=True)
    assert all(r.chamber == chamber for r in rows)
    limited = asyncio.run(fetch(7)).rows
    assert limited == rows[:7]


def test_undated_trades_come_last(tmp_path: Path) -> None:
    directory = tmp_path / "sample_data"
    shutil.copytree(SAMPLE_DIR, directory)
    raw = json.loads((directory / "senate_all_transactions.json").read_text(encoding="utf-8"))
    raw.insert(0, raw[0] | {"transaction_date": "--", "ptr_link": "https://example.test/undated/"})
    (directory / "senate_all_transactions.json").write_text(json.dumps(raw), encoding="utf-8")

    rows = asyncio.run(SampleMarketData(latency_ms=0, directory=directory).senate_trades(1000)).rows
    assert len(rows) == len(raw)
    assert rows[-1].source_url == "https://example.test/undated/"
    assert rows[-1].transaction_date is None
    assert all(r.transaction_date is not None for r in rows[:-1])


def test_quotes_for_known_symbols_only() -> None:
    market = SampleMarketData(latency_ms=0)
    rows = asyncio.run(market.quotes(["msft", "NOPE", "AAPL", "MSFT"])).rows
    assert [q.symbol for q in rows] == ["MSFT", "AAPL"]
    assert all(q.previous_close and q.price > 0 for q in rows)
    assert asyncio.run(market.quotes([])).rows == []
    assert market.symbols() == CHART_SYMBOLS


def test_price_history_window() -> None:
    market = SampleMarketData(latency_ms=0)
    month = asyncio.run(market.price_history("nvda", 30)).rows
    assert month[-1].date == date(2026, 11, 20)
    assert month[0].date > date(2026, 11, 20) - timedelta(days=30)
    assert 18 <= len(month) <= 23
    assert [p.date for p in month] == sorted(p.date for p in month)
    assert len(asyncio.run(market.price_history("NVDA", 365)).rows) == 60
    assert asyncio.run(market.price_history("NOPE", 30)).rows == []
    assert asyncio.run(market.price_history("NVDA", 0)).rows == []


def test_latency_is_simulated() -> None:
    market = SampleMarketData(latency_ms=150)
    asyncio.run(market.quotes(["AAPL"]))  # warm the cache: only the simulated delay remains
    started = time.perf_counter()
    asyncio.run(market.quotes(["AAPL"]))
    assert time.perf_counter() - started >= 0.14


def test_each_file_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counting_parse(payload: list[dict[str, Any]]) -> Any:
        calls.append(len(payload))
        return parse_house_transactions(payload)

    monkeypatch.setattr(sample, "parse_house_transactions", counting_parse)
    market = SampleMarketData(latency_ms=0)

    async def concurrently() -> None:
        await asyncio.gather(*(market.house_trades(5) for _ in range(5)))

    asyncio.run(concurrently())
    asyncio.run(market.house_trades(5))  # a second event loop reuses the cache
    assert len(calls) == 1
