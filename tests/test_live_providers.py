"""The live data sources against a loopback server speaking their wire formats, and the
auto/live/offline policy around them: caching, fallbacks and their labels.

Each test points every `FINCH_*_URL` at `tests.fakes.data_sources.DataSourcesServer`,
which serves the records of `tests/data` and records every request.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import create_engine, select

from finch_app.context import build_providers
from finch_app.db.engine import session_scope
from finch_app.db.models import CachedResponse
from finch_app.providers import live as live_module
from finch_app.providers import sec as sec_module
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
    return LiveMarketData(settings, cache or DataCache())


def _clock_ahead(settings: Settings, ahead: timedelta) -> DataCache:
    """The app's cache (a new instance on the app's database) as seen `ahead` in the future."""
    return DataCache(now=lambda: datetime.now(UTC) + ahead)


def _service(settings: Settings, *, cache: DataCache | None = None, **kwargs: Any) -> MarketDataService:
    cache = cache or DataCache()
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
    with pytest.raises(DataUnavailable, match="^Live SEC data is off on this server$") as caught:
        await live.insider_trades("AAPL", 10)
    assert "FINCH_SEC_CONTACT" in caught.value.detail  # for the log and the operator, not the user
    assert sources.requests == []


# ---------------------------------------------------------------- SEC EDGAR: latest Form 4s, market-wide

LATEST_FEED = b"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Latest Filings - Thu, 19 Nov 2026 17:12:40 EST</title>
<link rel="alternate" href="/cgi-bin/browse-edgar?action=getcurrent"/>
<link rel="self" href="/cgi-bin/browse-edgar?action=getcurrent"/>
<id>https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent</id>
<author><name>Webmaster</name><email>webmaster@sec.gov</email></author>
<updated>2026-11-19T17:12:40-05:00</updated>
<entry>
<title>4 - M\xdcLLER J\xd6RG (0001999001) (Reporting)</title>
<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/1999001/000199900126000003/0001999001-26-000003-index.htm"/>
<summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; 2026-11-19 &lt;b&gt;AccNo:&lt;/b&gt; 0001999001-26-000003 &lt;b&gt;Size:&lt;/b&gt; 5 KB</summary>
<updated>2026-11-19T17:12:40-05:00</updated>
<category scheme="https://www.sec.gov/" label="form type" term="4"/>
<id>urn:tag:sec.gov,2008:accession-number=0001999001-26-000003</id>
</entry>
<entry>
<title>4 - AT&amp;T INC. (0000732717) (Issuer)</title>
<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/732717/000199900126000003/0001999001-26-000003-index.htm"/>
<summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; 2026-11-19 &lt;b&gt;AccNo:&lt;/b&gt; 0001999001-26-000003 &lt;b&gt;Size:&lt;/b&gt; 5 KB</summary>
<updated>2026-11-19T17:12:40-05:00</updated>
<category scheme="https://www.sec.gov/" label="form type" term="4"/>
<id>urn:tag:sec.gov,2008:accession-number=0001999001-26-000003</id>
</entry>
<entry>
<title>424B2 - Morgan Stanley Finance LLC (0001631596) (Filer)</title>
<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/1631596/000110465926118734/0001104659-26-118734-index.htm"/>
<summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; 2026-11-19 &lt;b&gt;AccNo:&lt;/b&gt; 0001104659-26-118734 &lt;b&gt;Size:&lt;/b&gt; 48 KB</summary>
<updated>2026-11-19T17:10:02-05:00</updated>
<category scheme="https://www.sec.gov/" label="form type" term="424B2"/>
<id>urn:tag:sec.gov,2008:accession-number=0001104659-26-118734</id>
</entry>
<entry>
<title>4/A - Example Holdings Corp (0001888002) (Issuer)</title>
<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/1888002/000188800226000041/0001888002-26-000041-index.htm"/>
<summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; 2026-11-18 &lt;b&gt;AccNo:&lt;/b&gt; 0001888002-26-000041 &lt;b&gt;Size:&lt;/b&gt; 4 KB</summary>
<updated>2026-11-19T09:01:15-05:00</updated>
<category scheme="https://www.sec.gov/" label="form type" term="4/A"/>
<id>urn:tag:sec.gov,2008:accession-number=0001888002-26-000041</id>
</entry>
<entry>
<title>4 - DOE JANE (0001777003) (Reporting)</title>
<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/1777003/000177700326000010/0001777003-26-000010-index.htm"/>
<summary type="html"> &lt;b&gt;Filed:&lt;/b&gt; 2026-11-18 &lt;b&gt;AccNo:&lt;/b&gt; 0001777003-26-000010 &lt;b&gt;Size:&lt;/b&gt; 3 KB</summary>
<updated>2026-11-18T21:45:00-05:00</updated>
<category scheme="https://www.sec.gov/" label="form type" term="4"/>
<id>urn:tag:sec.gov,2008:accession-number=0001777003-26-000010</id>
</entry>
</feed>
"""


