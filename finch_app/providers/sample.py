"""The bundled sample snapshots (`finch_app/sample_data/`) served as market data.

Owns reading and caching those files and labelling what they return as sample data with
the snapshot's date. The files are in the live sources' own formats and go through the
same parsers as live payloads, so offline mode exercises the real parsing path. Each call
waits `latency_ms` first, so tool cards are visible in the UI as they would be live.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from finch_app.providers.parsing import (
    parse_apewisdom,
    parse_date,
    parse_house_transactions,
    parse_senate_transactions,
    parse_yahoo_chart,
)
from finch_app.providers.records import (
    CongressTrade,
    DataSet,
    InsiderTrade,
    PricePoint,
    Quote,
    RedditTicker,
)
from finch_app.providers.sec import Form4Filing, newest_filings_first, parse_form4

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"

APEWISDOM_FILE = "apewisdom_all-stocks_page1.json"
HOUSE_FILE = "house_all_transactions.json"
SENATE_FILE = "senate_all_transactions.json"
YAHOO_CHART_DIR = "yahoo_chart"
FORM4_FILE = "sec_form4_sample.json"

T = TypeVar("T")
Chart = tuple[Quote, list[PricePoint]]


@lru_cache(maxsize=8)
def sample_as_of(directory: Path = SAMPLE_DIR) -> datetime:
    """When the snapshot was taken, from its `manifest.json` (UTC when the file names no zone)."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    as_of = datetime.fromisoformat(manifest["as_of"])
    return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)


def _newest_first(trades: list[CongressTrade]) -> list[CongressTrade]:
    """Newest transaction first; undated rows last, in file order."""
    dated = [t for t in trades if t.transaction_date is not None]
    dated.sort(key=lambda t: t.transaction_date, reverse=True)
    return dated + [t for t in trades if t.transaction_date is None]


