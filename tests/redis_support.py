"""The local Redis and PostgreSQL the multi-worker tests share (skipped when absent)."""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("FINCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("FINCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def redis_url_or_skip() -> str:
    if not _reachable(REDIS_URL, 6379):
        pytest.skip(f"no Redis at {REDIS_URL} (set FINCH_TEST_REDIS_URL)")
    return REDIS_URL


def fresh_postgres_database_or_skip() -> tuple[str, object]:
    """A new, empty database on the local server; returns its URL and a function that drops it."""
    if not _reachable(POSTGRES_URL, 5432):
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (set FINCH_TEST_POSTGRES_URL)")
    from sqlalchemy import create_engine, text

    name = f"finch_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop
