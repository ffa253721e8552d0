"""One status vocabulary: answers say `completed` and `cancelled`, like their runs and tool calls.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_RENAMES = (("complete", "completed"), ("stopped", "cancelled"))


def upgrade() -> None:
    for old, new in _RENAMES:
        op.execute(f"UPDATE message SET status = '{new}' WHERE status = '{old}'")


def downgrade() -> None:
    for old, new in _RENAMES:
        op.execute(f"UPDATE message SET status = '{old}' WHERE status = '{new}'")
