"""The live public data sources: ApeWisdom, House and Senate Stock Watcher, Financial Modeling
Prep, Yahoo Finance's chart API, and SEC EDGAR (`sec.py`).

Owns the URLs, the headers each source requires (a browser User-Agent for Yahoo) and turning
what the sources send into records — the FMP format here, the others through `parsing.py` and
`sec.py`. The HTTP plumbing (timeouts, retries, errors named by source) is `http.py`'s.
Fresh-copy caching of results and falling back to cached or sample data are `market.py`'s
business; the one cache used below is EDGAR's ticker → CIK table.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from finch_app.providers.base import DataUnavailable
from finch_app.providers.cache import DataCache
from finch_app.providers.http import (
    ACCEPT_JSON,
    BROWSER_USER_AGENT,
    FINCH_USER_AGENT,
    HttpFetcher,
    live_dataset,
)
from finch_app.providers.parsing import (
    parse_apewisdom,
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
from finch_app.providers.sec import SEC, SEC_CONCURRENCY, SecEdgar
from finch_app.settings import Settings

log = logging.getLogger(__name__)

APEWISDOM = "ApeWisdom"
HOUSE_WATCHER = "House Stock Watcher"
SENATE_WATCHER = "Senate Stock Watcher"
FMP = "Financial Modeling Prep"
YAHOO = "Yahoo Finance"

APEWISDOM_FILTER = "all-stocks"
APEWISDOM_PAGE_SIZE = 100
BUZZ_MAX_PAGES = 5
"""Pages of ApeWisdom's ranking searched for one ticker (100 tickers a page)."""
FMP_PAGE_SIZE = 100
YAHOO_CONCURRENCY = 4

# Yahoo's chart ranges, each with the calendar days it covers.
_YAHOO_RANGES: tuple[tuple[str, int], ...] = (
    ("5d", 5),
    ("1mo", 31),
    ("3mo", 92),
    ("6mo", 183),
    ("1y", 366),
    ("2y", 731),
    ("5y", 1827),
    ("10y", 3653),
)


# ---------------------------------------------------------------- Financial Modeling Prep


def fmp_senate_rows_as_watcher_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """FMP `senate-latest` rows in the Senate Stock Watcher's field names, so one parser
    (with all its quirk handling) reads both."""
    if not isinstance(rows, list):
        raise ValueError(f"FMP: expected a list of rows, got {type(rows).__name__}")
    return [
        {
            "senator": " ".join(str(row.get(k) or "").strip() for k in ("firstName", "lastName")).strip()
            or row.get("office"),
            "ticker": row.get("symbol"),
            "asset_description": row.get("assetDescription"),
            "asset_type": row.get("assetType"),
            "type": row.get("type"),
            "amount": row.get("amount"),
            "owner": row.get("owner"),
            "district": row.get("district"),
            "transaction_date": row.get("transactionDate"),
            "disclosure_date": row.get("disclosureDate"),
            "ptr_link": row.get("link"),
        }
        for row in rows
        if isinstance(row, dict)
    ]


def _newest_trades_first(trades: list[CongressTrade]) -> list[CongressTrade]:
    """Newest transaction first; undated rows last, in file order (a stable sort)."""
    return sorted(
        trades, key=lambda t: (t.transaction_date is not None, t.transaction_date or date.min), reverse=True
    )


