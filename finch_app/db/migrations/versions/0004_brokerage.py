"""Brokerage connections: a user's SnapTrade user, with its secret encrypted at rest.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "brokerage_connection",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("snaptrade_user_id", sa.String(), nullable=False),
        sa.Column("encrypted_secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("snaptrade_user_id"),
    )


def downgrade() -> None:
    op.drop_table("brokerage_connection")
