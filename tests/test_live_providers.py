"""The live data sources against a loopback server speaking their wire formats, and the
auto/live/offline policy around them: caching, fallbacks and their labels.

Each test points every `FINCH_*_URL` at `tests.fakes.data_sources.DataSourcesServer`,
which serves the real records of `shared/real-data` and records every request.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from finch_app.chat_service import build_providers
from finch_app.providers import live as live_module
from finch_app.providers.base import DataUnavailable
from finch_app.providers.cache import CacheKey, DataCache
from finch_app.providers.live import LiveMarketData
from finch_app.providers.market import MarketDataService
from finch_app.providers.records import DataSet, RedditTicker
from finch_app.providers.sample import SampleMarketData
from finch_app.settings import Settings, get_settings, reset_settings
from tests.fakes.data_sources import FMP_API_KEY, DataSourcesServer

SEC_CONTACT = "finch-tests@example.com"
SAMPLE_NOTE = "sample data as of 2026-11-20"


@pytest.fixture
def sources(monkeypatch: pytest.MonkeyPatch) -> Iterator[DataSourcesServer]:
    """The fake sources, with every source URL setting pointing at them."""
    with DataSourcesServer() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("FINCH_SEC_CONTACT", SEC_CONTACT)
        monkeypatch.delenv("FMP_API_KEY", raising=False)
        reset_settings()
        yield server


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Set environment variables (None unsets) and return the settings they make."""

    def apply(**env: str | None) -> Settings:
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        reset_settings()
        return get_settings()

    return apply


@pytest.fixture
async def closing() -> AsyncIterator[Callable[[Any], Any]]:
    """Register providers whose HTTP client is closed after the test."""
    opened: list[Any] = []
    yield lambda provider: opened.append(provider) or provider
    for provider in opened:
        await provider.aclose()


def _live(settings: Settings, cache: DataCache | None = None) -> LiveMarketData:
    return LiveMarketData(settings, cache or DataCache(settings.data_dir / "cache"))


def _clock_ahead(settings: Settings, ahead: timedelta) -> DataCache:
    """The app's cache as seen `ahead` in the future."""
    return DataCache(settings.data_dir / "cache", now=lambda: datetime.now(UTC) + ahead)


def _service(settings: Settings, *, cache: DataCache | None = None, **kwargs: Any) -> MarketDataService:
    cache = cache or DataCache(settings.data_dir / "cache")
    return MarketDataService(
        mode=settings.data_mode,
        live=LiveMarketData(settings, cache),
        sample=SampleMarketData(latency_ms=0),
        cache=cache,
        **kwargs,
    )


# ---------------------------------------------------------------- each source, parsed live


async def test_apewisdom_ranking_and_ticker_buzz(sources: DataSourcesServer, closing) -> None:
    live = closing(_live(get_settings()))
    trending = await live.reddit_trending(10)
    first_page = sources.apewisdom_pages[1]["results"]
    assert (trending.mode, trending.source) == ("live", "ApeWisdom")
    assert [r.ticker for r in trending.rows] == [r["ticker"] for r in first_page][:10]
    assert not any("&amp;" in r.name for r in trending.rows)
    assert sources.seen("apewisdom")[0].path == "/api/v1.0/filter/all-stocks/page/1"

    on_first = first_page[0]["ticker"]
    assert [r.ticker for r in (await live.ticker_buzz(on_first.lower())).rows] == [on_first]
    on_second = sources.apewisdom_pages[2]["results"][0]["ticker"]
    buzz = await live.ticker_buzz(f"${on_second}")
    assert [(r.ticker, r.rank) for r in buzz.rows] == [(on_second, 101)]

    before = len(sources.seen("apewisdom"))
    unknown = await live.ticker_buzz("ZZZZ")
    assert unknown.rows == [] and "ZZZZ is not among" in (unknown.note or "")
    assert len(sources.seen("apewisdom")) - before == live_module.BUZZ_MAX_PAGES


async def test_house_trades_all_parse_newest_first(sources: DataSourcesServer, closing) -> None:
    data = await closing(_live(get_settings())).house_trades(500)
    assert (data.mode, data.source) == ("live", "House Stock Watcher")
    assert len(data.rows) == len(sources.house_rows)
    dates = [t.transaction_date for t in data.rows]
    assert dates == sorted(dates, reverse=True)
    assert not any("\x00" in t.asset_description for t in data.rows)
    assert sources.seen("house")[0].headers["user-agent"].startswith("Finch/")


