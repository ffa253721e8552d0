"""Reads and writes of chat data. Every function takes the owner's `user_id` and puts
it in the query itself: there is no "load by id, then check the owner".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from finch_app.agent.status import ENDED_RUN_TO_MESSAGE, OPEN_TOOL_FATE, MessageStatus, RunStatus, ToolStatus
from finch_app.db.models import (
    BrokerageConnection,
    Conversation,
    Holding,
    Message,
    Resource,
    Run,
    ToolCall,
    ToolPermission,
    new_id,
    utcnow,
)

TITLE_CHARS = 60


def title_from(message: str) -> str:
    text = " ".join(message.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


# --- conversations ----------------------------------------------------------------------


def create_conversation(
    *, session: Session, user_id: str, title: str, conversation_id: str | None = None
) -> Conversation:
    conversation = Conversation(
        id=conversation_id or new_id(), user_id=user_id, title=title_from(title) or "New chat"
    )
    session.add(conversation)
    session.flush()
    return conversation


def get_conversation(*, session: Session, user_id: str, conversation_id: str) -> Conversation | None:
    return session.exec(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    ).first()


def list_conversations(
    *, session: Session, user_id: str, limit: int = 100, search: str = ""
) -> Sequence[Conversation]:
    """The user's conversations, most recently active first; with `search`, only those whose
    title or any visible message contains it (case-insensitive)."""
    query = select(Conversation).where(Conversation.user_id == user_id)
    needle = " ".join(search.split()).lower()
    if needle:
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        in_messages = select(Message.conversation_id).where(
            Message.user_id == user_id,
            Message.status != MessageStatus.SUPERSEDED,
            func.lower(Message.content).like(pattern, escape="\\"),
        )
        query = query.where(
            func.lower(Conversation.title).like(pattern, escape="\\") | col(Conversation.id).in_(in_messages)
        )
    return session.exec(query.order_by(col(Conversation.updated_at).desc()).limit(limit)).all()


def rename_conversation(
    *, session: Session, user_id: str, conversation_id: str, title: str, only_if: str | None = None
) -> bool:
    """Give one of the user's conversations a new title; with `only_if`, only while its title is
    still that (a title suggested later must not undo the user's own). False if nothing changed."""
    where = [Conversation.id == conversation_id, Conversation.user_id == user_id]
    if only_if is not None:
        where.append(Conversation.title == only_if)
    renamed = session.exec(update(Conversation).where(*where).values(title=title))  # type: ignore[arg-type]
    return renamed.rowcount == 1


def count_conversations(*, session: Session, user_id: str) -> int:
    query = select(func.count()).select_from(Conversation).where(Conversation.user_id == user_id)
    return session.exec(query).one()


def delete_conversation(*, session: Session, user_id: str, conversation_id: str) -> bool:
    owned = select(Conversation.id).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    if session.exec(owned).first() is None:
        return False
    for table in (Resource, ToolCall, Message, Run):
        session.exec(
            delete(table).where(table.conversation_id == conversation_id, table.user_id == user_id)  # type: ignore[arg-type]
        )
    session.exec(
        delete(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)  # type: ignore[arg-type]
    )
    return True


def touch_conversation(*, session: Session, user_id: str, conversation_id: str) -> None:
    session.exec(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.user_id == user_id)  # type: ignore[arg-type]
        .values(updated_at=utcnow())
    )


# --- messages and runs ------------------------------------------------------------------


def add_message(
    *,
    session: Session,
    user_id: str,
    conversation_id: str,
    role: str,
    content: str,
    run_id: str | None = None,
    status: str = MessageStatus.COMPLETED,
    needs_auth: bool = False,
    error: str | None = None,
    retryable: bool = False,
) -> Message:
    message = Message(
        user_id=user_id,
        conversation_id=conversation_id,
        role=role,
        content=content,
        run_id=run_id,
        status=status,
        needs_auth=needs_auth,
        error=error,
        retryable=retryable,
    )
    session.add(message)
    touch_conversation(session=session, user_id=user_id, conversation_id=conversation_id)
    session.flush()
    return message