class LiveMarketData:
    """`MarketData` from the public sources, fetched on every call (no result caching)."""

    def __init__(self, settings: Settings, cache: DataCache) -> None:
        """
        Args:
            settings: Source URLs, keys, the SEC contact, timeout and retries.
            cache: Where EDGAR's ticker → CIK table is kept between calls and restarts.
        """
        self._settings = settings
        self._http = HttpFetcher(
            timeout_s=settings.http_timeout_s,
            max_retries=settings.http_max_retries,
            concurrency={YAHOO: YAHOO_CONCURRENCY, SEC: SEC_CONCURRENCY},
        )
        self._sec = SecEdgar(settings, cache, self._http)
        self._fmp_key = settings.fmp_api_key.get_secret_value().strip() if settings.fmp_api_key else ""

    @property
    def senate_source(self) -> str:
        """Where Senate trades come from: FMP with an API key, else the historic watcher archive."""
        return FMP if self._fmp_key else SENATE_WATCHER

    async def aclose(self) -> None:
        """Close the HTTP client (of the running event loop)."""
        await self._http.aclose()

    # ------------------------------------------------------------ ApeWisdom

    async def reddit_trending(self, limit: int) -> DataSet[RedditTicker]:
        rows: list[RedditTicker] = []
        for page in range(1, max(math.ceil(limit / APEWISDOM_PAGE_SIZE), 1) + 1):
            page_rows, pages = await self._apewisdom_page(page)
            rows.extend(page_rows)
            if page >= pages:
                break
        rows.sort(key=lambda r: r.rank)
        return live_dataset(rows[: max(limit, 0)], APEWISDOM)

    async def ticker_buzz(self, ticker: str) -> DataSet[RedditTicker]:
        """The ticker's row of ApeWisdom's ranking, searching up to `BUZZ_MAX_PAGES` pages."""
        wanted = ticker.strip().lstrip("$").upper()
        searched = 0
        for page in range(1, BUZZ_MAX_PAGES + 1):
            page_rows, pages = await self._apewisdom_page(page)
            searched += len(page_rows)
            match = next((r for r in page_rows if r.ticker == wanted), None)
            if match is not None:
                return live_dataset([match], APEWISDOM)
            if page >= pages:
                break
        return live_dataset(
            [], APEWISDOM, note=f"{wanted} is not among the {searched} most-mentioned tickers on Reddit"
        )

    async def _apewisdom_page(self, page: int) -> tuple[list[RedditTicker], int]:
        """One page of the ranking and how many pages there are."""
        base = self._settings.apewisdom_base_url.rstrip("/")
        url = f"{base}/api/v1.0/filter/{APEWISDOM_FILTER}/page/{page}"
        response = await self._http.get(
            APEWISDOM, url, headers={"User-Agent": FINCH_USER_AGENT, **ACCEPT_JSON}
        )

        def parse(payload: dict[str, Any]) -> tuple[list[RedditTicker], int]:
            return parse_apewisdom(payload), int(payload.get("pages") or page)

        return await self._http.json(APEWISDOM, response, parse)

    # ------------------------------------------------------------ congressional trades

    async def house_trades(self, limit: int) -> DataSet[CongressTrade]:
        response = await self._http.get(
            HOUSE_WATCHER,
            self._settings.house_trades_url,
            headers={"User-Agent": FINCH_USER_AGENT, **ACCEPT_JSON},
        )
        trades = await self._http.json(
            HOUSE_WATCHER, response, lambda payload: _newest_trades_first(parse_house_transactions(payload))
        )
        return live_dataset(trades[: max(limit, 0)], HOUSE_WATCHER)

    async def senate_trades(self, limit: int) -> DataSet[CongressTrade]:
        if self._fmp_key:
            return await self._fmp_senate_trades(limit)
        response = await self._http.get(
            SENATE_WATCHER,
            self._settings.senate_trades_url,
            headers={"User-Agent": FINCH_USER_AGENT, **ACCEPT_JSON},
        )
        trades = await self._http.json(
            SENATE_WATCHER, response, lambda payload: _newest_trades_first(parse_senate_transactions(payload))
        )
        newest = next((t.transaction_date for t in trades if t.transaction_date), None)
        as_of = datetime.combine(newest, datetime.min.time(), UTC) if newest else None
        ends = f"ends {newest:%b %Y}" if newest else "is no longer updated"
        note = (
            f"historic archive: the Senate Stock Watcher aggregate {ends}; "
            "set FMP_API_KEY for current Senate trades"
        )
        return live_dataset(trades[: max(limit, 0)], SENATE_WATCHER, as_of=as_of, note=note)

    async def _fmp_senate_trades(self, limit: int) -> DataSet[CongressTrade]:
        url = f"{self._settings.fmp_base_url.rstrip('/')}/stable/senate-latest"
        trades: list[CongressTrade] = []
        for page in range(max(math.ceil(limit / FMP_PAGE_SIZE), 1)):
            response = await self._http.get(
                FMP,
                url,
                params={"page": page, "limit": FMP_PAGE_SIZE, "apikey": self._fmp_key},
                headers={"User-Agent": FINCH_USER_AGENT, **ACCEPT_JSON},
            )
            rows = await self._http.json(FMP, response, self._fmp_rows)
            trades.extend(parse_senate_transactions(fmp_senate_rows_as_watcher_rows(rows)))
            if len(rows) < FMP_PAGE_SIZE:
                break
        return live_dataset(_newest_trades_first(trades)[: max(limit, 0)], FMP)

    def _fmp_rows(self, payload: Any) -> list[dict[str, Any]]:
        """FMP answers some refusals with HTTP 200 and {"Error Message": …}."""
        if isinstance(payload, dict) and payload.get("Error Message"):
            message = str(payload["Error Message"]).replace(self._fmp_key, "***")
            log.warning("%s refused the request: %s", FMP, message)
            raise DataUnavailable(FMP, f"{FMP} refused the request", detail=message)
        return payload

    # ------------------------------------------------------------ Yahoo

    async def quotes(self, symbols: list[str]) -> DataSet[Quote]:
        """Quotes in the order asked; a symbol Yahoo does not know is absent.

        If Yahoo fails for some symbols only, the others are returned with a note.
        """
        wanted = list(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))
        if not wanted:
            return live_dataset([], YAHOO)
        charts = await asyncio.gather(*(self._chart(s, "5d") for s in wanted), return_exceptions=True)
        failures = [(s, c) for s, c in zip(wanted, charts, strict=True) if isinstance(c, BaseException)]
        for _, error in failures:
            if not isinstance(error, DataUnavailable):
                raise error
        if failures and len(failures) == len(wanted):
            raise failures[0][1]
        quotes = [c[0] for c in charts if isinstance(c, tuple)]
        note = f"{YAHOO} did not answer for {', '.join(s for s, _ in failures)}" if failures else None
        as_of = max((q.as_of for q in quotes), default=None)
        return live_dataset(quotes, YAHOO, as_of=as_of, note=note)

    async def price_history(self, symbol: str, days: int) -> DataSet[PricePoint]:
        """Daily closes, oldest first, of the `days` calendar days up to the last close."""
        wanted = symbol.strip().upper()
        if days <= 0 or not wanted:
            return live_dataset([], YAHOO)
        chart_range = next((name for name, span in _YAHOO_RANGES if days <= span), "max")
        chart = await self._chart(wanted, chart_range)
        if chart is None:
            return live_dataset([], YAHOO, note=f"{YAHOO} has no chart for {wanted}")
        quote, history = chart
        start = history[-1][0] - timedelta(days=days) if history else date.max
        points = [PricePoint(date=day, close=close) for day, close in history if day > start]
        return live_dataset(points, YAHOO, as_of=quote.as_of)

    async def _chart(self, symbol: str, chart_range: str) -> tuple[Quote, list[tuple[date, float]]] | None:
        """A v8 chart, or None when Yahoo has no data for the symbol."""
        url = f"{self._settings.yahoo_base_url.rstrip('/')}/v8/finance/chart/{quote(symbol, safe='')}"
        async with self._http.slots(YAHOO):
            response = await self._http.get(
                YAHOO,
                url,
                params={"range": chart_range, "interval": "1d"},
                headers={"User-Agent": BROWSER_USER_AGENT, **ACCEPT_JSON},
                missing_ok=True,
            )
        if response.status_code == 404:
            return None

        def parse(payload: dict[str, Any]) -> tuple[Quote, list[tuple[date, float]]] | None:
            chart = payload.get("chart") or {}
            if chart.get("error") or not chart.get("result"):
                return None
            return parse_yahoo_chart(payload)

        return await self._http.json(YAHOO, response, parse)

    # ------------------------------------------------------------ SEC EDGAR

    async def insider_trades(self, ticker: str, limit: int) -> DataSet[InsiderTrade]:
        return await self._sec.insider_trades(ticker, limit)

    async def recent_insider_trades(self, limit: int) -> DataSet[InsiderTrade]:
        return await self._sec.recent_insider_trades(limit)