class SampleMarketData:
    """`MarketData` answered from the bundled snapshots, with a simulated network delay."""

    def __init__(self, *, latency_ms: int = 400, directory: Path = SAMPLE_DIR) -> None:
        self._latency_s = max(latency_ms, 0) / 1000
        self._directory = directory
        self._cache: dict[str, Any] = {}
        # A thread lock, not an asyncio one: loads run in worker threads and the instance
        # may be shared by several event loops (app, tests).
        self._lock = threading.Lock()

    def as_of(self) -> datetime:
        return sample_as_of(self._directory)

    async def reddit_trending(self, limit: int) -> DataSet[RedditTicker]:
        rows = await self._cached("reddit", self._load_reddit)
        return self._dataset(rows[: max(limit, 0)], "ApeWisdom")

    async def ticker_buzz(self, ticker: str) -> DataSet[RedditTicker]:
        """The ticker's row of the bundled ApeWisdom page; no rows when it is not on it."""
        rows = await self._cached("reddit", self._load_reddit)
        wanted = ticker.strip().lstrip("$").upper()
        match = [r for r in rows if r.ticker == wanted][:1]
        detail = None if match else f"{wanted} is not among the sample's {len(rows)} most-mentioned tickers"
        return self._dataset(match, "ApeWisdom", detail=detail)

    async def senate_trades(self, limit: int) -> DataSet[CongressTrade]:
        rows = await self._cached("senate", self._load_senate)
        return self._dataset(rows[: max(limit, 0)], "Senate Stock Watcher")

    async def house_trades(self, limit: int) -> DataSet[CongressTrade]:
        rows = await self._cached("house", self._load_house)
        return self._dataset(rows[: max(limit, 0)], "House Stock Watcher")

    async def quotes(self, symbols: list[str]) -> DataSet[Quote]:
        """Quotes in the order asked; symbols without a bundled chart are simply absent."""
        charts = await self._cached("charts", self._load_charts)
        wanted = dict.fromkeys(s.strip().upper() for s in symbols)
        rows = [charts[s][0] for s in wanted if s in charts]
        return self._dataset(rows, "Yahoo Finance")

    async def price_history(self, symbol: str, days: int) -> DataSet[PricePoint]:
        """Daily closes, oldest first, of the `days` calendar days up to the snapshot's last close.

        Empty for a symbol without a bundled chart.
        """
        charts = await self._cached("charts", self._load_charts)
        chart = charts.get(symbol.strip().upper())
        points: list[PricePoint] = []
        if chart and chart[1] and days > 0:
            start = chart[1][-1].date - timedelta(days=days)
            points = [p for p in chart[1] if p.date > start]
        return self._dataset(points, "Yahoo Finance")

    async def insider_trades(self, ticker: str, limit: int) -> DataSet[InsiderTrade]:
        """Form 4 transactions of the bundled demo companies, newest filing first."""
        by_ticker = await self._cached("form4", self._load_form4)
        wanted = ticker.strip().lstrip("$").upper()
        rows = by_ticker.get(wanted, [])[: max(limit, 0)]
        detail = None
        if wanted not in by_ticker:
            detail = f"the sample has Form 4 filings of {', '.join(by_ticker)} only"
        return self._dataset(rows, "SEC EDGAR", detail=detail)

    async def recent_insider_trades(self, limit: int) -> DataSet[InsiderTrade]:
        """The latest Form 4 transactions across all the bundled demo companies, newest filing first."""
        by_ticker = await self._cached("form4", self._load_form4)
        rows = newest_filings_first([trade for trades in by_ticker.values() for trade in trades])
        return self._dataset(rows[: max(limit, 0)], "SEC EDGAR")

    def symbols(self) -> list[str]:
        """The symbols with a bundled chart (quotes and price history)."""
        return sorted(p.stem.upper() for p in (self._directory / YAHOO_CHART_DIR).glob("*.json"))

    async def _cached(self, key: str, load: Callable[[], T]) -> T:
        """Wait the simulated latency, then the parsed file, read and parsed off the loop once."""
        if self._latency_s:
            await asyncio.sleep(self._latency_s)
        if key not in self._cache:
            await asyncio.to_thread(self._load_once, key, load)
        return self._cache[key]

    def _load_once(self, key: str, load: Callable[[], Any]) -> None:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = load()

    def _dataset(self, rows: list[T], source: str, *, detail: str | None = None) -> DataSet[T]:
        as_of = self.as_of()
        note = f"sample data as of {as_of.date().isoformat()}"
        return DataSet(
            rows=rows,
            source=f"{source} (bundled sample)",
            as_of=as_of,
            mode="sample",
            note=f"{note}; {detail}" if detail else note,
        )

    def _read(self, name: str) -> Any:
        return json.loads((self._directory / name).read_text(encoding="utf-8"))

    def _load_reddit(self) -> list[RedditTicker]:
        return sorted(parse_apewisdom(self._read(APEWISDOM_FILE)), key=lambda t: t.rank)

    def _load_senate(self) -> list[CongressTrade]:
        return _newest_first(parse_senate_transactions(self._read(SENATE_FILE)))

    def _load_house(self) -> list[CongressTrade]:
        return _newest_first(parse_house_transactions(self._read(HOUSE_FILE)))

    def _load_form4(self) -> dict[str, list[InsiderTrade]]:
        """Each demo company's transactions, from the filings' own ownershipDocument XML."""
        by_ticker: dict[str, list[InsiderTrade]] = {}
        for company in self._read(FORM4_FILE)["companies"]:
            ticker = company["ticker"].upper()
            trades: list[InsiderTrade] = []
            for filing in company["filings"]:
                indexed = Form4Filing(
                    accession_number=filing["accessionNumber"],
                    filing_date=parse_date(filing["filingDate"]),
                    form=filing["form"],
                    primary_document=filing["primaryDocument"],
                )
                trades.extend(parse_form4(filing["xml"], indexed, ticker=ticker))
            by_ticker[ticker] = newest_filings_first(trades)
        return by_ticker

    def _load_charts(self) -> dict[str, Chart]:
        """All bundled charts by symbol: a dozen small files, cheaper to read together."""
        charts: dict[str, Chart] = {}
        for path in sorted((self._directory / YAHOO_CHART_DIR).glob("*.json")):
            quote, history = parse_yahoo_chart(json.loads(path.read_text(encoding="utf-8")))
            charts[quote.symbol] = (quote, [PricePoint(date=d, close=c) for d, c in history])
        return charts