def set_answer(
    *,
    session: Session,
    user_id: str,
    conversation_id: str,
    run_id: str,
    content: str,
    status: str,
    needs_auth: bool = False,
    error: str | None = None,
    retryable: bool = False,
) -> Message:
    """The run's answer: written once, or updated when a paused run goes on (one answer per run)."""
    message = session.exec(
        select(Message).where(
            Message.run_id == run_id, Message.user_id == user_id, Message.role == "assistant"
        )
    ).first()
    if message is None:
        return add_message(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            role="assistant",
            content=content,
            run_id=run_id,
            status=status,
            needs_auth=needs_auth,
            error=error,
            retryable=retryable,
        )
    message.content, message.status, message.needs_auth = content, status, needs_auth
    message.error, message.retryable = error, retryable
    session.add(message)
    touch_conversation(session=session, user_id=user_id, conversation_id=conversation_id)
    session.flush()
    return message


def start_run(
    *, session: Session, run_id: str, user_id: str, conversation_id: str, user_message_id: str, model: str
) -> Run:
    run = Run(
        id=run_id,
        user_id=user_id,
        conversation_id=conversation_id,
        user_message_id=user_message_id,
        model=model,
    )
    session.add(run)
    session.flush()
    return run


def finish_run(*, session: Session, user_id: str, run_id: str, status: RunStatus) -> None:
    session.exec(
        update(Run)
        .where(Run.id == run_id, Run.user_id == user_id)  # type: ignore[arg-type]
        .values(status=status, finished_at=utcnow())
    )
    if status != RunStatus.COMPLETED:
        # No card may stay "running" once its run has ended.
        session.exec(
            update(ToolCall)
            .where(
                ToolCall.run_id == run_id, ToolCall.user_id == user_id, ToolCall.status == ToolStatus.RUNNING
            )  # type: ignore[arg-type]
            .values(status=OPEN_TOOL_FATE.get(status, ToolStatus.ERROR), finished_at=utcnow())
        )


def record_tool_start(
    *,
    session: Session,
    user_id: str,
    run_id: str,
    conversation_id: str,
    tool_call_id: str,
    name: str,
    arguments: dict[str, Any],
    started_at: datetime,
) -> None:
    position = session.exec(
        select(func.count())
        .select_from(ToolCall)
        .where(ToolCall.run_id == run_id, ToolCall.user_id == user_id)
    ).one()
    session.add(
        ToolCall(
            user_id=user_id,
            run_id=run_id,
            conversation_id=conversation_id,
            tool_call_id=tool_call_id,
            position=position,
            name=name,
            arguments=arguments,
            started_at=started_at,
        )
    )


def record_tool_complete(
    *,
    session: Session,
    user_id: str,
    run_id: str,
    tool_call_id: str,
    status: str,
    duration_ms: int,
    finished_at: datetime,
    summary: str | None,
    error: str | None,
    output: str | None,
) -> None:
    session.exec(
        update(ToolCall)
        .where(ToolCall.run_id == run_id, ToolCall.user_id == user_id, ToolCall.tool_call_id == tool_call_id)  # type: ignore[arg-type]
        .values(
            status=status,
            duration_ms=duration_ms,
            finished_at=finished_at,
            summary=summary,
            error=error,
            output=output,
        )
    )


def run_questions(*, session: Session, user_id: str, run_ids: set[str]) -> dict[str, str]:
    """The question each run answered: run id → the user's message."""
    if not run_ids:
        return {}
    rows = session.exec(
        select(Run.id, Message.content)
        .join(Message, col(Message.id) == col(Run.user_message_id))
        .where(col(Run.id).in_(run_ids), Run.user_id == user_id, Message.user_id == user_id)
    ).all()
    return dict(rows)


def first_questions(*, session: Session, user_id: str, conversation_id: str, limit: int) -> list[str]:
    """The conversation's first `limit` questions (visible ones), oldest first."""
    return list(
        session.exec(
            select(Message.content)
            .where(
                Message.conversation_id == conversation_id,
                Message.user_id == user_id,
                Message.role == "user",
                Message.status != MessageStatus.SUPERSEDED,
            )
            .order_by(col(Message.created_at))
            .limit(limit)
        ).all()
    )


def get_run(*, session: Session, user_id: str, run_id: str) -> Run | None:
    return session.exec(select(Run).where(Run.id == run_id, Run.user_id == user_id)).first()


