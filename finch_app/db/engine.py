"""The database engine: one per URL per process, its schema migrated on first use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from finch_app.db import accounts, migrate, models  # noqa: F401  (registers the tables)
from finch_app.settings import get_settings


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """The process's engine for `url`, its schema migrated to the app's (see `migrate.py`)."""
    engine = new_engine(url)
    migrate.upgrade(engine)
    return engine


def new_engine(url: str) -> Engine:
    """An engine with Finch's connection settings, schema untouched."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    return engine


def get_engine() -> Engine:
    return engine_for(get_settings().database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and always closes."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session
        session.commit()