async def test_senate_without_fmp_key_is_the_labelled_historic_archive(
    sources: DataSourcesServer, closing
) -> None:
    data = await closing(_live(get_settings())).senate_trades(20)
    assert (data.mode, data.source) == ("live", "Senate Stock Watcher")
    assert len(data.rows) == 20
    assert data.rows[0].transaction_date == max(t.transaction_date for t in data.rows)
    assert data.as_of.date() == data.rows[0].transaction_date
    assert "historic" in (data.note or "") and "FMP_API_KEY" in (data.note or "")
    assert sources.seen("fmp") == []


async def test_senate_with_fmp_key_comes_from_fmp(sources: DataSourcesServer, configure, closing) -> None:
    live = closing(_live(configure(FMP_API_KEY=FMP_API_KEY)))
    data = await live.senate_trades(10)
    assert (data.source, data.note) == ("Financial Modeling Prep", None)
    assert [(t.member, t.ticker, t.transaction_date) for t in data.rows] == [
        ("Avery Lindholm", "NVDA", date(2026, 11, 3)),
        ("Rosa Delacroix", None, date(2026, 10, 30)),
        ("Rosa Delacroix", "MSFT", date(2026, 10, 29)),
    ]
    assert data.rows[0].disclosure_date == date(2026, 11, 18)
    assert data.rows[2].amount_low == 1001
    assert sources.seen("fmp")[0].query["apikey"] == FMP_API_KEY
    assert sources.seen("senate") == []


async def test_a_refused_fmp_key_is_reported_without_the_key(
    sources: DataSourcesServer, configure, closing
) -> None:
    live = closing(_live(configure(FMP_API_KEY="wrong-secret-key")))
    with pytest.raises(DataUnavailable) as caught:
        await live.senate_trades(10)
    assert caught.value.source == "Financial Modeling Prep"
    assert "HTTP 401" in str(caught.value) and "wrong-secret-key" not in str(caught.value)


async def test_yahoo_quotes_and_price_history(sources: DataSourcesServer, closing) -> None:
    live = closing(_live(get_settings()))
    quotes = await live.quotes(["aapl", "NOPE", "MSFT", "AAPL"])
    assert [q.symbol for q in quotes.rows] == ["AAPL", "MSFT"]  # unknown symbols are absent
    assert all(q.previous_close and q.price > 0 for q in quotes.rows)
    assert quotes.as_of.date() == date(2026, 11, 20)
    asked = sources.seen("yahoo")
    assert {r.query["range"] for r in asked} == {"5d"}
    assert all(r.headers["user-agent"].startswith("Mozilla/5.0") for r in asked)

    month = await live.price_history("nvda", 30)
    assert sources.seen("yahoo")[-1].query == {"range": "1mo", "interval": "1d"}
    assert month.rows[-1].date == date(2026, 11, 20)
    assert month.rows[0].date > date(2026, 10, 21)
    assert [p.date for p in month.rows] == sorted(p.date for p in month.rows)
    assert len(month.rows) == 20  # 21 bars, one of them null
    year = await live.price_history("NVDA", 365)
    assert sources.seen("yahoo")[-1].query["range"] == "1y"
    assert len(year.rows) > 200

    missing = await live.price_history("NOPE", 30)
    assert missing.rows == [] and "NOPE" in (missing.note or "")