def supersede_answers(*, session: Session, user_id: str, message_ids: list[str]) -> None:
    """Hide answers to a question that is being answered again (they stay in the table)."""
    session.exec(
        update(Message)
        .where(
            col(Message.id).in_(message_ids),
            Message.user_id == user_id,  # type: ignore[arg-type]
            Message.role == "assistant",  # type: ignore[arg-type]
        )
        .values(status=MessageStatus.SUPERSEDED)
    )


def supersede_messages(*, session: Session, user_id: str, message_ids: list[str]) -> None:
    """Hide a question and what followed it (an edited question is asked anew); the rows stay."""
    if message_ids:
        session.exec(
            update(Message)
            .where(col(Message.id).in_(message_ids), Message.user_id == user_id)  # type: ignore[arg-type]
            .values(status=MessageStatus.SUPERSEDED)
        )


def mark_interrupted_runs(*, session: Session) -> int:
    """Runs still `running` when the server starts died with the last process."""
    stale = session.exec(select(Run).where(Run.status == RunStatus.RUNNING)).all()
    return sum(interrupt_run(session=session, user_id=run.user_id, run_id=run.id) for run in stale)


# --- approvals --------------------------------------------------------------------------------


def record_tool_awaiting(
    *, session: Session, user_id: str, run_id: str, tool_call_id: str, description: str
) -> None:
    session.exec(
        update(ToolCall)
        .where(ToolCall.run_id == run_id, ToolCall.user_id == user_id, ToolCall.tool_call_id == tool_call_id)  # type: ignore[arg-type]
        .values(status=ToolStatus.AWAITING_APPROVAL, description=description)
    )


def record_tool_approved(*, session: Session, user_id: str, run_id: str, tool_call_id: str) -> None:
    """An approved call runs now (so a crash from here on leaves it `interrupted`, like any call)."""
    session.exec(
        update(ToolCall)
        .where(ToolCall.run_id == run_id, ToolCall.user_id == user_id, ToolCall.tool_call_id == tool_call_id)  # type: ignore[arg-type]
        .values(status=ToolStatus.RUNNING)
    )


def pause_run(*, session: Session, user_id: str, run_id: str, resume_state: dict[str, Any]) -> None:
    session.exec(
        update(Run)
        .where(Run.id == run_id, Run.user_id == user_id)  # type: ignore[arg-type]
        .values(status=RunStatus.AWAITING_APPROVAL, paused_at=utcnow(), resume_state=resume_state)
    )


def decide_tool_call(
    *,
    session: Session,
    user_id: str,
    run_id: str,
    tool_call_id: str,
    approved: bool,
    decided_by: str,
    via: str,
    reason: str,
) -> bool:
    """Record a decision on a waiting call, once: False when it was not waiting (decided already)."""
    decided = session.exec(
        update(ToolCall)
        .where(
            ToolCall.run_id == run_id,  # type: ignore[arg-type]
            ToolCall.user_id == user_id,  # type: ignore[arg-type]
            ToolCall.tool_call_id == tool_call_id,  # type: ignore[arg-type]
            ToolCall.status == ToolStatus.AWAITING_APPROVAL,  # type: ignore[arg-type]
            col(ToolCall.decision).is_(None),
        )
        .values(
            decision="approved" if approved else "denied",
            decided_by=decided_by,
            decided_at=utcnow(),
            decided_via=via,
            decision_reason=reason or None,
        )
    )
    return decided.rowcount == 1


def get_tool_call(*, session: Session, user_id: str, run_id: str, tool_call_id: str) -> ToolCall | None:
    return session.exec(
        select(ToolCall).where(
            ToolCall.run_id == run_id, ToolCall.user_id == user_id, ToolCall.tool_call_id == tool_call_id
        )
    ).first()


def waiting_calls(*, session: Session, user_id: str, run_id: str) -> Sequence[ToolCall]:
    """The run's calls that wait for the user (decided or not), in the model's order."""
    return session.exec(
        select(ToolCall)
        .where(
            ToolCall.run_id == run_id,
            ToolCall.user_id == user_id,
            ToolCall.status == ToolStatus.AWAITING_APPROVAL,
        )
        .order_by(col(ToolCall.position))
    ).all()


