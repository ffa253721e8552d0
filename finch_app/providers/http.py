"""HTTP to the live data sources: one client per event loop, retries, and failures named by source.

Owns the plumbing every live source shares: timeouts, retries with backoff on 429/5xx honouring
Retry-After, concurrency limits per source, and decoding large JSON payloads off the event loop.
Every failure becomes a `DataUnavailable` naming the source, never the URL (its query may hold
an API key).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from finch_app.providers.base import DataUnavailable
from finch_app.providers.records import DataSet

log = logging.getLogger("finch_app.providers.live")

R = TypeVar("R")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_WAIT_S = 10.0
"""A Retry-After longer than this is not waited for: the caller falls back instead."""
INLINE_JSON_BYTES = 64 * 1024
"""Payloads larger than this are decoded and parsed in a worker thread."""

FINCH_USER_AGENT = "Finch/0.1 (market research assistant)"
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
ACCEPT_JSON = {"Accept": "application/json"}


@dataclass
class _LoopClients:
    """The client and concurrency limits of one event loop (connections cannot cross loops)."""

    loop: asyncio.AbstractEventLoop
    http: httpx.AsyncClient
    slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)


def retry_after_s(response: httpx.Response) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def describe(error: Exception) -> str:
    return str(error).strip() or type(error).__name__


def decode(source: str, content: bytes, parse: Callable[[Any], R]) -> R:
    try:
        return parse(json.loads(content))
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        log.warning("%s sent data Finch cannot read: %s", source, describe(error))
        raise DataUnavailable(
            source,
            f"{source} sent data Finch can't read",
            reason=f"{source} sent unreadable data",
            detail=describe(error),
        ) from error


class HttpFetcher:
    """GETs to the public sources, with the retry and error rules above."""

    def __init__(
        self, *, timeout_s: float, max_retries: int, concurrency: dict[str, int] | None = None
    ) -> None:
        """
        Args:
            concurrency: Requests at once per source name (`slots(name)`); other sources are unlimited.
        """
        self.timeout_s = timeout_s
        self.max_retries = max(max_retries, 0)
        self._concurrency = concurrency or {}
        self._clients: _LoopClients | None = None

    def _loop_clients(self) -> _LoopClients:
        loop = asyncio.get_running_loop()
        if self._clients is None or self._clients.loop is not loop:
            self._clients = _LoopClients(
                loop=loop,
                http=httpx.AsyncClient(timeout=httpx.Timeout(self.timeout_s), follow_redirects=True),
                slots={name: asyncio.Semaphore(limit) for name, limit in self._concurrency.items()},
            )
        return self._clients

    def slots(self, source: str) -> asyncio.Semaphore:
        """The source's concurrency limit on the running loop."""
        return self._loop_clients().slots[source]

    async def aclose(self) -> None:
        """Close the client (of the running event loop)."""
        clients, self._clients = self._clients, None
        if clients is not None and clients.loop is asyncio.get_running_loop():
            await clients.http.aclose()

    async def get(
        self,
        source: str,
        url: str,
        *,
        headers: dict[str, str],
        params: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> httpx.Response:
        """GET with retries on 429/5xx (honouring Retry-After); a 404 is returned when `missing_ok`."""
        http = self._loop_clients().http
        attempt = 0
        while True:
            try:
                response = await http.get(url, params=params, headers=headers)
            except httpx.TimeoutException as error:
                message = f"{source} did not answer within {self.timeout_s:g} s"
                raise DataUnavailable(source, message, detail=describe(error)) from error
            except httpx.TransportError as error:
                # The user hears that the source is out of reach; the network's words go to the log.
                log.warning("%s is unreachable: %s", source, describe(error))
                raise DataUnavailable(source, f"Couldn't reach {source}", detail=describe(error)) from error
            status = response.status_code
            if status == 404 and missing_ok:
                return response
            if status in RETRY_STATUSES:
                retry_after = retry_after_s(response)
                wait = retry_after if retry_after is not None else 0.5 * 2**attempt + random.uniform(0, 0.25)
                if attempt < self.max_retries and wait <= MAX_RETRY_WAIT_S:
                    attempt += 1
                    log.info("%s answered HTTP %d; retry %d in %.1f s", source, status, attempt, wait)
                    await asyncio.sleep(wait)
                    continue
                if status == 429:
                    later = f"; it asks to wait {retry_after:.0f} s" if retry_after else ""
                    raise DataUnavailable(
                        source,
                        f"{source} is rate-limiting requests (HTTP 429){later}",
                        reason=f"{source} is busy (too many requests)",
                    )
                tries = f" after {attempt + 1} tries" if attempt else ""
                raise DataUnavailable(source, f"{source} is failing: HTTP {status}{tries}")
            if status >= 400:
                raise DataUnavailable(source, f"{source} refused the request: HTTP {status}")
            return response

    async def json(self, source: str, response: httpx.Response, parse: Callable[[Any], R]) -> R:
        """Decode and parse a JSON body; large bodies in a worker thread, so the loop stays free."""
        if len(response.content) > INLINE_JSON_BYTES:
            return await asyncio.to_thread(decode, source, response.content, parse)
        return decode(source, response.content, parse)


def live_dataset(
    rows: list[R], source: str, *, as_of: datetime | None = None, note: str | None = None
) -> DataSet[R]:
    """Rows a live source answered just now (or as of the source's own date)."""
    return DataSet(rows=rows, source=source, as_of=as_of or datetime.now(UTC), mode="live", note=note)
