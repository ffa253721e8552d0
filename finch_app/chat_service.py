"""Runs a chat turn and keeps the database in step with its event stream.

The one place where the agent meets storage. Both adapters — the Reflex state and the
HTTP routes — call `ChatService.start_turn` and consume the same events. The user's
message is saved before the agent starts; tool rows are written as they start and
finish; whatever way a run ends (answer, error, stop, disconnect), its rows end too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

from sqlmodel import Session

from finch_app.agent.events import (
    AgentEvent,
    AssistantMessage,
    Done,
    Error,
    ResourceSaved,
    RunStarted,
    Token,
    ToolCallComplete,
    ToolCallProgress,
    ToolCallStart,
)
from finch_app.agent.loop import CANCELLED_TOOL_RESULT, Agent
from finch_app.agent.model import ChatMessage, ChatModel, ToolCallRequest
from finch_app.models.offline import OfflineChatModel
from finch_app.agent.prompts import SYSTEM_PROMPT
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.live_runs import LiveRuns
from finch_app.resources import DbResourceSink
from finch_app.providers.base import Providers
from finch_app.providers.market import MarketDataService
from finch_app.providers.portfolio import DbPortfolio
from finch_app.run_bus import RunBus
from finch_app.settings import Settings, get_settings
from finch_app.tools import default_registry

T = TypeVar("T")
log = logging.getLogger("finch.chat")
HISTORY_RESULT_CHARS = 4_000
"""Tool results replayed from earlier turns are shortened to this; the answer carries the rest."""


class ChatInputError(Exception):
    """The request cannot start a run; `status` is the HTTP status that fits."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


async def _db(fn: Callable[..., T], **kwargs: Any) -> T:
    """Run one unit of database work off the event loop, in its own transaction."""

    def work() -> T:
        with session_scope() as session:
            return fn(session=session, **kwargs)

    return await asyncio.to_thread(work)


def _db_now(fn: Callable[..., T], **kwargs: Any) -> T:
    """`_db`, on the calling thread."""
    with session_scope() as session:
        return fn(session=session, **kwargs)


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


