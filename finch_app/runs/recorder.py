"""Keeps the database in step with runs' events: the rows of tool calls, answers and runs.

One writer for the process, in event order, off the event loop and a moment behind it: a
card reaches the page before its row is written, and the events of a burst share one
transaction. A run is not over (not released, not reported ended) until `flush()` has
written everything it recorded, so the next question always reads a complete history.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from finch_app.agent.events import (
    AgentEvent,
    AssistantMessage,
    Error,
    Token,
    ToolApprovalDecided,
    ToolApprovalRequired,
    ToolCallComplete,
    ToolCallStart,
)
from finch_app.agent.status import ENDED_RUN_TO_MESSAGE, RunStatus, ToolStatus
from finch_app.db import crud
from finch_app.db.engine import session_scope

log = logging.getLogger("finch.runs")


@dataclass
class RecordedRun:
    """The run a recorded event belongs to, and the answer text it has streamed so far."""

    run_id: str
    user_id: str
    conversation_id: str
    partial: list[str] = field(default_factory=list)


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def write_event(session: Session, run: RecordedRun, event: AgentEvent) -> None:
    """The rows one event changes (most events change none)."""
    match event:
        case ToolCallStart():
            crud.record_tool_start(
                session=session,
                user_id=run.user_id,
                run_id=run.run_id,
                conversation_id=run.conversation_id,
                tool_call_id=event.tool_call_id,
                name=event.tool_name,
                arguments=event.arguments,
                started_at=_at(event.timestamp),
            )
        case ToolCallComplete():
            if event.status == ToolStatus.ERROR:
                log.warning("Run %s: tool %s failed: %s", run.run_id, event.tool_name, event.error)
            crud.record_tool_complete(
                session=session,
                user_id=run.user_id,
                run_id=run.run_id,
                tool_call_id=event.tool_call_id,
                status=event.status,
                duration_ms=event.duration_ms,
                finished_at=_at(event.timestamp),
                summary=event.summary,
                error=event.error,
                output=event.output,
            )
        case ToolApprovalRequired():
            crud.record_tool_awaiting(
                session=session,
                user_id=run.user_id,
                run_id=run.run_id,
                tool_call_id=event.tool_call_id,
                description=event.description,
            )
        case ToolApprovalDecided() if event.approved:
            crud.record_tool_approved(
                session=session, user_id=run.user_id, run_id=run.run_id, tool_call_id=event.tool_call_id
            )
        case AssistantMessage():
            _finish(
                session, run, content=event.content, status=RunStatus.COMPLETED, needs_auth=event.needs_auth
            )
        case Error():
            if event.status == RunStatus.ERROR:
                # For the operator; secrets are masked in every log record (finch_app/redact.py).
                log.warning(
                    "Run %s ended with an error: %s (%s)", run.run_id, event.error, event.details or ""
                )
            _finish(
                session,
                run,
                content="".join(run.partial),
                status=event.status,
                error=None if event.status == RunStatus.CANCELLED else event.error,
                retryable=event.retryable,
            )
        case _:
            pass


def _finish(
    session: Session,
    run: RecordedRun,
    *,
    content: str,
    status: RunStatus,
    needs_auth: bool = False,
    error: str | None = None,
    retryable: bool = False,
) -> None:
    crud.set_answer(
        session=session,
        user_id=run.user_id,
        conversation_id=run.conversation_id,
        run_id=run.run_id,
        content=content,
        status=ENDED_RUN_TO_MESSAGE[status],
        needs_auth=needs_auth,
        error=error,
        retryable=retryable,
    )
    crud.finish_run(session=session, user_id=run.user_id, run_id=run.run_id, status=status)


def write_pause(session: Session, run: RecordedRun, resume_state: dict[str, Any], answer: str) -> None:
    """A run paused for the user's decision: its answer so far, and how to go on."""
    crud.set_answer(
        session=session,
        user_id=run.user_id,
        conversation_id=run.conversation_id,
        run_id=run.run_id,
        content=answer,
        status=ENDED_RUN_TO_MESSAGE[RunStatus.AWAITING_APPROVAL],
    )
    crud.pause_run(session=session, user_id=run.user_id, run_id=run.run_id, resume_state=resume_state)


class RunRecorder:
    """The process's one writer of run rows."""

    def __init__(self, *, delay_s: float = 0.02) -> None:
        """
        Args:
            delay_s: How long the writer lets events gather before writing them: the pushes
                to the page go first, and a burst becomes one transaction.
        """
        self._delay_s = delay_s
        self._queue: asyncio.Queue[tuple[RecordedRun, AgentEvent] | asyncio.Future[None]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def record(self, run: RecordedRun, event: AgentEvent) -> None:
        """Write the event's rows soon (never blocks)."""
        if isinstance(event, Token):
            run.partial.append(event.text)
            return
        if not isinstance(
            event,
            ToolCallStart
            | ToolCallComplete
            | ToolApprovalRequired
            | ToolApprovalDecided
            | AssistantMessage
            | Error,
        ):
            return
        self._ensure_writer().put_nowait((run, event))

    async def flush(self) -> None:
        """Wait until everything recorded so far is written."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ensure_writer().put_nowait(done)
        await asyncio.shield(done)

    def _ensure_writer(self) -> asyncio.Queue[tuple[RecordedRun, AgentEvent] | asyncio.Future[None]]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._writer is None or self._writer.done() or self._loop is not loop:
            self._loop = loop
            self._queue = asyncio.Queue()
            self._writer = loop.create_task(self._write_forever(), name="finch-recorder")
        return self._queue

    async def _write_forever(self) -> None:
        queue = self._queue
        assert queue is not None
        while True:
            batch = [await queue.get()]
            if self._delay_s and not isinstance(batch[0], asyncio.Future):
                await asyncio.sleep(self._delay_s)
            while not queue.empty():
                batch.append(queue.get_nowait())
            writes = [item for item in batch if not isinstance(item, asyncio.Future)]
            if writes:
                await asyncio.to_thread(_write_all, writes)
            for item in batch:
                if isinstance(item, asyncio.Future) and not item.done():
                    item.set_result(None)

    async def aclose(self) -> None:
        if self._writer is not None and not self._writer.done() and self._loop is asyncio.get_running_loop():
            await self.flush()
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)


def _write_all(writes: list[tuple[RecordedRun, AgentEvent]]) -> None:
    """One transaction for the batch; if it fails, each event on its own, so one bad row loses only itself."""
    try:
        with session_scope() as session:
            for run, event in writes:
                write_event(session, run, event)
        return
    except Exception:
        log.exception("Could not write %d run event(s) together; writing them one by one", len(writes))
    for run, event in writes:
        try:
            with session_scope() as session:
                write_event(session, run, event)
        except Exception:
            log.exception("Could not write %s of run %s", event.type, run.run_id)
