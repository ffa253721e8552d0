"""Tables: conversations, their messages, the runs that answer them, and tool calls.

Every row carries `user_id` so that every query can be scoped to its owner.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from finch_app.agent.status import MessageStatus, RunStatus, ToolStatus
from finch_app.db.types import UTCDateTime

_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def new_id() -> str:
    return uuid.uuid4().hex


def is_id(value: object) -> bool:
    """Whether `value` can be an id of ours (ids come from browsers and programs: a NUL or a lone
    surrogate in one would fail in the database instead of simply not being found)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def utcnow() -> datetime:
    return datetime.now(UTC)


def _when(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kwargs)


class Conversation(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    user_id: str = Field(index=True)
    title: str
    created_at: datetime = _when()
    updated_at: datetime = _when(index=True)


class Message(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True, ondelete="CASCADE")
    user_id: str = Field(index=True)
    run_id: str | None = Field(default=None, index=True)
    role: str
    """"user" or "assistant"."""
    content: str = Field(sa_column=Column(Text, nullable=False))
    status: str = MessageStatus.COMPLETED
    """A `MessageStatus`: completed | error | cancelled | interrupted | superseded."""
    needs_auth: bool = False
    error: str | None = None
    retryable: bool = False
    created_at: datetime = _when(index=True)


class Run(SQLModel, table=True):
    """One answer to one user message: the unit a stop or a crash applies to."""

    id: str = Field(default_factory=new_id, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True, ondelete="CASCADE")
    user_id: str = Field(index=True)
    user_message_id: str
    status: str = Field(default=RunStatus.RUNNING, index=True)
    """A `RunStatus`: running | completed | error | cancelled | interrupted."""
    model: str
    started_at: datetime = _when()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When it last paused for the user's approval (pending approvals expire from here)."""
    resume_state: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """A paused run's way to go on: the loop's `ResumeState` and the events so far."""


class ToolCall(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True, ondelete="CASCADE")
    conversation_id: str = Field(foreign_key="conversation.id", index=True, ondelete="CASCADE")
    user_id: str = Field(index=True)
    tool_call_id: str
    """The model's id for the call (unique within a run)."""
    position: int
    """Order of the call within its run."""
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = ToolStatus.RUNNING
    """A `ToolStatus`: running | completed | error | cancelled | interrupted."""
    started_at: datetime = _when()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    duration_ms: int | None = None
    summary: str | None = None
    error: str | None = None
    output: str | None = Field(default=None, sa_column=Column(Text))
    """What the model saw as the result, replayed in later turns' history."""
    description: str | None = None
    """For a call that changes data: the change in plain words, as the user was asked."""
    decision: str | None = None
    """"approved" or "denied" (the audit trail, with who, when and through which door)."""
    decided_by: str | None = None
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_via: str | None = None
    """"browser", "api" or "expiry"."""
    decision_reason: str | None = None


class ToolPermission(SQLModel, table=True):
    """A tool the user chose to always allow (it no longer asks them first)."""

    __tablename__ = "tool_permission"
    __table_args__ = (UniqueConstraint("user_id", "tool_name"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    user_id: str = Field(index=True)
    tool_name: str
    created_at: datetime = _when()


class Holding(SQLModel, table=True):
    """A position the user entered or imported (brokerage connections come separately)."""

    __table_args__ = (UniqueConstraint("user_id", "symbol"),)

    id: str = Field(default_factory=new_id, primary_key=True)
    user_id: str = Field(index=True)
    symbol: str
    name: str = ""
    shares: float
    cost_basis: float
    """Average price paid per share."""
    updated_at: datetime = _when()


class BrokerageConnection(SQLModel, table=True):
    """A user's SnapTrade user (`providers/brokerage.py`): one per Finch user, made on first connect."""

    __tablename__ = "brokerage_connection"

    user_id: str = Field(primary_key=True)
    snaptrade_user_id: str = Field(unique=True)
    """Derived from `user_id` and stable; SnapTrade knows the user by it."""
    encrypted_secret: str = Field(sa_column=Column(Text, nullable=False))
    """SnapTrade's userSecret, Fernet-encrypted (never stored in the clear)."""
    created_at: datetime = _when()
    last_synced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When positions were last pulled into the user's holdings; None: never."""


class CachedResponse(SQLModel, table=True):
    """The last good answer of a live data source (`providers/cache.py`), shared by all workers."""

    key: str = Field(primary_key=True)
    """The cache key: "<source>:<parameters>", e.g. "apewisdom:top:1"."""
    source: str = Field(index=True)
    """The key's source, which sets its TTL ("apewisdom", "sec-insider"…)."""
    payload: str = Field(sa_column=Column(Text, nullable=False))
    """The answer as JSON (a pydantic model's dump)."""
    fetched_at: datetime = _when()


class Resource(SQLModel, table=True):
    """A tool's result kept as a table: rows are loaded only when the user opens it."""

    id: str = Field(default_factory=new_id, primary_key=True)
    user_id: str = Field(index=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True, ondelete="CASCADE")
    run_id: str = Field(index=True)
    tool_call_id: str
    kind: str
    title: str
    columns: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rows: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    row_count: int = 0
    partial: bool = False
    """True while rows are still arriving, or when the run stopped before they all did."""
    chart: str | None = None
    source: str | None = None
    as_of: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _when(index=True)