@dataclass
class StartedTurn:
    """A run whose user message is saved; iterate `events()` to run it."""

    service: ChatService
    user_id: str
    conversation_id: str
    user_message_id: str
    run_id: str
    history: list[ChatMessage]
    message: str

    async def events(self) -> AsyncIterator[AgentEvent]:
        agent = self.service.agent
        live = self.service.active
        live.begin(self.run_id, self.conversation_id)
        started = RunStarted(
            run_id=self.run_id,
            seq=0,
            timestamp=time.time(),
            conversation_id=self.conversation_id,
            user_message_id=self.user_message_id,
            model=agent.model.label,
        )
        live.publish(self.run_id, started)
        partial = ""
        ended = False
        unsaved: AgentEvent | None = None
        try:
            yield started
            async for event in agent.run(
                history=self.history,
                user_message=self.message,
                run_id=self.run_id,
                user_id=self.user_id,
                first_seq=1,
                resources=DbResourceSink(
                    user_id=self.user_id, conversation_id=self.conversation_id, run_id=self.run_id
                ),
            ):
                if isinstance(event, Token):
                    partial += event.text
                # The card goes out first, the row right after: the database is never
                # between a tool starting and the user seeing it.
                live.publish(self.run_id, event)
                unsaved = event
                yield event
                unsaved = None
                await self._persist(event)
                if isinstance(event, AssistantMessage | Error):
                    ended = True
        except Exception as exc:
            if not ended:
                # A bug, or the database went away: the run failed, it was not stopped.
                ended = True
                self._finish_sync(
                    content=partial,
                    status="error",
                    run_status="error",
                    error=f"Finch hit an internal error ({type(exc).__name__}).",
                    retryable=True,
                )
            raise
        finally:
            if unsaved is not None and not ended:
                # The consumer left right after this event (Stop, disconnect): store it too.
                try:
                    self._persist_sync(unsaved)
                    ended = isinstance(unsaved, AssistantMessage | Error)
                except Exception:
                    log.exception("Could not store the last event of run %s", self.run_id)
            if not ended:
                # Stopped by the user or a disconnect: keep what was said, close every row.
                self._finish_sync(content=partial, status="stopped", run_status="cancelled")
            live.end(self.run_id)

    async def _persist(self, event: AgentEvent) -> None:
        if isinstance(event, ToolCallStart | ToolCallComplete | AssistantMessage | Error):
            await asyncio.to_thread(self._persist_sync, event)

    def _persist_sync(self, event: AgentEvent) -> None:
        match event:
            case ToolCallStart():
                _db_now(
                    crud.record_tool_start,
                    user_id=self.user_id,
                    run_id=self.run_id,
                    conversation_id=self.conversation_id,
                    tool_call_id=event.tool_call_id,
                    name=event.tool_name,
                    arguments=event.arguments,
                    started_at=_at(event.timestamp),
                )
            case ToolCallComplete():
                if event.status == "error":
                    log.warning("Run %s: tool %s failed: %s", self.run_id, event.tool_name, event.error)
                _db_now(
                    crud.record_tool_complete,
                    user_id=self.user_id,
                    run_id=self.run_id,
                    tool_call_id=event.tool_call_id,
                    status=event.status,
                    duration_ms=event.duration_ms,
                    finished_at=_at(event.timestamp),
                    summary=event.summary,
                    error=event.error,
                    output=event.output,
                )
            case AssistantMessage():
                self._finish_sync(
                    content=event.content,
                    status="complete",
                    run_status="completed",
                    needs_auth=event.needs_auth,
                )
            case Error():
                # For the operator; secrets are masked in every log record (finch_app/redact.py).
                log.warning("Run %s ended with an error: %s (%s)", self.run_id, event.error, event.details or "")
                self._finish_sync(
                    content="",
                    status="error",
                    run_status="error",
                    error=event.error,
                    retryable=event.retryable,
                )
            case RunStarted() | ToolCallProgress() | ResourceSaved() | Token() | Done():
                pass

    def _finish_sync(
        self,
        *,
        content: str,
        status: str,
        run_status: str,
        needs_auth: bool = False,
        error: str | None = None,
        retryable: bool = False,
    ) -> None:
        with session_scope() as session:
            crud.add_message(
                session=session,
                user_id=self.user_id,
                conversation_id=self.conversation_id,
                role="assistant",
                content=content,
                run_id=self.run_id,
                status=status,
                needs_auth=needs_auth,
                error=error,
                retryable=retryable,
            )
            crud.finish_run(session=session, user_id=self.user_id, run_id=self.run_id, status=run_status)