def test_latest_filings_feed_parses_each_form4_once_from_the_issuers_folder() -> None:
    filings = sec_module.parse_latest_form4_feed(LATEST_FEED)
    assert [(f.accession_number, f.form, f.cik, f.company) for f in filings] == [
        ("0001999001-26-000003", "4", 732717, "AT&T INC."),  # the issuer's entry, not the owner's
        ("0001888002-26-000041", "4/A", 1888002, "Example Holdings Corp"),
        ("0001777003-26-000010", "4", 1777003, ""),  # the feed cut off before its issuer entry
    ]
    assert filings[0].folder == "000199900126000003"
    assert filings[1].filing_date == date(2026, 11, 18)  # "Filed:", not the acceptance time

    with pytest.raises(ValueError, match="not an Atom feed"):
        sec_module.parse_latest_form4_feed(b"<html><body>Latest Filings</body></html>")


def test_form4_document_of_a_filing_index() -> None:
    modified = "2026-11-19 17:12:40"
    index = {
        "directory": {
            "item": [
                {"last-modified": modified, "name": "xslF345X05", "type": "folder.gif", "size": ""},
                {"last-modified": modified, "name": "0001999001-26-000003.txt", "type": "text.gif"},
                {"last-modified": modified, "name": "ex24.htm", "type": "text.gif", "size": "9"},
                {"last-modified": modified, "name": "wk-form4_1795.xml", "type": "text.gif", "size": "5"},
            ],
            "name": "/Archives/edgar/data/732717/000199900126000003",
            "parent-dir": "/Archives/edgar/data/732717",
        }
    }
    assert sec_module.form4_document(index) == ("wk-form4_1795.xml", "xslF345X05")
    index["directory"]["item"] = index["directory"]["item"][1:3]
    assert sec_module.form4_document(index) is None


async def test_sec_latest_insider_trades_from_the_feed(sources: DataSourcesServer, closing) -> None:
    live = closing(_live(get_settings()))
    data = await live.recent_insider_trades(100)
    assert (data.mode, data.source, data.note) == ("live", "SEC EDGAR", None)
    newest = sources.latest_form4s()
    # The feed's order: newest accepted filing first, each filing's lines as filed.
    assert list(dict.fromkeys(t.accession_number for t in data.rows)) == [f.accession_number for f in newest]
    assert data.rows[0].ticker == "NVDA" and data.rows[0].company == "NVIDIA CORP"
    assert {t.ticker for t in data.rows} == {"AAPL", "NVDA", "TSLA"}
    assert {t.form for t in data.rows} == {"4", "4/A"}  # the 424B2 and 40-F entries are dropped
    aapl_sale = next(t for t in data.rows if t.accession_number == "0002051731-26-000012")
    assert (aapl_sale.insider, aapl_sale.code, aapl_sale.shares) == ("HALVORSEN MARIT J", "S", 18000)
    assert aapl_sale.filing_url == (
        f"{sources.base_url}/Archives/edgar/data/320193/000205173126000012/xslF345X05/wk-form4_1795467012.xml"
    )

    (feed,) = sources.seen("sec_latest")
    assert feed.query == {
        "action": "getcurrent",
        "type": "4",
        "company": "",
        "dateb": "",
        "owner": "include",
        "start": "0",
        "count": "100",  # 20 filings wanted: about 2.5 entries each
        "output": "atom",
    }
    # Each filing once, from the issuer's folder (the feed also links the owners'), raw XML.
    indexes = [r.path for r in sources.seen("sec_index")]
    assert len(indexes) == len(newest) and len(set(indexes)) == len(newest)
    assert all(path.split("/")[4] in {"320193", "1045810", "1318605"} for path in indexes)
    assert len(sources.seen("sec_archive")) == len(newest)
    assert all("/xsl" not in r.path for r in sources.seen("sec_archive"))
    for request in sources.requests:
        assert SEC_CONTACT in request.headers["user-agent"]
    assert sources.seen("sec_tickers") == sources.seen("sec_submissions") == []


