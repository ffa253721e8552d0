"""Alembic migrations: an empty database, a database made by the previous migration, and
one made by `create_all` before migrations existed all end at the app's schema, data kept.
Runs on SQLite and (with FINCH_TEST_POSTGRES_URL) PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from finch_app.db import accounts, migrate, models  # noqa: F401
from finch_app.db.engine import new_engine
from finch_app.settings import get_settings

pytestmark = [pytest.mark.persistence, pytest.mark.empty_database]


@pytest.fixture
def engine():
    engine = new_engine(get_settings().database_url)
    yield engine
    engine.dispose()


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _differences(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def test_the_chain_is_linear_and_starts_at_0001():
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(script.get_heads()) == 1, "two migrations claim the same parent: rebase one onto the other"
    assert _revisions()[:2] == ["0001", "0002"]


def test_an_empty_database_upgrades_to_the_models(engine):
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert _differences(engine) == [], (
        "models and migrations disagree: write a migration with "
        "`python -m finch_app db revision -m '...'` and review it"
    )
    migrate.upgrade(engine)  # again: nothing to do


@pytest.mark.parametrize("step", range(1, len(_revisions())))
def test_each_migration_upgrades_a_database_made_by_the_previous_one(engine, step):
    revisions = _revisions()
    previous = revisions[step - 1]
    migrate.upgrade(engine, previous)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO conversation (id, user_id, title, created_at, updated_at) VALUES ('c1', 'local', 'Kept', :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            sa.text(
                "INSERT INTO holding (id, user_id, symbol, name, shares, cost_basis, updated_at) "
                "VALUES ('h1', 'local', 'AAPL', 'Apple', 3, 150, :now)"
            ),
            {"now": now},
        )
    migrate.upgrade(engine, revisions[step])
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT title FROM conversation WHERE id = 'c1'")).scalar() == "Kept"
        )
        assert connection.execute(sa.text("SELECT symbol FROM holding WHERE id = 'h1'")).scalar() == "AAPL"
    assert _differences(engine) == []


def test_a_database_made_before_migrations_is_adopted(engine):
    """`create_all` made the chat tables (no alembic_version): they are kept, the rest added."""
    legacy = [
        SQLModel.metadata.tables[name] for name in ("conversation", "message", "run", "toolcall", "holding")
    ]
    SQLModel.metadata.create_all(engine, tables=legacy)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO conversation (id, user_id, title, created_at, updated_at) VALUES ('old', 'local', 'Old', :t, :t)"
            ),
            {"t": datetime.now(UTC)},
        )
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT title FROM conversation")).scalar() == "Old"
    assert _differences(engine) == []


def test_the_app_migrates_the_database_it_opens():
    from finch_app.db.engine import get_engine

    engine = get_engine()
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert sa.inspect(engine).has_table("app_user")