class ChatService:
    """Starts runs for a user: validation, saving, history, and the agent."""

    def __init__(self, *, agent: Agent, settings: Settings) -> None:
        self.agent = agent
        self.settings = settings
        self.active = LiveRuns(bus=_run_bus(settings))

    @property
    def model_label(self) -> str:
        return self.agent.model.label

    async def aclose(self) -> None:
        """Release the model client's connections (the OpenAI model keeps a pool)."""
        close = getattr(self.agent.model, "aclose", None)
        if close is not None:
            await close()
        await self.active.aclose()

    async def reap_dead_runs(self) -> int:
        """Mark `interrupted` the runs whose worker died: still `running`, older than a lease,
        and no worker holds their lease. Workers may race; each run is ended once."""
        grace = timedelta(seconds=self.settings.run_lease_s)
        candidates = await _db(crud.running_runs_started_before, before=datetime.now(UTC) - grace)
        alive = await self.active.live_among([run_id for run_id, _ in candidates])
        reaped = 0
        for run_id, user_id in candidates:
            if run_id in alive:
                continue
            if await _db(crud.interrupt_run, user_id=user_id, run_id=run_id):
                reaped += 1
                if self.active.bus is not None:
                    await self.active.bus.announce_end(run_id, "interrupted")
        return reaped

    async def watch_runs(self) -> None:
        """Reap dead workers' runs every half lease, for as long as the app runs."""
        while True:
            try:
                if count := await self.reap_dead_runs():
                    log.warning("Marked %d run(s) of a stopped worker as interrupted", count)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Could not check for runs of stopped workers")
            await asyncio.sleep(self.settings.run_lease_s / 2)

    async def start_turn(self, *, user_id: str, conversation_id: str | None, message: str) -> StartedTurn:
        """Validate and save the user's message; raise `ChatInputError` if it cannot run."""
        text = message.strip()
        if not text:
            raise ChatInputError("The message is empty.")
        if len(text) > self.settings.max_message_chars:
            raise ChatInputError(
                f"The message is {len(text):,} characters long; the limit is "
                f"{self.settings.max_message_chars:,}. Shorten it and send again."
            )
        return await asyncio.to_thread(self._start_sync, user_id, conversation_id, text)

    def _start_sync(self, user_id: str, conversation_id: str | None, text: str) -> StartedTurn:
        run_id = f"run_{uuid.uuid4().hex}"
        with session_scope() as session:
            self._check_run_limit(session, user_id)
            if conversation_id:
                conversation_id = self._idle_conversation(session, user_id, conversation_id)
                history = self._history(
                    crud.conversation_turns(session=session, user_id=user_id, conversation_id=conversation_id)
                )
            else:
                conversation_id = crud.create_conversation(session=session, user_id=user_id, title=text).id
                history = []
            user_message = crud.add_message(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                role="user",
                content=text,
                run_id=run_id,
            )
            return self._open_run(session, run_id, user_id, conversation_id, user_message.id, text, history)

    def _open_run(
        self,
        session: Session,
        run_id: str,
        user_id: str,
        conversation_id: str,
        question_id: str,
        question: str,
        history: list[ChatMessage],
    ) -> StartedTurn:
        """The run row for a saved question, and the turn that will answer it."""
        crud.start_run(
            session=session,
            run_id=run_id,
            user_id=user_id,
            conversation_id=conversation_id,
            user_message_id=question_id,
            model=self.model_label,
        )
        return StartedTurn(
            service=self,
            user_id=user_id,
            conversation_id=conversation_id,
            user_message_id=question_id,
            run_id=run_id,
            history=history,
            message=question,
        )

    async def delete_conversation(self, *, user_id: str, conversation_id: str) -> None:
        """Delete a conversation of the user's; refuse while a run is answering in it."""

        def delete() -> None:
            with session_scope() as session:
                self._idle_conversation(session, user_id, conversation_id)
                crud.delete_conversation(session=session, user_id=user_id, conversation_id=conversation_id)

        await asyncio.to_thread(delete)

    async def start_retry(self, *, user_id: str, conversation_id: str) -> StartedTurn:
        """Answer the conversation's last question again; the earlier answer is superseded."""
        return await asyncio.to_thread(self._retry_sync, user_id, conversation_id)

    def _retry_sync(self, user_id: str, conversation_id: str) -> StartedTurn:
        run_id = f"run_{uuid.uuid4().hex}"
        with session_scope() as session:
            self._check_run_limit(session, user_id)
            conversation_id = self._idle_conversation(session, user_id, conversation_id)
            turns = crud.conversation_turns(session=session, user_id=user_id, conversation_id=conversation_id)
            questions = [i for i, t in enumerate(turns) if t.message.role == "user"]
            if not questions:
                raise ChatInputError("There is no question to answer again in this conversation.")
            question = turns[questions[-1]].message
            crud.supersede_answers(
                session=session,
                user_id=user_id,
                message_ids=[t.message.id for t in turns[questions[-1] + 1 :]],
            )
            history = self._history(turns[: questions[-1]])
            return self._open_run(session, run_id, user_id, conversation_id, question.id, question.content, history)

    def _check_run_limit(self, session: Session, user_id: str) -> None:
        """Refuse (429) a run beyond `FINCH_MAX_RUNS_PER_USER` answering at once for this user."""
        limit = self.settings.max_runs_per_user
        if crud.count_running_runs(session=session, user_id=user_id) >= limit:
            raise ChatInputError(
                f"You already have {limit} answer{'s' if limit != 1 else ''} running, the most at once. "
                "Wait for one to finish or stop one, then send again.",
                status=429,
            )

    @staticmethod
    def _idle_conversation(session: Session, user_id: str, conversation_id: str) -> str:
        """The conversation's id if it is the user's and no run is answering in it."""
        if crud.get_conversation(session=session, user_id=user_id, conversation_id=conversation_id) is None:
            raise ChatInputError(f"Conversation {conversation_id} was not found.", status=404)
        if crud.running_run(session=session, user_id=user_id, conversation_id=conversation_id):
            raise ChatInputError(
                "Finch is still answering in this conversation. Wait for it or stop it first.", status=409
            )
        return conversation_id

    @staticmethod
    def _history(turns: list[crud.Turn]) -> list[ChatMessage]:
        """Earlier turns as the model should see them: every tool call paired with a result."""
        history: list[ChatMessage] = []
        for turn in turns:
            message = turn.message
            if message.role == "user":
                history.append(ChatMessage(role="user", content=message.content))
                continue
            if turn.tool_calls:
                history.append(
                    ChatMessage(
                        role="assistant",
                        tool_calls=[
                            ToolCallRequest(id=c.tool_call_id, name=c.name, arguments=json.dumps(c.arguments))
                            for c in turn.tool_calls
                        ],
                    )
                )
                for call in turn.tool_calls:
                    history.append(
                        ChatMessage(
                            role="tool",
                            tool_call_id=call.tool_call_id,
                            name=call.name,
                            content=_replayed_output(call.status, call.output, call.error),
                        )
                    )
            content = message.content
            if message.status != "complete":
                content = (content + "\n\n" if content else "") + f"[This answer ended early: {message.status}.]"
            history.append(ChatMessage(role="assistant", content=content))
        return history


