"""The last good answer of each live data source, in memory and in the database.

Owns how long an answer counts as fresh (a TTL per source) and where copies live: an
in-memory layer for the running process and the `CachedResponse` table of the app's
database, so a restarted app (or a laptop that went offline) still has the last good
copy, and several workers sharing PostgreSQL share their copies. Values are pydantic
models stored as JSON; each entry records when it was fetched. Database reads and writes
(and the JSON work) run in worker threads, off the event loop.
Not the place for fetching or for deciding when to fall back: see `market.py`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from finch_app.db.engine import session_scope
from finch_app.db.models import CachedResponse

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

TTL: dict[str, timedelta] = {
    "apewisdom": timedelta(minutes=5),
    "house": timedelta(hours=1),
    "senate": timedelta(hours=1),
    "yahoo-quotes": timedelta(minutes=1),
    "yahoo-history": timedelta(minutes=10),
    "sec-insider": timedelta(minutes=30),
    "sec-latest": timedelta(minutes=10),
    "sec-tickers": timedelta(days=1),
}
"""How long an answer of each source counts as fresh; older copies are only a fallback."""

MEMORY_ENTRIES = 256
"""Entries kept in memory (least recently used go first); the database keeps every key."""


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
    def id(self) -> str:
        """The database key: "<source>:<params>" (sources hold no colon, so it is unambiguous)."""
        return f"{self.source}:{self.params}"


@dataclass(frozen=True)
class Cached(Generic[M]):
    value: M
    fetched_at: datetime


class DataCache:
    """Last good answers by key: fresh within the source's TTL, kept in the database indefinitely.

    The memory layer answers while its copy is fresh; otherwise the database is asked,
    where another worker (or an earlier run of the app) may have stored a newer copy.
    """

    def __init__(
        self, engine: Engine | None = None, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        """
        Args:
            engine: The database holding the copies; None: the app's own (`session_scope()`),
                resolved at each use so it follows the settings.
            now: The clock that ages copies (tests move it).
        """
        self._engine = engine
        self._now = now
        self._memory: OrderedDict[CacheKey, Cached[BaseModel]] = OrderedDict()
        # A thread lock: database reads and writes run in worker threads.
        self._lock = threading.Lock()

    def age(self, entry: Cached[BaseModel]) -> timedelta:
        return max(self._now() - entry.fetched_at, timedelta(0))

    async def fresh(self, key: CacheKey, kind: type[M]) -> Cached[M] | None:
        """The copy fetched within the key's TTL, if any (memory first, then the database)."""
        entry = await self._newest(key, kind)
        if entry is None or self.age(entry) >= key.ttl:
            return None
        return entry

    async def last_good(self, key: CacheKey, kind: type[M]) -> Cached[M] | None:
        """The newest copy whatever its age, or None if the key was never stored."""
        return await self._newest(key, kind)

    async def put(self, key: CacheKey, value: BaseModel, *, fetched_at: datetime | None = None) -> None:
        """Store a good answer in memory and (off the event loop) in the database."""
        entry: Cached[BaseModel] = Cached(value, fetched_at or self._now())
        self._remember(key, entry)
        try:
            await asyncio.to_thread(self._write, key, entry)
        except SQLAlchemyError as error:
            # An unreachable or locked database costs the shared copy, not the answer.
            log.warning("could not store the cached copy of %s: %s", key.id, error)

    async def _newest(self, key: CacheKey, kind: type[M]) -> Cached[M] | None:
        """Memory's copy while it is fresh, else the newer of memory's and the database's."""
        with self._lock:
            entry = self._memory.get(key)
            if entry is not None:
                self._memory.move_to_end(key)
        if entry is not None and self.age(entry) < key.ttl:
            return entry  # type: ignore[return-value]
        stored = await asyncio.to_thread(self._read, key, kind)
        if stored is not None and (entry is None or stored.fetched_at > entry.fetched_at):
            self._remember(key, stored)
            return stored
        return entry  # type: ignore[return-value]

    def _remember(self, key: CacheKey, entry: Cached[BaseModel]) -> None:
        with self._lock:
            self._memory[key] = entry
            self._memory.move_to_end(key)
            while len(self._memory) > MEMORY_ENTRIES:
                self._memory.popitem(last=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        if self._engine is None:
            with session_scope() as session:
                yield session
            return
        with Session(self._engine, expire_on_commit=False) as session:
            yield session
            session.commit()

    def _read(self, key: CacheKey, kind: type[M]) -> Cached[M] | None:
        try:
            with self._session() as session:
                row = session.get(CachedResponse, key.id)
                stored = None if row is None else (row.payload, row.fetched_at)
        except SQLAlchemyError as error:
            log.warning("could not read the cached copy of %s: %s", key.id, error)
            return None
        if stored is None:
            return None
        payload, fetched_at = stored
        try:
            value = kind.model_validate_json(payload)
        except ValidationError as error:
            # A copy written by an older version of Finch: as good as none.
            log.warning("ignoring unreadable cached copy of %s: %s", key.id, error)
            return None
        return Cached(value, fetched_at)

    def _write(self, key: CacheKey, entry: Cached[BaseModel]) -> None:
        """Insert or replace the key's row in one statement, so concurrent workers cannot
        collide; a copy older than the stored one does not replace it."""
        values = {
            "key": key.id,
            "source": key.source,
            "payload": entry.value.model_dump_json(),
            "fetched_at": entry.fetched_at.astimezone(UTC),
        }
        with self._session() as session:
            dialect = session.get_bind().dialect.name
            if dialect not in ("postgresql", "sqlite"):
                session.merge(CachedResponse(**values))
                return
            table = CachedResponse.__table__  # type: ignore[attr-defined]
            insert = (postgresql if dialect == "postgresql" else sqlite).insert(table).values(values)
            session.exec(
                insert.on_conflict_do_update(  # type: ignore[call-overload]
                    index_elements=["key"],
                    set_={name: insert.excluded[name] for name in ("source", "payload", "fetched_at")},
                    where=table.c.fetched_at <= insert.excluded.fetched_at,
                )
            )