async def test_sec_latest_reads_only_as_many_filings_as_needed(sources: DataSourcesServer, closing) -> None:
    data = await closing(_live(get_settings())).recent_insider_trades(2)
    assert len(data.rows) == 2
    assert sources.seen("sec_latest")[0].query["count"] == "40"
    assert len(sources.seen("sec_index")) == len(sources.seen("sec_archive")) == 2


async def test_sec_latest_skips_a_filing_it_cannot_read(
    sources: DataSourcesServer, configure, closing
) -> None:
    live = closing(_live(configure(FINCH_HTTP_MAX_RETRIES="0")))
    sources.fail("sec_index", status=503, times=1)
    data = await live.recent_insider_trades(100)
    read = {t.accession_number for t in data.rows}
    assert len(read) == len(sources.latest_form4s()) - 1
    assert data.note == "1 of the 9 newest Form 4 filings could not be read: SEC EDGAR is failing: HTTP 503"

    sources.fail("sec_latest", status=503)
    with pytest.raises(DataUnavailable, match="SEC EDGAR is failing: HTTP 503"):
        await live.recent_insider_trades(10)
    sources.heal()
    sources.fail("sec_index", status=503)
    with pytest.raises(DataUnavailable, match="SEC EDGAR is failing: HTTP 503"):
        await live.recent_insider_trades(10)


async def test_service_caches_latest_insider_trades_by_limit_bucket(
    sources: DataSourcesServer, configure, closing
) -> None:
    market = closing(_service(configure(FINCH_DATA_MODE="auto")))
    five = await market.recent_insider_trades(5)
    eight = await market.recent_insider_trades(8)
    assert (five.mode, len(five.rows), len(eight.rows)) == ("live", 5, 8)
    assert eight.rows[:5] == five.rows
    assert len(sources.seen("sec_latest")) == 1  # 5 and 8 share one cached copy
    assert len(sources.seen("sec_index")) == min(10, len(sources.latest_form4s()))  # the bucket's 10 at most
    with session_scope() as session:
        assert session.get(CachedResponse, "sec-latest:10") is not None

    await closing(_service(get_settings())).recent_insider_trades(30)  # another bucket
    assert len(sources.seen("sec_latest")) == 2


async def test_latest_insider_trades_fall_back_with_labels(
    sources: DataSourcesServer, configure, closing
) -> None:
    settings = configure(FINCH_DATA_MODE="auto", FINCH_HTTP_MAX_RETRIES="0")
    sources.fail("sec_latest", status=503)
    sample = await closing(_service(settings)).recent_insider_trades(4)
    assert (sample.mode, sample.source) == ("sample", "SEC EDGAR (bundled sample)")
    assert sample.note == f"{SAMPLE_NOTE} — Couldn't reach SEC EDGAR"
    assert len(sample.rows) == 4

    sources.heal()
    live = await closing(_service(settings)).recent_insider_trades(4)
    assert live.mode == "live"
    sources.fail("sec_latest", status=503)
    later = _clock_ahead(settings, timedelta(minutes=30))
    cached = await closing(_service(settings, cache=later)).recent_insider_trades(4)
    assert (cached.mode, cached.note) == (
        "cached",
        "Couldn't reach SEC EDGAR — showing the copy from 30 min ago",
    )
    assert cached.rows == live.rows