async def test_sec_insider_trades_from_form4_xml(sources: DataSourcesServer, closing) -> None:
    live = closing(_live(get_settings()))
    data = await live.insider_trades("aapl", 50)
    assert (data.mode, data.source) == ("live", "SEC EDGAR")
    assert [t.code for t in data.rows] == ["S", "M", "F", "M", "A"]
    sale = data.rows[0]
    assert (sale.insider, sale.relationship) == ("HALVORSEN MARIT J", "Officer: SVP, Worldwide Retail")
    amounts = (sale.shares, sale.price, sale.acquired_disposed, sale.shares_owned_after)
    assert amounts == (18000, 266.0412, "D", 96215)
    assert sale.transaction_date == date(2026, 11, 14) and sale.filing_date == date(2026, 11, 18)
    assert sale.code_description == "Open-market or private sale"
    assert sale.filing_url and sale.filing_url.endswith("/xslF345X05/wk-form4_1795467012.xml")
    assert [t.derivative for t in data.rows].count(True) == 1

    archive = sources.seen("sec_archive")
    assert len(archive) == 3  # the Form 4s only, not the 10-Q or the 8-K
    assert all("/xsl" not in r.path for r in archive)  # the raw XML, not the rendered view
    assert sources.seen("sec_submissions")[0].path == "/submissions/CIK0000320193.json"
    for request in sources.requests:
        assert SEC_CONTACT in request.headers["user-agent"]

    nvda = await live.insider_trades("NVDA", 1)
    assert [t.insider for t in nvda.rows] == ["TANAKA-ROSS KENJI; TANAKA-ROSS FAMILY TRUST"]
    assert nvda.rows[0].direct_ownership is False
    assert len(sources.seen("sec_tickers")) == 1  # the ticker table is cached

    no_form4 = await live.insider_trades("MSFT", 10)
    assert no_form4.rows == [] and "no recent Form 4" in (no_form4.note or "")
    unknown = await live.insider_trades("ZZZZ", 10)
    assert unknown.rows == [] and "ZZZZ" in (unknown.note or "")


async def test_sec_is_not_asked_without_a_contact(sources: DataSourcesServer, configure, closing) -> None:
    live = closing(_live(configure(FINCH_SEC_CONTACT=None)))
    with pytest.raises(DataUnavailable, match="FINCH_SEC_CONTACT"):
        await live.insider_trades("AAPL", 10)
    assert sources.requests == []


# ---------------------------------------------------------------- retries


async def test_429_then_success_waits_for_retry_after(sources: DataSourcesServer, closing) -> None:
    sources.fail("apewisdom", status=429, retry_after="1", times=1)
    data = await closing(_live(get_settings())).reddit_trending(5)
    assert len(data.rows) == 5
    first, second = sources.seen("apewisdom")
    assert second.at - first.at >= 0.9


async def test_5xx_is_retried_then_reported(sources: DataSourcesServer, configure, closing) -> None:
    live = closing(_live(configure(FINCH_HTTP_MAX_RETRIES="1")))
    sources.fail("house", status=502, times=1)
    assert (await live.house_trades(3)).rows
    assert len(sources.seen("house")) == 2

    sources.fail("house", status=503)
    with pytest.raises(DataUnavailable, match=r"House Stock Watcher is failing: HTTP 503 after 2 tries"):
        await live.house_trades(3)
    assert len(sources.seen("house")) == 4


async def test_a_long_retry_after_is_not_waited_for(sources: DataSourcesServer, closing) -> None:
    sources.fail("yahoo", status=429, retry_after="120")
    with pytest.raises(DataUnavailable, match="rate-limiting") as caught:
        await closing(_live(get_settings())).price_history("AAPL", 30)
    assert caught.value.reason == "live source rate-limited"
    assert len(sources.seen("yahoo")) == 1


# ---------------------------------------------------------------- big payloads


async def test_big_json_is_parsed_off_the_event_loop(
    sources: DataSourcesServer, monkeypatch: pytest.MonkeyPatch, closing
) -> None:
    sources.house_rows = sources.house_rows * 250  # ~1 MB, well above the inline limit
    ticks = 0
    at_parse_start: list[int] = []
    ticked_during_parse = threading.Event()
    real_parse = live_module.parse_house_transactions

    def parse_while_the_loop_ticks(payload: list[dict[str, Any]]) -> Any:
        at_parse_start.append(ticks)
        # Only a free event loop can advance the ticker while this waits.
        ticked_during_parse.wait(timeout=5)
        return real_parse(payload)

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1
            if at_parse_start and ticks - at_parse_start[0] >= 3:
                ticked_during_parse.set()

    monkeypatch.setattr(live_module, "parse_house_transactions", parse_while_the_loop_ticks)
    ticking = asyncio.create_task(ticker())
    try:
        data = await closing(_live(get_settings())).house_trades(10)
    finally:
        ticking.cancel()
    assert ticked_during_parse.is_set()
    assert len(data.rows) == 10


# ---------------------------------------------------------------- modes and fallbacks


