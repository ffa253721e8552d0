"""Alembic's environment for Finch: the app's tables, on the connection `migrate.py` hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from finch_app.db import accounts, models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("Run migrations through finch_app.db.migrate (python -m finch_app db upgrade).")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