def resume_run(*, session: Session, user_id: str, run_id: str) -> Run | None:
    """Take a paused run whose calls are all decided, once: it is `running` again (None: not paused
    any more, or a call still waits)."""
    run = session.exec(select(Run).where(Run.id == run_id, Run.user_id == user_id)).first()
    if run is None or run.status != RunStatus.AWAITING_APPROVAL:
        return None
    if any(c.decision is None for c in waiting_calls(session=session, user_id=user_id, run_id=run_id)):
        return None
    taken = session.exec(
        update(Run)
        .where(Run.id == run_id, Run.user_id == user_id, Run.status == RunStatus.AWAITING_APPROVAL)  # type: ignore[arg-type]
        .values(status=RunStatus.RUNNING, paused_at=None)
    )
    return run if taken.rowcount == 1 else None


def repause_run(*, session: Session, user_id: str, run_id: str) -> None:
    """A run taken to go on that could not start: it waits again (its decisions are kept)."""
    session.exec(
        update(Run)
        .where(Run.id == run_id, Run.user_id == user_id, Run.status == RunStatus.RUNNING)  # type: ignore[arg-type]
        .values(status=RunStatus.AWAITING_APPROVAL, paused_at=utcnow())
    )


def end_paused_run(*, session: Session, run_id: str, status: RunStatus) -> bool:
    """Stop a run that waits for a decision (by its id: the caller checked whose it is): its waiting
    calls and its answer end as `status`. False if it was not waiting."""
    run = session.get(Run, run_id)
    if run is None or run.status != RunStatus.AWAITING_APPROVAL:
        return False
    answer = session.exec(
        select(Message).where(Message.run_id == run_id, Message.role == "assistant")
    ).first()
    set_answer(
        session=session,
        user_id=run.user_id,
        conversation_id=run.conversation_id,
        run_id=run_id,
        content=answer.content if answer else "",
        status=ENDED_RUN_TO_MESSAGE[status],
    )
    run.resume_state = None
    session.add(run)
    session.exec(
        update(ToolCall)
        .where(ToolCall.run_id == run_id, ToolCall.status == ToolStatus.AWAITING_APPROVAL)  # type: ignore[arg-type]
        .values(status=OPEN_TOOL_FATE[status], finished_at=utcnow())
    )
    finish_run(session=session, user_id=run.user_id, run_id=run_id, status=status)
    return True


def paused_run(*, session: Session, user_id: str, conversation_id: str) -> Run | None:
    return session.exec(
        select(Run).where(
            Run.conversation_id == conversation_id,
            Run.user_id == user_id,
            Run.status == RunStatus.AWAITING_APPROVAL,
        )
    ).first()


def pending_approvals(*, session: Session, user_id: str) -> Sequence[tuple[ToolCall, Run]]:
    """The user's calls waiting for a decision, oldest first, with their runs."""
    return session.exec(
        select(ToolCall, Run)
        .join(Run, col(Run.id) == col(ToolCall.run_id))
        .where(
            ToolCall.user_id == user_id,
            ToolCall.status == ToolStatus.AWAITING_APPROVAL,
            col(ToolCall.decision).is_(None),
            Run.status == RunStatus.AWAITING_APPROVAL,
        )
        .order_by(col(Run.paused_at), col(ToolCall.position))
    ).all()


def paused_runs_before(*, session: Session, before: datetime) -> list[tuple[str, str]]:
    """`(run id, user id)` of every user's runs that have waited for a decision since before `before`."""
    rows = session.exec(
        select(Run.id, Run.user_id, Run.paused_at).where(Run.status == RunStatus.AWAITING_APPROVAL)
    ).all()
    return [(run_id, user_id) for run_id, user_id, paused in rows if paused is not None and paused < before]


def allowed_tools(*, session: Session, user_id: str) -> set[str]:
    return set(session.exec(select(ToolPermission.tool_name).where(ToolPermission.user_id == user_id)).all())


def allow_tool(*, session: Session, user_id: str, tool_name: str) -> None:
    if tool_name not in allowed_tools(session=session, user_id=user_id):
        session.add(ToolPermission(user_id=user_id, tool_name=tool_name))
        session.flush()


def revoke_tool(*, session: Session, user_id: str, tool_name: str) -> bool:
    removed = session.exec(
        delete(ToolPermission).where(ToolPermission.user_id == user_id, ToolPermission.tool_name == tool_name)  # type: ignore[arg-type]
    )
    return removed.rowcount == 1


