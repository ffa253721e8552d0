"""Schema migrations (Alembic): `upgrade` brings a database to the app's schema.

Run at start (by `engine_for`, so every process is safe to use the database it opens) and
by hand with `python -m finch_app db upgrade`. Several workers may start at once: on
PostgreSQL an advisory lock and on SQLite a lock file let one migrate while the others
wait. A database made before migrations existed (by `create_all`) is adopted by the first
migration, which creates only the tables that are missing.

Adding a table or a column: change the model, then `python -m finch_app db revision -m "what"`
writes a migration from the difference; review it and keep it with the model change
(`tests/test_migrations.py` fails while models and migrations disagree).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_ID = 7244315
"""pg_advisory_xact_lock key shared by every Finch process that migrates or creates tables."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration (read once: the scripts ship with the code)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _sqlite_folder(engine: Engine) -> Path | None:
    database = engine.url.database
    return None if not database or database == ":memory:" else Path(database).parent


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux/macOS
        yield
        return
    path = Path(database).with_name(Path(database).name + ".migrate-lock")
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to `revision`, one process at a time. A database already at the
    head is only read: every process opens one, and Alembic's own check costs it ~30 ms."""
    if engine.dialect.name == "sqlite" and (folder := _sqlite_folder(engine)) is not None:
        folder.mkdir(parents=True, exist_ok=True)
    if revision == "head" and current_revision(engine) == head_revision():
        return
    if engine.dialect.name == "sqlite":
        with _sqlite_file_lock(engine), engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
        return
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_ID})
        command.upgrade(alembic_config(connection), revision)


def revision(engine: Engine, message: str) -> None:
    """Write a new migration from the difference between the models and an up-to-date database."""
    upgrade(engine)
    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)