async def test_offline_mode_never_touches_the_network(sources: DataSourcesServer, configure, closing) -> None:
    market = closing(MarketDataService.from_settings(configure(FINCH_DATA_MODE="offline")))
    results = await asyncio.gather(
        market.reddit_trending(5),
        market.ticker_buzz("NVDA"),
        market.senate_trades(5),
        market.house_trades(5),
        market.quotes(["AAPL", "MSFT"]),
        market.price_history("AAPL", 30),
        market.insider_trades("AAPL", 5),
    )
    for data in results:
        assert data.mode == "sample" and data.note == SAMPLE_NOTE and data.rows
    assert sources.requests == []


async def test_auto_mode_serves_live_data_and_caches_it_on_disk(
    sources: DataSourcesServer, configure, closing
) -> None:
    settings = configure(FINCH_DATA_MODE="auto")
    first = await closing(_service(settings)).reddit_trending(3)
    assert first.mode == "live"

    # A new provider (a restarted app) finds the fresh copy on disk: no request.
    again = await closing(_service(settings)).reddit_trending(3)
    assert again.mode == "live" and again.rows == first.rows
    assert len(sources.seen("apewisdom")) == 1
    assert list((settings.data_dir / "cache").glob("apewisdom--*.json"))


async def test_auto_mode_falls_back_to_the_last_good_copy(
    sources: DataSourcesServer, configure, closing
) -> None:
    settings = configure(FINCH_DATA_MODE="auto", FINCH_HTTP_MAX_RETRIES="0")
    live = await closing(_service(settings)).house_trades(5)
    sources.fail("house", status=503)

    two_hours_later = _clock_ahead(settings, timedelta(hours=2))
    data = await closing(_service(settings, cache=two_hours_later)).house_trades(5)
    assert (data.mode, data.note) == ("cached", "cached 2 h ago — live source unreachable")
    assert data.rows == live.rows and data.source == "House Stock Watcher"
    assert len(sources.seen("house")) > 1  # the live source was tried first


async def test_a_cached_copy_keeps_its_own_note(sources: DataSourcesServer, configure, closing) -> None:
    settings = configure(FINCH_DATA_MODE="auto", FINCH_HTTP_MAX_RETRIES="0")
    await closing(_service(settings)).senate_trades(5)
    sources.fail("senate", status=503)
    later = _clock_ahead(settings, timedelta(minutes=90))
    data = await closing(_service(settings, cache=later)).senate_trades(5)
    assert data.mode == "cached"
    assert (data.note or "").startswith("cached 1 h ago — live source unreachable; historic archive")


async def test_auto_mode_falls_back_to_sample_data(sources: DataSourcesServer, configure, closing) -> None:
    sources.fail("apewisdom", status=503)
    market = closing(_service(configure(FINCH_DATA_MODE="auto", FINCH_HTTP_MAX_RETRIES="0")))
    data = await market.reddit_trending(5)
    assert (data.mode, data.source) == ("sample", "ApeWisdom (bundled sample)")
    assert data.note == f"{SAMPLE_NOTE} — live source unreachable"
    assert len(data.rows) == 5


async def test_auto_mode_says_why_sec_was_not_asked(sources: DataSourcesServer, configure, closing) -> None:
    market = closing(_service(configure(FINCH_DATA_MODE="auto", FINCH_SEC_CONTACT=None)))
    data = await market.insider_trades("NVDA", 5)
    assert data.mode == "sample" and data.rows
    assert data.note == f"{SAMPLE_NOTE} — live source not configured (set FINCH_SEC_CONTACT)"


async def test_a_failing_source_is_skipped_for_a_while(
    sources: DataSourcesServer, configure, closing
) -> None:
    sources.fail("yahoo", status=None, delay_s=5)  # hangs past the client's timeout
    settings = configure(FINCH_DATA_MODE="auto", FINCH_HTTP_TIMEOUT_S="0.3")
    market = closing(_service(settings))

    first = await market.quotes(["AAPL"])
    assert first.mode == "sample" and "live source unreachable" in (first.note or "")
    assert len(sources.seen("yahoo")) == 1

    second = await market.price_history("AAPL", 30)  # same source: answered without asking it
    assert second.mode == "sample"
    assert len(sources.seen("yahoo")) == 1
    assert (await market.reddit_trending(3)).mode == "live"  # other sources are still asked

    sources.heal()
    retried = closing(_service(settings, failure_memory_s=0))
    assert (await retried.quotes(["AAPL"])).mode == "live"


async def test_live_mode_raises_a_clear_error(sources: DataSourcesServer, configure, closing) -> None:
    settings = configure(FINCH_DATA_MODE="live", FINCH_HTTP_MAX_RETRIES="0")
    await closing(_service(settings)).reddit_trending(5)  # leaves a cached copy
    sources.fail("apewisdom", status=503)
    stale = _clock_ahead(settings, timedelta(hours=1))
    with pytest.raises(DataUnavailable) as caught:
        await closing(_service(settings, cache=stale)).reddit_trending(5)
    assert caught.value.source == "ApeWisdom"
    assert str(caught.value) == "ApeWisdom is failing: HTTP 503"


async def test_live_mode_reports_an_unreachable_source(configure, closing) -> None:
    unused_port = "http://127.0.0.1:9"  # discard port: nothing listens there
    market = closing(_service(configure(FINCH_DATA_MODE="live", FINCH_YAHOO_BASE_URL=unused_port)))
    with pytest.raises(DataUnavailable, match=r"^Yahoo Finance is unreachable: "):
        await market.quotes(["AAPL"])


async def test_quotes_keep_the_order_asked_from_a_cached_copy(
    sources: DataSourcesServer, configure, closing
) -> None:
    market = closing(_service(configure(FINCH_DATA_MODE="auto")))
    assert [q.symbol for q in (await market.quotes(["MSFT", "AAPL"])).rows] == ["MSFT", "AAPL"]
    assert [q.symbol for q in (await market.quotes(["aapl", "MSFT"])).rows] == ["AAPL", "MSFT"]
    assert len(sources.seen("yahoo")) == 2


def test_the_app_uses_the_market_data_service(configure) -> None:
    providers = build_providers(configure(FINCH_DATA_MODE="auto"))
    assert isinstance(providers.market, MarketDataService)
    assert providers.market.mode == "auto"


# ---------------------------------------------------------------- the cache itself


async def test_cache_fresh_within_ttl_and_last_good_after(tmp_path: Path) -> None:
    key = CacheKey("apewisdom", "top:1")
    kind = DataSet[RedditTicker]
    value = kind(rows=[], source="ApeWisdom", as_of=datetime.now(UTC), mode="live")
    await DataCache(tmp_path).put(key, value)

    restarted = DataCache(tmp_path)
    fresh = await restarted.fresh(key, kind)
    assert fresh is not None and fresh.value == value

    later = DataCache(tmp_path, now=lambda: datetime.now(UTC) + key.ttl + timedelta(seconds=1))
    assert await later.fresh(key, kind) is None
    assert (await later.last_good(key, kind)).value == value  # type: ignore[union-attr]
    assert await later.last_good(CacheKey("apewisdom", "top:2"), kind) is None


async def test_an_unreadable_cache_file_counts_as_missing(tmp_path: Path) -> None:
    key = CacheKey("house")
    (tmp_path / key.filename).write_text("{not json", encoding="utf-8")
    assert await DataCache(tmp_path).last_good(key, DataSet[RedditTicker]) is None


# ---------------------------------------------------------------- the bundled Form 4 sample


async def test_sample_form4s_parse_with_their_quirks() -> None:
    sample = SampleMarketData(latency_ms=0)
    tesla = (await sample.insider_trades("TSLA", 10)).rows
    assert tesla[0].form == "4/A"  # an amendment, filed last
    dividend_purchase = next(t for t in tesla if t.code == "P")
    assert dividend_purchase.price is None  # given only as a footnote
    assert dividend_purchase.value is None
    nvidia = (await sample.insider_trades("nvda", 10)).rows
    assert nvidia[1].transaction_date == date(2026, 10, 22)  # filed as "2026-10-22-05:00"
    assert nvidia[1].value == pytest.approx(5000 * 181.24)
    assert "Director" in nvidia[0].relationship and "Officer: President and CEO" in nvidia[0].relationship

    other = await sample.insider_trades("MSFT", 10)
    assert other.rows == []
    assert other.note == f"{SAMPLE_NOTE}; the sample has Form 4 filings of AAPL, NVDA, TSLA only"