def running_runs_started_before(*, session: Session, before: datetime) -> list[tuple[str, str]]:
    """`(run id, user id)` of every user's runs still `running` that started before `before`."""
    rows = session.exec(
        select(Run.id, Run.user_id, Run.started_at).where(Run.status == RunStatus.RUNNING)
    ).all()
    return [(run_id, user_id) for run_id, user_id, started in rows if started < before]


def interrupt_run(*, session: Session, user_id: str, run_id: str) -> bool:
    """End a run whose process died, once: False if it has already ended (another worker did it)."""
    run = session.exec(select(Run).where(Run.id == run_id, Run.user_id == user_id)).first()
    ended = session.exec(
        update(Run)
        .where(Run.id == run_id, Run.user_id == user_id, Run.status == RunStatus.RUNNING)  # type: ignore[arg-type]
        .values(status=RunStatus.INTERRUPTED, finished_at=utcnow())
    )
    if run is None or ended.rowcount != 1:
        return False
    finish_run(session=session, user_id=user_id, run_id=run_id, status=RunStatus.INTERRUPTED)
    answer = session.exec(
        select(Message).where(
            Message.run_id == run_id, Message.user_id == user_id, Message.role == "assistant"
        )
    ).first()
    set_answer(
        session=session,
        user_id=user_id,
        conversation_id=run.conversation_id,
        run_id=run_id,
        content=answer.content if answer else "",  # a run that went on after an approval kept its text
        status=MessageStatus.INTERRUPTED,
        error="The server stopped while this answer was being written.",
        retryable=True,
    )
    return True


# --- reading a whole conversation -------------------------------------------------------


@dataclass
class Turn:
    """A message with the tool calls of the run it came from (assistant messages)."""

    message: Message
    tool_calls: list[ToolCall] = field(default_factory=list)


def conversation_turns(*, session: Session, user_id: str, conversation_id: str) -> list[Turn]:
    messages = session.exec(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.user_id == user_id,
            Message.status != MessageStatus.SUPERSEDED,
        )
        .order_by(col(Message.created_at), col(Message.role).desc())
    ).all()
    calls = session.exec(
        select(ToolCall)
        .where(ToolCall.conversation_id == conversation_id, ToolCall.user_id == user_id)
        .order_by(col(ToolCall.position))
    ).all()
    by_run: dict[str, list[ToolCall]] = {}
    for call in calls:
        by_run.setdefault(call.run_id, []).append(call)
    turns = []
    for message in messages:
        attached = by_run.get(message.run_id or "", []) if message.role == "assistant" else []
        turns.append(Turn(message=message, tool_calls=attached))
    return turns


def conversation_page(
    *, session: Session, user_id: str, conversation_id: str, limit: int, before: str | None = None
) -> tuple[list[Turn], bool]:
    """The latest `limit` turns (older than message `before`, if given) in reading order,
    and whether older ones exist. Tool outputs are not loaded: a transcript never shows them.
    """
    visible = (
        Message.conversation_id == conversation_id,
        Message.user_id == user_id,
        Message.status != MessageStatus.SUPERSEDED,
    )
    query = select(Message).where(*visible)
    if before:
        cursor = session.exec(select(Message).where(Message.id == before, *visible)).first()
        if cursor is None:
            return [], False
        # Keyset paging in the reverse of reading order (created_at, role desc, id).
        query = query.where(
            (col(Message.created_at) < cursor.created_at)
            | (
                (col(Message.created_at) == cursor.created_at)
                & (
                    (col(Message.role) > cursor.role)
                    | ((col(Message.role) == cursor.role) & (col(Message.id) < cursor.id))
                )
            )
        )
    rows = session.exec(
        query.order_by(col(Message.created_at).desc(), col(Message.role), col(Message.id).desc()).limit(
            limit + 1
        )
    ).all()
    more = len(rows) > limit
    messages = list(reversed(rows[:limit]))
    run_ids = {m.run_id for m in messages if m.role == "assistant" and m.run_id}
    calls = (
        session.exec(
            select(ToolCall)
            .where(col(ToolCall.run_id).in_(run_ids), ToolCall.user_id == user_id)
            .order_by(col(ToolCall.position))
            .options(defer(ToolCall.output))  # type: ignore[arg-type]
        ).all()
        if run_ids
        else []
    )
    by_run: dict[str, list[ToolCall]] = {}
    for call in calls:
        by_run.setdefault(call.run_id, []).append(call)
    turns = []
    for message in messages:
        attached = by_run.get(message.run_id or "", []) if message.role == "assistant" else []
        turns.append(Turn(message=message, tool_calls=attached))
    return turns, more