async def test_latest_insider_trades_in_live_mode_and_without_a_contact(
    sources: DataSourcesServer, configure, closing
) -> None:
    sources.fail("sec_latest", status=503)
    market = closing(_service(configure(FINCH_DATA_MODE="live", FINCH_HTTP_MAX_RETRIES="0")))
    with pytest.raises(DataUnavailable, match="SEC EDGAR is failing: HTTP 503"):
        await market.recent_insider_trades(5)

    unconfigured = closing(_service(configure(FINCH_DATA_MODE="auto", FINCH_SEC_CONTACT=None)))
    before = len(sources.requests)
    data = await unconfigured.recent_insider_trades(5)
    assert data.mode == "sample" and len(data.rows) == 5
    assert data.note == f"{SAMPLE_NOTE} — Live SEC data is off on this server"
    assert len(sources.requests) == before


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
    assert caught.value.reason == "Yahoo Finance is busy (too many requests)"
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
        market.recent_insider_trades(5),
    )
    for data in results:
        assert data.mode == "sample" and data.note == SAMPLE_NOTE and data.rows
    assert sources.requests == []


async def test_auto_mode_serves_live_data_and_caches_it_in_the_database(
    sources: DataSourcesServer, configure, closing
) -> None:
    settings = configure(FINCH_DATA_MODE="auto")
    first = await closing(_service(settings)).reddit_trending(3)
    assert first.mode == "live"

    # A new provider (a restarted app, another worker) finds the fresh copy in the database.
    again = await closing(_service(settings)).reddit_trending(3)
    assert again.mode == "live" and again.rows == first.rows
    assert len(sources.seen("apewisdom")) == 1
    with session_scope() as session:
        row = session.get(CachedResponse, "apewisdom:top:1")
        assert row is not None and row.source == "apewisdom"
    assert not (settings.data_dir / "cache").exists()  # no more per-key files


async def test_auto_mode_falls_back_to_the_last_good_copy(
    sources: DataSourcesServer, configure, closing
) -> None:
    settings = configure(FINCH_DATA_MODE="auto", FINCH_HTTP_MAX_RETRIES="0")
    live = await closing(_service(settings)).house_trades(5)
    sources.fail("house", status=503)

    two_hours_later = _clock_ahead(settings, timedelta(hours=2))
    data = await closing(_service(settings, cache=two_hours_later)).house_trades(5)
    assert (data.mode, data.note) == (
        "cached",
        "Couldn't reach House Stock Watcher — showing the copy from 2 h ago",
    )
    assert data.rows == live.rows and data.source == "House Stock Watcher"
    assert len(sources.seen("house")) > 1  # the live source was tried first


async def test_a_cached_copy_keeps_its_own_note(sources: DataSourcesServer, configure, closing) -> None:
    settings = configure(FINCH_DATA_MODE="auto", FINCH_HTTP_MAX_RETRIES="0")
    await closing(_service(settings)).senate_trades(5)
    sources.fail("senate", status=503)
    later = _clock_ahead(settings, timedelta(minutes=90))
    data = await closing(_service(settings, cache=later)).senate_trades(5)
    assert data.mode == "cached"
    assert (data.note or "").startswith(
        "Couldn't reach Senate Stock Watcher — showing the copy from 1 h ago; historic archive"
    )


async def test_auto_mode_falls_back_to_sample_data(sources: DataSourcesServer, configure, closing) -> None:
    sources.fail("apewisdom", status=503)
    market = closing(_service(configure(FINCH_DATA_MODE="auto", FINCH_HTTP_MAX_RETRIES="0")))
    data = await market.reddit_trending(5)
    assert (data.mode, data.source) == ("sample", "ApeWisdom (bundled sample)")
    assert data.note == f"{SAMPLE_NOTE} — Couldn't reach ApeWisdom"
    assert len(data.rows) == 5


async def test_auto_mode_says_why_sec_was_not_asked(sources: DataSourcesServer, configure, closing) -> None:
    market = closing(_service(configure(FINCH_DATA_MODE="auto", FINCH_SEC_CONTACT=None)))
    data = await market.insider_trades("NVDA", 5)
    assert data.mode == "sample" and data.rows
    assert data.note == f"{SAMPLE_NOTE} — Live SEC data is off on this server"


async def test_a_failing_source_is_skipped_for_a_while(
    sources: DataSourcesServer, configure, closing
) -> None:
    sources.fail("yahoo", status=None, delay_s=5)  # hangs past the client's timeout
    settings = configure(FINCH_DATA_MODE="auto", FINCH_HTTP_TIMEOUT_S="0.3")
    market = closing(_service(settings))

    first = await market.quotes(["AAPL"])
    assert first.mode == "sample" and "Couldn't reach Yahoo Finance" in (first.note or "")
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
    with pytest.raises(DataUnavailable, match=r"^Couldn't reach Yahoo Finance$") as caught:
        await market.quotes(["AAPL"])
    assert caught.value.detail  # what the network said goes to the log, not to the user


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