def _replayed_output(status: str, output: str | None, error: str | None) -> str:
    if status == "cancelled":
        return CANCELLED_TOOL_RESULT
    if status == "interrupted":
        return "Interrupted: the server stopped before this tool finished."
    if status == "error":
        return output or f"Error: {error or 'the tool failed'}"
    text = output or ""
    if len(text) > HISTORY_RESULT_CHARS:
        text = text[:HISTORY_RESULT_CHARS] + " … [shortened: see the earlier answer]"
    return text


def _run_bus(settings: Settings) -> RunBus | None:
    """With Redis (several workers), runs are shared across workers; without, in-process only."""
    if not settings.redis_url:
        return None
    return RunBus(settings.redis_url, prefix=settings.redis_prefix, lease_s=settings.run_lease_s)


def build_model(settings: Settings) -> ChatModel:
    if settings.offline_model:
        return OfflineChatModel()
    from finch_app.agent.openai_model import OpenAIChatModel

    return OpenAIChatModel.from_settings(settings)


def build_providers(settings: Settings) -> Providers:
    from finch_app.providers.brokerage import BrokeragePortfolio, brokerage_link

    link = brokerage_link(settings)  # None unless SNAPTRADE_CLIENT_ID and SNAPTRADE_CONSUMER_KEY are set
    return Providers(
        market=MarketDataService.from_settings(settings),
        portfolio=(
            BrokeragePortfolio(link, sync_interval_s=settings.snaptrade_sync_interval_s) if link else DbPortfolio()
        ),
        brokerage_available=link is not None,
    )


@lru_cache
def get_chat_service() -> ChatService:
    """The process-wide service, built from settings on first use."""
    settings = get_settings()
    agent = Agent(
        model=build_model(settings),
        registry=default_registry(),
        deps=build_providers(settings),
        system_prompt=SYSTEM_PROMPT,
        max_rounds=settings.max_tool_rounds,
        tool_result_max_chars=settings.tool_result_max_chars,
    )
    return ChatService(agent=agent, settings=settings)
