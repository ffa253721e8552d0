"""The last good answer of each live data source, in memory and on disk.

Owns how long an answer counts as fresh (a TTL per source) and where copies live:
an in-memory layer for the running process and one JSON file per key under
`<data dir>/cache`, so a restarted app (or a laptop that went offline) still has the
last good copy. Values are pydantic models; each entry records when it was fetched.
Not the place for fetching or for deciding when to fall back: see `market.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

TTL: dict[str, timedelta] = {
    "apewisdom": timedelta(minutes=5),
    "house": timedelta(hours=1),
    "senate": timedelta(hours=1),
    "yahoo-quotes": timedelta(minutes=1),
    "yahoo-history": timedelta(minutes=10),
    "sec-insider": timedelta(minutes=30),
    "sec-tickers": timedelta(days=1),
}
"""How long an answer of each source counts as fresh; older copies are only a fallback."""

MEMORY_ENTRIES = 256
"""Entries kept in memory (least recently used go first); disk keeps every key."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class CacheKey:
    """One cached answer: the source (which sets its TTL) and the request's parameters."""

    source: str
    params: str = ""

    def __post_init__(self) -> None:
        if self.source not in TTL:
            raise ValueError(f"no TTL for cache source {self.source!r}")

    @property
    def ttl(self) -> timedelta:
        return TTL[self.source]

    @property
    def filename(self) -> str:
        """A readable, collision-free file name (parameters may hold any character)."""
        digest = hashlib.sha1(self.params.encode()).hexdigest()[:10]
        slug = _UNSAFE.sub("_", self.params)[:60].strip("_")
        return f"{self.source}--{slug}-{digest}.json" if slug else f"{self.source}--{digest}.json"


@dataclass(frozen=True)
class Cached(Generic[M]):
    value: M
    fetched_at: datetime


class DataCache:
    """Last good answers by key: fresh within the source's TTL, kept on disk indefinitely."""

    def __init__(self, directory: Path, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.directory = directory
        self._now = now
        self._memory: OrderedDict[CacheKey, Cached[BaseModel]] = OrderedDict()
        # A thread lock: disk reads and writes run in worker threads.
        self._lock = threading.Lock()

    def age(self, entry: Cached[BaseModel]) -> timedelta:
        return max(self._now() - entry.fetched_at, timedelta(0))

    async def fresh(self, key: CacheKey, kind: type[M]) -> Cached[M] | None:
        """The copy fetched within the key's TTL, if any (memory first, then disk)."""
        entry = await self.last_good(key, kind)
        if entry is None or self.age(entry) >= key.ttl:
            return None
        return entry

    async def last_good(self, key: CacheKey, kind: type[M]) -> Cached[M] | None:
        """The newest copy whatever its age, or None if the key was never stored."""
        with self._lock:
            entry = self._memory.get(key)
            if entry is not None:
                self._memory.move_to_end(key)
        if entry is None:
            entry = await asyncio.to_thread(self._read, key, kind)
            if entry is None:
                return None
            self._remember(key, entry)
        return entry  # type: ignore[return-value]

    async def put(self, key: CacheKey, value: BaseModel, *, fetched_at: datetime | None = None) -> None:
        """Store a good answer in memory and (off the event loop) on disk."""
        entry: Cached[BaseModel] = Cached(value, fetched_at or self._now())
        self._remember(key, entry)
        try:
            await asyncio.to_thread(self._write, key, entry)
        except OSError as error:
            # A full or read-only disk costs the restart copy, not the answer.
            log.warning("could not write cache file for %s: %s", key, error)

    def _remember(self, key: CacheKey, entry: Cached[BaseModel]) -> None:
        with self._lock:
            self._memory[key] = entry
            self._memory.move_to_end(key)
            while len(self._memory) > MEMORY_ENTRIES:
                self._memory.popitem(last=False)

    def _read(self, key: CacheKey, kind: type[M]) -> Cached[M] | None:
        path = self.directory / key.filename
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            return Cached(kind.model_validate(stored["value"]), datetime.fromisoformat(stored["fetched_at"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as error:
            # A copy from an older version of Finch or a torn disk: as good as none.
            log.warning("ignoring unreadable cache file %s: %s", path, error)
            return None

    def _write(self, key: CacheKey, entry: Cached[BaseModel]) -> None:
        """Write atomically (temp file + rename), so a reader never sees half a file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "source": key.source,
            "params": key.params,
            "fetched_at": entry.fetched_at.isoformat(),
            "value": entry.value.model_dump(mode="json"),
        }
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(payload, file, separators=(",", ":"))
            os.replace(temporary, self.directory / key.filename)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