def _ranking(source: str = "ApeWisdom") -> DataSet[RedditTicker]:
    row = RedditTicker(rank=1, ticker="GME", name="GameStop", mentions=412, upvotes=1204)
    return DataSet[RedditTicker](rows=[row], source=source, as_of=datetime.now(UTC), mode="live")


async def test_cache_fresh_within_ttl_and_last_good_after() -> None:
    key = CacheKey("apewisdom", "top:1")
    kind = DataSet[RedditTicker]
    value = _ranking()
    await DataCache().put(key, value)

    restarted = DataCache()  # a new instance on the same database: nothing in its memory
    fresh = await restarted.fresh(key, kind)
    assert fresh is not None and fresh.value == value
    assert fresh.fetched_at.tzinfo is not None

    later = DataCache(now=lambda: datetime.now(UTC) + key.ttl + timedelta(seconds=1))
    assert await later.fresh(key, kind) is None
    assert (await later.last_good(key, kind)).value == value  # type: ignore[union-attr]
    assert await later.last_good(CacheKey("apewisdom", "top:2"), kind) is None


async def test_the_cache_is_one_row_per_key_in_the_app_database() -> None:
    key = CacheKey("yahoo-quotes", "AAPL,MSFT")
    await DataCache().put(key, _ranking("first"))
    await DataCache().put(key, _ranking("second"))
    with session_scope() as session:
        rows = session.exec(select(CachedResponse)).all()
    assert [(r.key, r.source) for r in rows] == [("yahoo-quotes:AAPL,MSFT", "yahoo-quotes")]
    assert json.loads(rows[0].payload)["source"] == "second"


async def test_a_newer_copy_from_another_worker_wins_over_a_stale_one_in_memory() -> None:
    key = CacheKey("apewisdom", "top:1")
    kind = DataSet[RedditTicker]
    this_worker, other_worker = DataCache(), DataCache()
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    await this_worker.put(key, _ranking("old"), fetched_at=an_hour_ago)
    await other_worker.put(key, _ranking("new"))

    fresh = await this_worker.fresh(key, kind)
    assert fresh is not None and fresh.value.source == "new"
    # An older copy arriving late does not replace the newer one in the database.
    await this_worker.put(key, _ranking("late"), fetched_at=an_hour_ago)
    assert (await DataCache().last_good(key, kind)).value.source == "new"  # type: ignore[union-attr]


async def test_an_unreadable_cached_row_counts_as_missing() -> None:
    key = CacheKey("house")
    with session_scope() as session:
        session.add(CachedResponse(key=key.id, source=key.source, payload="{not json"))
    assert await DataCache().last_good(key, DataSet[RedditTicker]) is None


async def test_a_failing_database_costs_the_shared_copy_not_the_answer(tmp_path: Path) -> None:
    unopenable = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'finch.db'}")
    cache = DataCache(unopenable)
    key, value = CacheKey("house"), _ranking()
    await cache.put(key, value)  # logged, not raised
    assert (await cache.last_good(key, DataSet[RedditTicker])).value == value  # type: ignore[union-attr]
    assert await DataCache(unopenable).last_good(key, DataSet[RedditTicker]) is None


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


async def test_sample_latest_insider_trades_span_every_company_newest_filing_first() -> None:
    sample = SampleMarketData(latency_ms=0)
    latest = await sample.recent_insider_trades(100)
    assert (latest.mode, latest.source, latest.note) == ("sample", "SEC EDGAR (bundled sample)", SAMPLE_NOTE)
    assert {t.ticker for t in latest.rows} == {"AAPL", "NVDA", "TSLA"}
    filed = [t.filing_date for t in latest.rows]
    assert filed == sorted(filed, reverse=True)
    assert latest.rows[0].ticker == "NVDA"  # filed 2026-11-19, the sample's newest
    every = sum([len((await sample.insider_trades(t, 100)).rows) for t in ("AAPL", "NVDA", "TSLA")])
    assert len(latest.rows) == every
    assert len((await sample.recent_insider_trades(3)).rows) == 3
