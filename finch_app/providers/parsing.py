"""Turning the public sources' decoded JSON into records.

Owns every quirk of ApeWisdom, House Stock Watcher, Senate Stock Watcher and Yahoo's
chart API (string-typed numbers, HTML entities, NUL-garbled filing notes, placeholder
tickers, null closes), so providers and the bundled samples share one parser. Pure
functions, no I/O. A malformed row is skipped and counted in a log line; it never sinks
the rest of the payload.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, TypeVar

from finch_app.providers.records import CongressTrade, Quote, RedditTicker

log = logging.getLogger(__name__)

R = TypeVar("R")

_PLACEHOLDERS = frozenset({"", "--", "N/A"})
# A bare ticker as the Senate feed puts it in `asset_description` ("msft", "brk.b").
# One case only, so ordinary words ("Visa", "More") are not mistaken for tickers.
_BARE_TICKER = re.compile(r"(?:[a-z]{1,5}(?:\.[a-z])?|[A-Z]{1,5}(?:\.[A-Z])?)")
_AMOUNT_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_BLOCK_TAG = re.compile(r"<\s*(?:br|div|p|li)\b[^>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]*>")
_SEPARATORS = re.compile(r"\s*;(?:\s*;)*\s*")
_WHITESPACE = re.compile(r"\s+")
# The House Clerk's PDF extraction leaves labels such as "F\0\0\0\0\0 S\0\0\0\0\0:"
# (Filing Status) after the asset name; the first such label starts the filing notes.
_FILING_NOTES = re.compile(r"\s+[A-Z]\x00")


def _parse_rows(rows: list[Any], parse_row: Callable[[Any], R | None], source: str) -> list[R]:
    """Parse each row, dropping (and counting) the ones that fail instead of the payload."""
    if not isinstance(rows, list):
        raise ValueError(f"{source}: expected a list of rows, got {type(rows).__name__}")
    parsed: list[R] = []
    skipped = 0
    for row in rows:
        try:
            record = parse_row(row)
        except (ValueError, TypeError, KeyError, AttributeError):
            skipped += 1
            continue
        if record is not None:
            parsed.append(record)
    if skipped:
        log.warning("%s: skipped %d malformed row(s)", source, skipped)
    return parsed


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    return "" if value is None else str(value).strip()


def _optional_text(value: Any) -> str | None:
    text = _text(value)
    return None if text.upper() in _PLACEHOLDERS else text


def _to_int(value: Any) -> int:
    """ApeWisdom sends numbers as ints or as strings ("412"), occasionally "1,204"."""
    if isinstance(value, bool):
        raise TypeError("boolean is not a count")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = str(value).strip().replace(",", "")
    try:
        return int(text)
    except ValueError:
        return int(float(text))


def _optional_int(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _to_int(value)


@lru_cache(maxsize=8192)
def parse_date(text: str) -> date | None:
    """`MM/DD/YYYY` (the watchers' format) or ISO `YYYY-MM-DD`; anything else is None.

    Cached: a feed of tens of thousands of rows holds only a few thousand distinct dates.
    """
    text = text.strip()
    try:
        if len(text) >= 10 and text[4] == "-":
            return date.fromisoformat(text[:10])
        month, day, year = text.split("/")
        year_number = int(year)
        if year_number < 100:
            year_number += 2000
        return date(year_number, int(month), int(day))
    except ValueError:
        return None


def _date_field(value: Any) -> date | None:
    return parse_date(value) if isinstance(value, str) and value else None


@lru_cache(maxsize=1024)
def parse_amount(text: str) -> tuple[float | None, float | None]:
    """Bounds of a filed amount: a range, an exact value (low == high) or an open range.

    "$1,001 - $15,000" -> (1001, 15000); "$2,722.50" -> (2722.5, 2722.5);
    "$50,000,000 +" / "Over $50,000,000" -> (50000000, None); "Unknown" -> (None, None).
    Cached: filings use a handful of bands.
    """
    numbers = [float(n.replace(",", "")) for n in _AMOUNT_NUMBER.findall(text or "")]
    if not numbers:
        return None, None
    if len(numbers) >= 2:
        low, high = numbers[0], numbers[1]
        return (low, high) if low <= high else (high, low)
    if "+" in text or "over" in text.lower():
        return numbers[0], None
    return numbers[0], numbers[0]


def clean_description(text: str) -> str:
    """A readable asset description from what the watchers serve.

    Drops the NUL-garbled filing-note tail the House feed carries (keeping the asset name),
    turns the Senate feed's HTML (`<div class="text-muted">`, `<br>`, `&amp;`, `&nbsp;`)
    into "name; detail; detail" and collapses whitespace.
    """
    if "\x00" in text:
        head = _FILING_NOTES.split(text, maxsplit=1)[0]
        text = (head if head.strip() else text).replace("\x00", "")
    if "<" in text:
        text = _ANY_TAG.sub("", _BLOCK_TAG.sub(";", text))
    if "&" in text:
        text = html.unescape(text)
    text = _WHITESPACE.sub(" ", text)
    if ";" in text:
        text = _SEPARATORS.sub("; ", text).strip("; ")
    return text.strip()


def normalise_ticker(value: Any) -> str | None:
    """Upper-case ticker, or None for the feeds' "no ticker" placeholders ("--", "N/A", "")."""
    ticker = _text(value).upper()
    return None if ticker in _PLACEHOLDERS else ticker


# ---------------------------------------------------------------- ApeWisdom


def _reddit_row(row: dict[str, Any]) -> RedditTicker | None:
    ticker = normalise_ticker(row.get("ticker"))
    if ticker is None:
        return None
    rank_24h_ago = _optional_int(row.get("rank_24h_ago"))
    return RedditTicker(
        rank=_to_int(row["rank"]),
        ticker=ticker,
        name=html.unescape(_text(row.get("name"))) or ticker,
        mentions=_to_int(row["mentions"]),
        upvotes=_optional_int(row.get("upvotes")) or 0,
        rank_24h_ago=rank_24h_ago or None,
        mentions_24h_ago=_optional_int(row.get("mentions_24h_ago")),
    )


def parse_apewisdom(payload: dict[str, Any]) -> list[RedditTicker]:
    """One ApeWisdom page (`/api/v1.0/filter/{filter}/page/{n}`), in the source's order."""
    if not isinstance(payload, dict):
        raise ValueError(f"ApeWisdom: expected an object, got {type(payload).__name__}")
    return _parse_rows(payload.get("results") or [], _reddit_row, "ApeWisdom")


# ---------------------------------------------------------------- congressional trades


def _trade(
    row: dict[str, Any], chamber: Literal["senate", "house"], member_key: str, url_key: str
) -> CongressTrade:
    member = _text(row[member_key])
    if not member:
        raise ValueError("trade without a member")
    amount = _text(row.get("amount"))
    low, high = parse_amount(amount)
    return CongressTrade(
        chamber=chamber,
        member=member,
        transaction_date=_date_field(row.get("transaction_date")),
        disclosure_date=_date_field(row.get("disclosure_date")),
        ticker=normalise_ticker(row.get("ticker")),
        asset_description=clean_description(_text(row.get("asset_description"))),
        asset_type=_optional_text(row.get("asset_type")),
        transaction_type=_text(row.get("type")),
        amount=amount,
        amount_low=low,
        amount_high=high,
        owner=_optional_text(row.get("owner")),
        district=_optional_text(row.get("district")),
        source_url=_optional_text(row.get(url_key)),
    )


def _house_row(row: dict[str, Any]) -> CongressTrade:
    return _trade(row, "house", "representative", "source_url")


def _senate_row(row: dict[str, Any]) -> CongressTrade:
    trade = _trade(row, "senate", "senator", "ptr_link")
    if trade.ticker is None:
        # With "--" the feed sometimes puts the ticker itself in the description ("msft").
        description = _text(row.get("asset_description"))
        if _BARE_TICKER.fullmatch(description):
            return trade.model_copy(update={"ticker": description.upper()})
    return trade


def parse_house_transactions(payload: list[dict[str, Any]]) -> list[CongressTrade]:
    """House Stock Watcher's `all_transactions.json` (House Clerk PTRs), in file order."""
    return _parse_rows(payload, _house_row, "House Stock Watcher")


def parse_senate_transactions(payload: list[dict[str, Any]]) -> list[CongressTrade]:
    """Senate Stock Watcher's aggregate `all_transactions.json` (Senate eFD PTRs), in file order."""
    return _parse_rows(payload, _senate_row, "Senate Stock Watcher")


# ---------------------------------------------------------------- Yahoo chart


def parse_yahoo_chart(payload: dict[str, Any]) -> tuple[Quote, list[tuple[date, float]]]:
    """The quote and the daily closes (oldest first, null bars skipped) of a v8 chart.

    Bars are dated in the exchange's time zone (`meta.gmtoffset`). The previous close is
    `meta.previousClose` when sent, else the last close before the quote's session, else
    `meta.chartPreviousClose` (which, on multi-day ranges, is the close before the range).
    """
    chart = payload.get("chart") if isinstance(payload, dict) else None
    if not isinstance(chart, dict):
        raise ValueError("not a Yahoo chart payload")
    error = chart.get("error")
    if error:
        if isinstance(error, dict):
            error = error.get("description") or error.get("code")
        raise ValueError(f"Yahoo chart error: {error}")
    results = chart.get("result") or []
    if not results:
        raise ValueError("Yahoo chart has no result")
    result = results[0]
    meta = result.get("meta") or {}
    symbol = _text(meta.get("symbol")).upper()
    if not symbol:
        raise ValueError("Yahoo chart has no symbol")

    offset = timedelta(seconds=int(meta.get("gmtoffset") or 0))
    quotes = (result.get("indicators") or {}).get("quote") or [{}]
    closes = quotes[0].get("close") or []
    history = [
        ((datetime.fromtimestamp(ts, UTC) + offset).date(), float(close))
        # Yahoo sometimes sends fewer closes than timestamps for the session in progress.
        for ts, close in zip(result.get("timestamp") or [], closes, strict=False)
        if close is not None and ts is not None
    ]

    price = meta.get("regularMarketPrice")
    if price is None:
        if not history:
            raise ValueError(f"Yahoo chart for {symbol} has no price")
        price = history[-1][1]
    market_time = meta.get("regularMarketTime")
    if market_time is not None:
        as_of = datetime.fromtimestamp(market_time, UTC)
    elif history:
        as_of = datetime.combine(history[-1][0], datetime.min.time(), UTC)
    else:
        raise ValueError(f"Yahoo chart for {symbol} has no market time")
    previous_close = meta.get("previousClose")
    if previous_close is None:
        session = (as_of + offset).date()
        earlier = [close for day, close in history if day < session]
        previous_close = earlier[-1] if earlier else meta.get("chartPreviousClose")

    quote = Quote(
        symbol=symbol,
        price=float(price),
        previous_close=float(previous_close) if previous_close is not None else None,
        currency=_text(meta.get("currency")) or "USD",
        as_of=as_of,
    )
    return quote, history