# --- holdings ---------------------------------------------------------------------------


def list_holdings(*, session: Session, user_id: str) -> Sequence[Holding]:
    return session.exec(select(Holding).where(Holding.user_id == user_id).order_by(col(Holding.symbol))).all()


def upsert_holding(
    *, session: Session, user_id: str, symbol: str, shares: float, cost_basis: float, name: str = ""
) -> Holding:
    """Add a position, or replace the one the user already has in that symbol."""
    holding = session.exec(
        select(Holding).where(Holding.user_id == user_id, Holding.symbol == symbol)
    ).first()
    if holding is None:
        holding = Holding(user_id=user_id, symbol=symbol, shares=shares, cost_basis=cost_basis, name=name)
    else:
        holding.shares, holding.cost_basis, holding.updated_at = shares, cost_basis, utcnow()
        holding.name = name or holding.name
    session.add(holding)
    session.flush()
    return holding


def delete_holding(*, session: Session, user_id: str, symbol: str) -> None:
    session.exec(delete(Holding).where(Holding.user_id == user_id, Holding.symbol == symbol))  # type: ignore[arg-type]


def clear_holdings(*, session: Session, user_id: str) -> None:
    session.exec(delete(Holding).where(Holding.user_id == user_id))  # type: ignore[arg-type]


# --- brokerage connections ----------------------------------------------------------------


def get_brokerage_connection(*, session: Session, user_id: str) -> BrokerageConnection | None:
    return session.get(BrokerageConnection, user_id)


def add_brokerage_connection(
    *, session: Session, user_id: str, snaptrade_user_id: str, encrypted_secret: str
) -> BrokerageConnection:
    connection = BrokerageConnection(
        user_id=user_id, snaptrade_user_id=snaptrade_user_id, encrypted_secret=encrypted_secret
    )
    session.add(connection)
    session.flush()
    return connection


def mark_brokerage_synced(*, session: Session, user_id: str, at: datetime) -> None:
    session.exec(
        update(BrokerageConnection).where(BrokerageConnection.user_id == user_id).values(last_synced_at=at)  # type: ignore[arg-type]
    )


def delete_brokerage_connection(*, session: Session, user_id: str) -> None:
    session.exec(delete(BrokerageConnection).where(BrokerageConnection.user_id == user_id))  # type: ignore[arg-type]


# --- resources ----------------------------------------------------------------------------


def save_resource(
    *,
    session: Session,
    user_id: str,
    conversation_id: str,
    run_id: str,
    tool_call_id: str,
    resource_id: str | None,
    values: dict[str, Any],
) -> Resource:
    """Create a resource, or replace the rows of one of the user's (a partial result growing)."""
    resource = None
    if resource_id:
        resource = session.exec(
            select(Resource).where(Resource.id == resource_id, Resource.user_id == user_id)
        ).first()
    if resource is None:
        resource = Resource(
            user_id=user_id,
            conversation_id=conversation_id,
            run_id=run_id,
            tool_call_id=tool_call_id,
            **values,
        )
    else:
        for key, value in values.items():
            setattr(resource, key, value)
    session.add(resource)
    session.flush()
    return resource


def list_resources(*, session: Session, user_id: str, conversation_id: str) -> Sequence[Resource]:
    """The conversation's resources, newest first, without loading their rows."""
    return session.exec(
        select(Resource)
        .where(Resource.conversation_id == conversation_id, Resource.user_id == user_id)
        .order_by(col(Resource.created_at).desc())
        .options(defer(Resource.rows))  # type: ignore[arg-type]
    ).all()


def get_resource(*, session: Session, user_id: str, resource_id: str) -> Resource | None:
    return session.exec(
        select(Resource).where(Resource.id == resource_id, Resource.user_id == user_id)
    ).first()
