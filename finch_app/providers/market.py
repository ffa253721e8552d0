"""Market data as the tools get it: live sources, cached copies and the bundled sample,
composed according to `FINCH_DATA_MODE`.

- offline: the bundled sample only; the network is never touched.
- live: the live sources (an answer still fresh in the cache counts as live); a failure
  raises `DataUnavailable` naming the source.
- auto: live; when a source fails, its last good cached copy (mode "cached", note
  "Couldn't reach SEC EDGAR — showing the copy from 2 h ago"), else the bundled sample
  (note "sample data as of 2026-11-20 — Couldn't reach SEC EDGAR"). A failing source is
  skipped for a minute, so a laptop without network answers at once instead of waiting
  for timeouts on every call. Notes are plain words for the user; the cause is logged.

Owns that policy only: fetching is `live.py`, storing copies `cache.py`, the bundled
snapshot `sample.py`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeVar

from finch_app.providers.base import DataUnavailable
from finch_app.providers.cache import CacheKey, DataCache
from finch_app.providers.live import APEWISDOM, APEWISDOM_PAGE_SIZE, HOUSE_WATCHER, YAHOO, LiveMarketData
from finch_app.providers.records import (
    CongressTrade,
    DataSet,
    InsiderTrade,
    PricePoint,
    Quote,
    RedditTicker,
)
from finch_app.providers.sample import SampleMarketData
from finch_app.providers.sec import SEC
from finch_app.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

CONGRESS_ROWS = 200
"""Trades fetched and cached per chamber: the most any tool asks for."""
INSIDER_ROWS = 100
"""Form 4 transactions fetched and cached per company."""
LATEST_INSIDER_BUCKETS = (10, 25, 50, 100)
"""Market-wide Form 4 lines are fetched (and cached) for the smallest of these covering the
limit asked, so nearby limits share one copy."""
FAILURE_MEMORY_S = 60.0
"""How long auto mode skips a source that just failed."""


@dataclass(frozen=True)
class _Failure:
    until: float
    """`time.monotonic()` after which the source is tried again."""
    reason: str


def _ago(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute ago"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} days ago"


def _first(data: DataSet[T], limit: int) -> DataSet[T]:
    return data.model_copy(update={"rows": data.rows[: max(limit, 0)]})


def _ticker(text: str) -> str:
    return text.strip().lstrip("$").upper()


class MarketDataService:
    """`MarketData` for the app: live, cached or sample data, each labelled as such."""

    def __init__(
        self,
        *,
        mode: Literal["auto", "live", "offline"],
        live: LiveMarketData,
        sample: SampleMarketData,
        cache: DataCache,
        failure_memory_s: float = FAILURE_MEMORY_S,
    ) -> None:
        self.mode = mode
        self._live = live
        self._sample = sample
        self._cache = cache
        self._failure_memory_s = failure_memory_s
        self._failures: dict[str, _Failure] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> MarketDataService:
        cache = DataCache()  # the app's database
        return cls(
            mode=settings.data_mode,
            live=LiveMarketData(settings, cache),
            sample=SampleMarketData(latency_ms=settings.sample_latency_ms),
            cache=cache,
        )

    async def aclose(self) -> None:
        """Close the live sources' HTTP client."""
        await self._live.aclose()

    # ------------------------------------------------------------ MarketData

    async def reddit_trending(self, limit: int) -> DataSet[RedditTicker]:
        pages = max(math.ceil(limit / APEWISDOM_PAGE_SIZE), 1)
        data = await self._serve(
            APEWISDOM,
            CacheKey("apewisdom", f"top:{pages}"),
            DataSet[RedditTicker],
            lambda: self._live.reddit_trending(pages * APEWISDOM_PAGE_SIZE),
            lambda: self._sample.reddit_trending(limit),
        )
        return _first(data, limit)

    async def ticker_buzz(self, ticker: str) -> DataSet[RedditTicker]:
        wanted = _ticker(ticker)
        return await self._serve(
            APEWISDOM,
            CacheKey("apewisdom", f"buzz:{wanted}"),
            DataSet[RedditTicker],
            lambda: self._live.ticker_buzz(wanted),
            lambda: self._sample.ticker_buzz(wanted),
        )

    async def senate_trades(self, limit: int) -> DataSet[CongressTrade]:
        source = self._live.senate_source
        data = await self._serve(
            source,
            CacheKey("senate", source),
            DataSet[CongressTrade],
            lambda: self._live.senate_trades(CONGRESS_ROWS),
            lambda: self._sample.senate_trades(limit),
        )
        return _first(data, limit)

    async def house_trades(self, limit: int) -> DataSet[CongressTrade]:
        data = await self._serve(
            HOUSE_WATCHER,
            CacheKey("house"),
            DataSet[CongressTrade],
            lambda: self._live.house_trades(CONGRESS_ROWS),
            lambda: self._sample.house_trades(limit),
        )
        return _first(data, limit)

    async def quotes(self, symbols: list[str]) -> DataSet[Quote]:
        wanted = list(dict.fromkeys(_ticker(s) for s in symbols if s.strip()))
        data = await self._serve(
            YAHOO,
            CacheKey("yahoo-quotes", ",".join(sorted(wanted))),
            DataSet[Quote],
            lambda: self._live.quotes(wanted),
            lambda: self._sample.quotes(wanted),
        )
        # A cached copy may have been asked for in another order.
        position = {symbol: i for i, symbol in enumerate(wanted)}
        return data.model_copy(update={"rows": sorted(data.rows, key=lambda q: position.get(q.symbol, 0))})

    async def price_history(self, symbol: str, days: int) -> DataSet[PricePoint]:
        wanted = _ticker(symbol)
        return await self._serve(
            YAHOO,
            CacheKey("yahoo-history", f"{wanted}:{days}"),
            DataSet[PricePoint],
            lambda: self._live.price_history(wanted, days),
            lambda: self._sample.price_history(wanted, days),
        )

    async def insider_trades(self, ticker: str, limit: int) -> DataSet[InsiderTrade]:
        wanted = _ticker(ticker)
        data = await self._serve(
            SEC,
            CacheKey("sec-insider", wanted),
            DataSet[InsiderTrade],
            lambda: self._live.insider_trades(wanted, INSIDER_ROWS),
            lambda: self._sample.insider_trades(wanted, limit),
        )
        return _first(data, limit)

    async def recent_insider_trades(self, limit: int) -> DataSet[InsiderTrade]:
        bucket = next((b for b in LATEST_INSIDER_BUCKETS if limit <= b), LATEST_INSIDER_BUCKETS[-1])
        data = await self._serve(
            SEC,
            CacheKey("sec-latest", str(bucket)),
            DataSet[InsiderTrade],
            lambda: self._live.recent_insider_trades(bucket),
            lambda: self._sample.recent_insider_trades(limit),
        )
        return _first(data, limit)

    # ------------------------------------------------------------ policy

    async def _serve(
        self,
        source: str,
        key: CacheKey,
        kind: type[DataSet[T]],
        fetch_live: Callable[[], Awaitable[DataSet[T]]],
        fetch_sample: Callable[[], Awaitable[DataSet[T]]],
    ) -> DataSet[T]:
        if self.mode == "offline":
            return await fetch_sample()
        fresh = await self._cache.fresh(key, kind)
        if fresh is not None:
            return fresh.value
        failure = self._failures.get(source)
        if self.mode == "auto" and failure is not None and failure.until > time.monotonic():
            return await self._fallback(key, kind, fetch_sample, failure.reason)
        try:
            data = await fetch_live()
        except DataUnavailable as error:
            if self.mode == "live":
                raise
            detail = f" ({error.detail})" if error.detail else ""
            log.warning("%s%s — falling back to cached or sample data", error, detail)
            self._failures[source] = _Failure(time.monotonic() + self._failure_memory_s, error.reason)
            return await self._fallback(key, kind, fetch_sample, error.reason)
        self._failures.pop(source, None)
        await self._cache.put(key, data)
        return data

    async def _fallback(
        self,
        key: CacheKey,
        kind: type[DataSet[T]],
        fetch_sample: Callable[[], Awaitable[DataSet[T]]],
        reason: str,
    ) -> DataSet[T]:
        """The last good copy (whatever its age), else the bundled sample; the note says which and why."""
        cached = await self._cache.last_good(key, kind)
        if cached is not None:
            copy = cached.value
            note = f"{reason} — showing the copy from {_ago(self._cache.age(cached))}"
            if copy.note:
                note = f"{note}; {copy.note}"
            return copy.model_copy(update={"mode": "cached", "note": note})
        sample = await fetch_sample()
        return sample.model_copy(update={"note": f"{sample.note} — {reason}" if sample.note else reason})
