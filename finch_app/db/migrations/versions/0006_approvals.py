"""Approvals: paused runs keep how to go on; tool calls keep what the user was asked and decided;
tools a user always allows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _add_missing(table: str, *columns: sa.Column) -> None:
    """Add the columns a table lacks (a database made by `create_all` may have them already)."""
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}
    missing = [c for c in columns if c.name not in present]
    if missing:
        with op.batch_alter_table(table) as batch:
            for column in missing:
                batch.add_column(column)


def upgrade() -> None:
    _add_missing(
        "run",
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resume_state", sa.JSON(), nullable=True),
    )
    _add_missing(
        "toolcall",
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("decision", sa.String(), nullable=True),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_via", sa.String(), nullable=True),
        sa.Column("decision_reason", sa.String(), nullable=True),
    )
    op.create_table(
        "tool_permission",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("tool_name", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "tool_name"),
    )
    op.create_index("ix_tool_permission_user_id", "tool_permission", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_tool_permission_user_id", table_name="tool_permission")
    op.drop_table("tool_permission")
    with op.batch_alter_table("toolcall") as batch:
        for name in ("decision_reason", "decided_via", "decided_at", "decided_by", "decision", "description"):
            batch.drop_column(name)
    with op.batch_alter_table("run") as batch:
        batch.drop_column("resume_state")
        batch.drop_column("paused_at")
