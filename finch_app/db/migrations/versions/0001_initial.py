"""The schema before accounts: conversations, messages, runs, tool calls, holdings, cache.

A database that `create_all` made before Finch had migrations already has some of these
tables: they are kept as they are, and only the missing ones are created.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _missing(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    if _missing("conversation"):
        op.create_table(
            "conversation",
            sa.Column("id", sa.String(), nullable=False),
            sa.Column("user_id", sa.String(), nullable=False),
            sa.Column("title", sa.String(), nullable=False),
            _when("created_at"),
            _when("updated_at"),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_conversation_updated_at", "conversation", ["updated_at"])
        op.create_index("ix_conversation_user_id", "conversation", ["user_id"])

    if _missing("message"):
        op.create_table(
            "message",
            sa.Column("id", sa.String(), nullable=False),
            sa.Column("conversation_id", sa.String(), nullable=False),
            sa.Column("user_id", sa.String(), nullable=False),
            sa.Column("run_id", sa.String(), nullable=True),
            sa.Column("role", sa.String(), nullable=False),
            sa.Column("content", sa.Text(), nullable=False),
            sa.Column("status", sa.String(), nullable=False),
            sa.Column("needs_auth", sa.Boolean(), nullable=False),
            sa.Column("error", sa.String(), nullable=True),
            sa.Column("retryable", sa.Boolean(), nullable=False),
            _when("created_at"),
            sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_message_conversation_id", "message", ["conversation_id"])
        op.create_index("ix_message_created_at", "message", ["created_at"])
        op.create_index("ix_message_run_id", "message", ["run_id"])
        op.create_index("ix_message_user_id", "message", ["user_id"])

    if _missing("run"):
        op.create_table(
            "run",
            sa.Column("id", sa.String(), nullable=False),
            sa.Column("conversation_id", sa.String(), nullable=False),
            sa.Column("user_id", sa.String(), nullable=False),
            sa.Column("user_message_id", sa.String(), nullable=False),
            sa.Column("status", sa.String(), nullable=False),
            sa.Column("model", sa.String(), nullable=False),
            _when("started_at"),
            _when("finished_at", nullable=True),
            sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_run_conversation_id", "run", ["conversation_id"])
        op.create_index("ix_run_status", "run", ["status"])
        op.create_index("ix_run_user_id", "run", ["user_id"])

    if _missing("toolcall"):
        op.create_table(
            "toolcall",
            sa.Column("id", sa.String(), nullable=False),
            sa.Column("run_id", sa.String(), nullable=False),
            sa.Column("conversation_id", sa.String(), nullable=False),
            sa.Column("user_id", sa.String(), nullable=False),
            sa.Column("tool_call_id", sa.String(), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("name", sa.String(), nullable=False),
            sa.Column("arguments", sa.JSON(), nullable=False),
            sa.Column("status", sa.String(), nullable=False),
            _when("started_at"),
            _when("finished_at", nullable=True),
            sa.Column("duration_ms", sa.Integer(), nullable=True),
            sa.Column("summary", sa.String(), nullable=True),
            sa.Column("error", sa.String(), nullable=True),
            sa.Column("output", sa.Text(), nullable=True),
            sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"], ondelete="CASCADE"),
            sa.ForeignKeyConstraint(["run_id"], ["run.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_toolcall_conversation_id", "toolcall", ["conversation_id"])
        op.create_index("ix_toolcall_run_id", "toolcall", ["run_id"])
        op.create_index("ix_toolcall_user_id", "toolcall", ["user_id"])

    if _missing("holding"):
        op.create_table(
            "holding",
            sa.Column("id", sa.String(), nullable=False),
            sa.Column("user_id", sa.String(), nullable=False),
            sa.Column("symbol", sa.String(), nullable=False),
            sa.Column("name", sa.String(), nullable=False),
            sa.Column("shares", sa.Float(), nullable=False),
            sa.Column("cost_basis", sa.Float(), nullable=False),
            _when("updated_at"),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("user_id", "symbol"),
        )
        op.create_index("ix_holding_user_id", "holding", ["user_id"])

    if _missing("cachedresponse"):
        op.create_table(
            "cachedresponse",
            sa.Column("key", sa.String(), nullable=False),
            sa.Column("source", sa.String(), nullable=False),
            sa.Column("payload", sa.Text(), nullable=False),
            _when("fetched_at"),
            sa.PrimaryKeyConstraint("key"),
        )
        op.create_index("ix_cachedresponse_source", "cachedresponse", ["source"])


def downgrade() -> None:
    for table in ("cachedresponse", "holding", "toolcall", "run", "message", "conversation"):
        op.drop_table(table)
