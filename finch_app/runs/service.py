"""The run service: starts runs, owns each one's task, and lets anyone follow or stop it.

Starting a run saves the question first, then starts one task that runs the agent, numbers
its events, has them recorded and fans them out to any number of followers: Reflex tabs,
SSE clients, programs, followers on other workers. Every way a run can end without its own
last event — Stop, a client that leaves, a failure inside Finch, shutdown — ends it here,
once, with the closing events of `runs.ending`; every follower sees that same ending. The
adapters only start and follow: a Reflex tab is "start, then follow"; the SSE route is
"start, then follow, and stop when the client leaves".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from finch_app.agent.approvals import Decision, ResumeState, expired_reason
from finch_app.agent.events import (
    AgentEvent,
    AssistantMessage,
    Done,
    EventStamp,
    RunStarted,
    agent_event_adapter,
)
from finch_app.agent.loop import Agent
from finch_app.agent.model import ChatMessage, ChatModel, NamingModel, TitlingModel, ToolCallRequest
from finch_app.agent.status import RunStatus
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.db.models import is_id, new_id
from finch_app.runs.approvals import ApprovalPolicy
from finch_app.runs.ending import RunTracker
from finch_app.runs.feed import Feed
from finch_app.runs.history import model_history
from finch_app.runs.recorder import RecordedRun, RunRecorder, write_pause
from finch_app.runs.registry import (
    ControlRequest,
    LocalRegistry,
    Refusal,
    RunClaim,
    RunRegistry,
    ShareRequest,
)
from finch_app.runs.resources import DbResourceSink
from finch_app.settings import Settings

log = logging.getLogger("finch.runs")

STOP_WAIT_S = 10.0
"""How long stopping a run may wait for its tools to stop and its rows to be final."""
TITLE_KEEP_S = 120.0
"""How long a conversation's suggested title stays available to followers after it is saved."""
ENDED_KEEP_S = 120.0
"""An ended run's events stay replayable this long: a client that decides an approval and then
follows the run may arrive after it finished (the scripted and offline models are that fast)."""
ENDED_KEEP_MAX = 64
"""At most this many ended runs are kept for replay (the oldest go first)."""


class RunRefused(Exception):
    """The request cannot start a run; `status` is the HTTP status that fits."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class DecisionOutcome:
    """What deciding on a waiting call did."""

    decided: bool
    """False: it had been decided already (deciding twice changes nothing)."""
    approved: bool
    """The call's decision (this one, or the earlier one)."""
    resumed: bool
    """The run went on: every waiting call of its round is decided (follow `run_id` to see it)."""
    run_id: str
    conversation_id: str


@dataclass(frozen=True)
class StartedRun:
    """A run whose question is saved and whose task has started: follow it by `run_id`."""

    run_id: str
    user_id: str
    conversation_id: str
    user_message_id: str
    question: str
    title: str | None = None
    """Set when the run opened a new conversation: its title."""


@dataclass
class _LiveRun:
    started: StartedRun
    recorded: RecordedRun
    tracker: RunTracker
    backlog: list[AgentEvent] = field(default_factory=list)
    feeds: set[Feed] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    began: bool = False
    stop_as: RunStatus | None = None
    """Set by Stop: how the run ends when its task is cancelled."""
    paused: ResumeState | None = None
    """Set when the run paused for the user's approval: how to go on."""
    retitle: bool = True
    """A naming model may retitle its conversation after the answer (not a program's own call)."""
    done: asyncio.Event = field(default_factory=asyncio.Event)


def conversation_title(model: ChatModel, question: str) -> str:
    """The model's title for a new conversation when it offers one, else the question's first words."""
    title = model.title_for(question) if isinstance(model, TitlingModel) else ""
    return crud.title_from(title or question) or "New chat"


class RunService:
    """Every run of this process, and the way to any run of another worker."""

    def __init__(
        self,
        *,
        agent: Agent,
        settings: Settings,
        registry: RunRegistry | None = None,
        recorder: RunRecorder | None = None,
        approvals: ApprovalPolicy | None = None,
    ) -> None:
        self.agent = agent
        self.settings = settings
        self.registry: RunRegistry = registry or LocalRegistry()
        self.recorder = recorder or RunRecorder()
        self.approvals = approvals or ApprovalPolicy({})
        self._runs: dict[str, _LiveRun] = {}
        self._background: list[asyncio.Task[None]] = []
        self._listener: asyncio.Task[None] | None = None
        self._naming: dict[str, asyncio.Task[str | None]] = {}
        """Conversation id → the request for its title after the first answer (models that name)."""
        self._ended: dict[str, tuple[float, list[AgentEvent]]] = {}
        """Run id → (when it ended, its events): the runs that ended lately, oldest first."""

    @property
    def model_label(self) -> str:
        return self.agent.model.label

    # --- life of the service ---------------------------------------------------------------

    async def open(self) -> None:
        """Start-up: end the runs a dead process left `running`, and listen to other workers."""
        if isinstance(self.registry, LocalRegistry):
            if count := await asyncio.to_thread(_mark_interrupted):
                log.warning("Marked %d run(s) from a previous process as interrupted", count)
        else:
            self._background.append(asyncio.create_task(self.watch_runs(), name="finch-run-reaper"))
        self._background.append(asyncio.create_task(self.watch_approvals(), name="finch-approval-expiry"))
        self._listen()

    def _listen(self) -> None:
        """Serve other workers' requests (once per event loop)."""
        if (
            self._listener is None
            or self._listener.done()
            or self._listener.get_loop() is not asyncio.get_running_loop()
        ):
            self._listener = asyncio.create_task(self._serve_requests(), name="finch-run-requests")

    async def aclose(self) -> None:
        """Shutdown: runs still going end `interrupted`, their rows final; connections close."""
        for run_id in list(self._runs):
            await self.stop(run_id, wait=True, status=RunStatus.INTERRUPTED)
        tasks = [*self._background, *self._naming.values(), *([self._listener] if self._listener else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._background, self._listener, self._naming = [], None, {}
        await self.recorder.aclose()
        await self.registry.aclose()
        close = getattr(self.agent.model, "aclose", None)
        if close is not None:
            await close()

    # --- starting ----------------------------------------------------------------------------

    def check_message(self, message: str) -> str:
        """The one check of a message, for every adapter (the UI's composer and the HTTP API): the
        text to store, or `RunRefused` saying what is wrong with it."""
        if len(message) > self.settings.max_message_chars:
            raise RunRefused(
                f"The message is {len(message):,} characters long; the limit is "
                f"{self.settings.max_message_chars:,}. Shorten it and send again."
            )
        text = message.strip()
        if not text:
            raise RunRefused("The message is empty.")
        if "\x00" in text:
            raise RunRefused("The message contains a NUL character (\\0); remove it and send again.")
        if not _is_unicode(text):
            raise RunRefused(
                "The message contains a lone surrogate (half of a UTF-16 pair), which is not text; "
                "remove it and send again."
            )
        return text

    async def start(self, *, user_id: str, conversation_id: str | None, message: str) -> StartedRun:
        """Save the question and start answering it; raise `RunRefused` if it cannot run."""
        text = self.check_message(message)
        run_id = f"run_{uuid.uuid4().hex}"
        if conversation_id:
            await self._require_conversation(user_id, conversation_id)
            title = None
        else:
            conversation_id = new_id()
            title = conversation_title(self.agent.model, text)
        await self._claim(RunClaim(run_id, user_id, conversation_id))
        try:
            started, history, allowed = await asyncio.to_thread(
                self._save_question, run_id, user_id, conversation_id, text, title
            )
        except BaseException:
            await self.registry.release(run_id)
            raise
        return self._answer(started, history, allowed)

    def _save_question(
        self, run_id: str, user_id: str, conversation_id: str, text: str, title: str | None
    ) -> tuple[StartedRun, list[ChatMessage], set[str]]:
        with session_scope() as session:
            if title is not None:
                limit = self.settings.max_conversations_per_user
                if crud.count_conversations(session=session, user_id=user_id) >= limit:
                    raise RunRefused(
                        f"You have {limit:,} conversations, the most Finch keeps for one person. "
                        "Delete some you no longer need, then start a new one.",
                        status=409,
                    )
                crud.create_conversation(
                    session=session, user_id=user_id, title=title, conversation_id=conversation_id
                )
                history: list[ChatMessage] = []
            else:
                history = model_history(
                    crud.conversation_turns(session=session, user_id=user_id, conversation_id=conversation_id)
                )
            question = crud.add_message(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                role="user",
                content=text,
                run_id=run_id,
            )
            started = StartedRun(run_id, user_id, conversation_id, question.id, text, title)
            self._open_run(session, started)
            return started, history, crud.allowed_tools(session=session, user_id=user_id)

    async def retry(self, *, user_id: str, conversation_id: str) -> StartedRun:
        """Answer the conversation's last question again; the earlier answer is superseded."""
        await self._require_conversation(user_id, conversation_id)
        run_id = f"run_{uuid.uuid4().hex}"
        await self._claim(RunClaim(run_id, user_id, conversation_id))
        try:
            started, history, allowed = await asyncio.to_thread(
                self._reopen_question, run_id, user_id, conversation_id
            )
        except BaseException:
            await self.registry.release(run_id)
            raise
        return self._answer(started, history, allowed)

    async def start_call(
        self, *, user_id: str, tool_name: str, arguments: dict[str, Any], caller: str
    ) -> StartedRun:
        """Run one of the agent's tools for a program that calls it directly (an MCP client), as a
        run of its own in a new conversation — recorded and shown in the user's history like any
        other. The question is the call itself; the answer is its outcome in one line."""
        shown = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in arguments.items()
        )
        question = f"{caller} called {tool_name}({shown})"
        run_id = f"run_{uuid.uuid4().hex}"
        conversation_id = new_id()
        await self._claim(RunClaim(run_id, user_id, conversation_id))
        try:
            title = f"{caller}: {tool_name}({shown})"
            started, _, _ = await asyncio.to_thread(
                self._save_question, run_id, user_id, conversation_id, question, title
            )
        except BaseException:
            await self.registry.release(run_id)
            raise
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        call = ToolCallRequest(id=call_id, name=tool_name, arguments=json.dumps(arguments))
        return self._launch(
            started,
            lambda stamp, resources: self.agent.call(
                call=call, stamp=stamp, user_id=user_id, resources=resources
            ),
            retitle=False,
        )

    def _reopen_question(
        self, run_id: str, user_id: str, conversation_id: str
    ) -> tuple[StartedRun, list[ChatMessage], set[str]]:
        with session_scope() as session:
            turns = crud.conversation_turns(session=session, user_id=user_id, conversation_id=conversation_id)
            questions = [i for i, t in enumerate(turns) if t.message.role == "user"]
            if not questions:
                raise RunRefused("There is no question to answer again in this conversation.")
            question = turns[questions[-1]].message
            crud.supersede_answers(
                session=session,
                user_id=user_id,
                message_ids=[t.message.id for t in turns[questions[-1] + 1 :]],
            )
            started = StartedRun(run_id, user_id, conversation_id, question.id, question.content)
            self._open_run(session, started)
            allowed = crud.allowed_tools(session=session, user_id=user_id)
            return started, model_history(turns[: questions[-1]]), allowed

    async def edit(self, *, user_id: str, conversation_id: str, message_id: str, message: str) -> StartedRun:
        """Ask an edited question in place of an earlier one: that question and everything after it
        are superseded (kept in the database, no longer shown or sent to the model)."""
        text = self.check_message(message)
        await self._require_conversation(user_id, conversation_id)
        run_id = f"run_{uuid.uuid4().hex}"
        await self._claim(RunClaim(run_id, user_id, conversation_id))
        try:
            started, history, allowed = await asyncio.to_thread(
                self._replace_question, run_id, user_id, conversation_id, message_id, text
            )
        except BaseException:
            await self.registry.release(run_id)
            raise
        return self._answer(started, history, allowed)

    def _replace_question(
        self, run_id: str, user_id: str, conversation_id: str, message_id: str, text: str
    ) -> tuple[StartedRun, list[ChatMessage], set[str]]:
        with session_scope() as session:
            turns = crud.conversation_turns(session=session, user_id=user_id, conversation_id=conversation_id)
            at = next(
                (i for i, t in enumerate(turns) if t.message.id == message_id and t.message.role == "user"),
                None,
            )
            if at is None:
                raise RunRefused("That question is no longer in this conversation.", status=404)
            replaced = [t.message.id for t in turns[at:]]
            crud.supersede_messages(session=session, user_id=user_id, message_ids=replaced)
            question = crud.add_message(
                session=session,
                user_id=user_id,
                conversation_id=conversation_id,
                role="user",
                content=text,
                run_id=run_id,
            )
            started = StartedRun(run_id, user_id, conversation_id, question.id, text)
            self._open_run(session, started)
            return started, model_history(turns[:at]), crud.allowed_tools(session=session, user_id=user_id)

    def _answer(self, started: StartedRun, history: list[ChatMessage], allowed: set[str]) -> StartedRun:
        """Answer the run's question after `history`; changes ask first unless `allowed`."""
        rule = self.approvals.for_user(allowed)
        return self._launch(
            started,
            lambda stamp, resources: self.agent.run(
                history=history,
                user_message=started.question,
                stamp=stamp,
                user_id=started.user_id,
                resources=resources,
                needs_approval=rule,
            ),
        )

    def _open_run(self, session: Session, started: StartedRun) -> None:
        crud.start_run(
            session=session,
            run_id=started.run_id,
            user_id=started.user_id,
            conversation_id=started.conversation_id,
            user_message_id=started.user_message_id,
            model=self.model_label,
        )

    async def _require_conversation(
        self, user_id: str, conversation_id: str, *, idle: bool = True, bad_id_status: int = 400
    ) -> None:
        """The conversation must be the user's and (with `idle`) have no change waiting for approval."""
        if not is_id(conversation_id):
            words = "conversation_id is not a conversation id (letters, digits, '_', '-', '.', ':')."
            raise RunRefused(words, status=bad_id_status)
        owned, paused = await asyncio.to_thread(_conversation_state, user_id, conversation_id)
        if not owned:
            raise RunRefused(f"Conversation {conversation_id} was not found.", status=404)
        if idle and paused:
            raise RunRefused(
                "Finch is waiting for your approval of a change in this conversation: approve or deny it first.",
                status=409,
            )

    async def _claim(self, claim: RunClaim) -> None:
        """Take the run's place: refuse a second run in a conversation, and runs past the user's limit."""
        limit = self.settings.max_runs_per_user
        refusal = await self.registry.claim(claim, max_per_user=limit)
        if refusal is Refusal.CONVERSATION_BUSY:
            raise RunRefused(
                "Finch is still answering in this conversation. Wait for it or stop it first.", status=409
            )
        if refusal is Refusal.USER_LIMIT:
            raise RunRefused(
                f"You already have {limit} answer{'s' if limit != 1 else ''} running, the most at once. "
                "Wait for one to finish or stop one, then send again.",
                status=429,
            )

    # --- running -------------------------------------------------------------------------------

    def _launch(
        self,
        started: StartedRun,
        events: _EventsFactory,
        *,
        backlog: list[AgentEvent] | None = None,
        answer: str = "",
        next_seq: int = 0,
        retitle: bool = True,
    ) -> StartedRun:
        """Start the run's one task; `backlog` (a paused run going on) is what it sent before, and
        its events go on from `next_seq`."""
        live = _LiveRun(
            started=started,
            recorded=RecordedRun(
                started.run_id, started.user_id, started.conversation_id, [answer] if answer else []
            ),
            tracker=RunTracker(started.run_id),
            retitle=retitle,
        )
        for event in backlog or ():
            live.tracker.observe(event)
            live.backlog.append(event)
        live.tracker.last_seq = max(live.tracker.last_seq, next_seq - 1)
        self._runs[started.run_id] = live
        self._listen()
        live.task = asyncio.create_task(self._drive(live, events), name=f"run:{started.run_id}")
        return started

    async def _drive(self, live: _LiveRun, events_for: _EventsFactory) -> None:
        started = live.started
        live.began = True
        stamp = EventStamp(started.run_id, live.tracker.last_seq + 1)
        if not live.backlog:
            self._emit(
                live,
                RunStarted(
                    **stamp(),
                    conversation_id=started.conversation_id,
                    user_message_id=started.user_message_id,
                    model=self.model_label,
                ),
            )
        ending = RunStatus.ERROR
        try:
            if live.stop_as is not None:
                raise asyncio.CancelledError  # stopped before it began
            resources = DbResourceSink(
                user_id=started.user_id, conversation_id=started.conversation_id, run_id=started.run_id
            )
            async with aclosing(events_for(stamp, resources)) as stream:
                async for event in stream:
                    if isinstance(event, Done) and event.resume is not None:
                        live.paused = event.resume
                    self._emit(live, event)
        except asyncio.CancelledError:
            ending = live.stop_as or RunStatus.CANCELLED
        except Exception:
            log.exception("Run %s failed inside Finch", started.run_id)
        finally:
            for event in live.tracker.closing_events(ending, stamp=stamp):
                self._emit(live, event)
            self._name_after_answer(live)  # before the followers' feeds end: they may wait for it
            await asyncio.shield(self._end(live))

    def _emit(self, live: _LiveRun, event: AgentEvent) -> None:
        """One event of a run: to its followers first, then to the other workers and the recorder."""
        live.tracker.observe(event)
        live.backlog.append(event)
        for feed in live.feeds:
            feed.put(event)
        self.registry.publish(live.started.run_id, event)
        self.recorder.record(live.recorded, event)

    async def _end(self, live: _LiveRun) -> None:
        """Rows final, the run's places free, then its followers' feeds end."""
        run_id = live.started.run_id
        try:
            await self.recorder.flush()
            if live.paused is not None:
                await asyncio.to_thread(_write_pause, live, live.paused)
        finally:
            self._runs.pop(run_id, None)
            self._keep_ended(run_id, live.backlog)
            try:
                await self.registry.release(run_id, events=live.backlog)
            except Exception:
                log.exception("Could not release run %s", run_id)
            for feed in live.feeds:
                feed.close()
            live.done.set()

    # --- titles ---------------------------------------------------------------------------------

    def _name_after_answer(self, live: _LiveRun) -> None:
        """An answered question: a naming model may give the conversation a title that says what it
        is about, in the background (the run and its followers never wait for it). Only while the
        title is still the automatic one — the user's own, or one already given, stays."""
        started, model = live.started, self.agent.model
        if not live.retitle or not isinstance(model, NamingModel):
            return
        answer = next((e.content for e in reversed(live.backlog) if isinstance(e, AssistantMessage)), "")
        if not answer.strip():
            return
        conversation_id = started.conversation_id
        task = asyncio.create_task(self._name(model, started, answer), name=f"title:{conversation_id}")
        self._naming[conversation_id] = task

        def forget(done: asyncio.Task[str | None]) -> None:
            def drop() -> None:
                if self._naming.get(conversation_id) is done:
                    del self._naming[conversation_id]

            asyncio.get_running_loop().call_later(TITLE_KEEP_S, drop)

        task.add_done_callback(forget)

    async def _name(self, model: NamingModel, started: StartedRun, answer: str) -> str | None:
        automatic = started.title or await asyncio.to_thread(
            _automatic_title, self.agent.model, started.user_id, started.conversation_id
        )
        if not automatic:
            return None
        try:
            title = crud.title_from(await model.name_conversation(started.question, answer))
        except Exception as exc:  # a title is a nicety: the automatic one stays
            log.warning("No title for conversation %s: %s", started.conversation_id, exc)
            return None
        if not title or title == automatic:
            return None
        renamed = await asyncio.to_thread(_rename, started.user_id, started.conversation_id, title, automatic)
        return title if renamed else None

    async def suggested_title(self, conversation_id: str, *, wait_s: float) -> str | None:
        """The title a naming model just gave the conversation, waiting up to `wait_s` for it; None
        when there is none (other models, nothing new to say, a failure, the user renamed it)."""
        task = self._naming.get(conversation_id)
        if task is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(task), wait_s)
        except (TimeoutError, asyncio.CancelledError):
            return None

    # --- following and stopping ---------------------------------------------------------------

    async def follow(self, run_id: str, *, ended: bool = False) -> Feed:
        """Every event of the run, the ones so far at once, then each as it happens, wherever it runs.

        With `ended`, a run that ended in the last `ENDED_KEEP_S` replays its events (kept here by
        the worker that ran it, and in Redis for the others). Otherwise a run that ended (or never
        existed) gives an empty feed whose `found` is False."""
        live = self._runs.get(run_id)
        if live is not None:
            feed = Feed(list(live.backlog), on_exit=lambda: live.feeds.discard(feed))
            live.feeds.add(feed)
            return feed
        kept = self._ended.get(run_id) if ended else None
        if kept is not None and time.monotonic() - kept[0] < ENDED_KEEP_S:
            feed = Feed(kept[1])
            feed.close()
            return feed
        if not await self.registry.live_among([run_id]):
            if ended and (events := await self.registry.ended_events(run_id)):
                return self._replay_ended(run_id, events)
            return Feed(found=False)
        feed = Feed()
        pump = asyncio.create_task(self._follow_elsewhere(run_id, feed), name=f"follow:{run_id}")
        feed.on_exit = pump.cancel
        return feed

    @staticmethod
    def _replay_ended(run_id: str, events: list[AgentEvent]) -> Feed:
        """A run that ended on another worker; one cut off with its worker ends as interrupted."""
        tracker = RunTracker(run_id)
        for event in events:
            tracker.observe(event)
        feed = Feed([*events, *tracker.closing_events(RunStatus.INTERRUPTED)])
        feed.close()
        return feed

    def _keep_ended(self, run_id: str, events: list[AgentEvent]) -> None:
        now = time.monotonic()
        self._ended.pop(run_id, None)  # a resumed run ends again: it goes last
        self._ended[run_id] = (now, events)
        for old, (ended_at, _) in list(self._ended.items()):
            if len(self._ended) <= ENDED_KEEP_MAX and now - ended_at < ENDED_KEEP_S:
                break
            del self._ended[old]

    async def _follow_elsewhere(self, run_id: str, feed: Feed) -> None:
        """A run of another worker: its events; if its worker died mid-run, the ending it could not send."""
        tracker = RunTracker(run_id)
        try:
            async with aclosing(self.registry.follow(run_id)) as events:
                async for event in events:
                    tracker.observe(event)
                    feed.put(event)
            for event in tracker.closing_events(RunStatus.INTERRUPTED):
                feed.put(event)
        except Exception:
            log.exception("Lost run %s of another worker", run_id)
            for event in tracker.closing_events(RunStatus.INTERRUPTED):
                feed.put(event)
        finally:
            feed.close()

    async def stop(
        self,
        run_id: str,
        *,
        wait: bool = False,
        status: RunStatus = RunStatus.CANCELLED,
        waiting: bool = True,
    ) -> bool:
        """Stop the run wherever it runs (and, with `waiting`, a run that waits for a decision);
        True if there was one to stop. With `wait`, return once a local run's rows are final (so a
        client that left cannot outrun its own run's cleanup)."""
        live = self._runs.get(run_id)
        if live is None:
            if await self.registry.request_stop(run_id):
                return True
            return waiting and await asyncio.to_thread(_end_paused, run_id, status)
        if live.stop_as is None and not live.done.is_set():
            live.stop_as = status
            if live.began and live.task is not None:
                live.task.cancel()
        if wait:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_WAIT_S):
                    await live.done.wait()
            if not live.done.is_set():
                log.warning("Run %s did not stop within %.0f s", run_id, STOP_WAIT_S)
        return True

    async def live_run(self, conversation_id: str) -> str | None:
        """The run answering in the conversation now, on any worker."""
        return await self.registry.run_for(conversation_id)

    async def waiting_run(self, user_id: str, conversation_id: str) -> str | None:
        """The user's run in the conversation that waits for a decision on a change, if any."""
        return await asyncio.to_thread(_waiting_run, user_id, conversation_id)

    def is_local(self, run_id: str) -> bool:
        return run_id in self._runs

    async def _serve_requests(self) -> None:
        """Other workers' requests for this worker's runs: Stop, and share the events with a follower."""
        request: ControlRequest
        async for request in self.registry.requests():
            if isinstance(request, ShareRequest):
                if (live := self._runs.get(request.run_id)) is not None:
                    self.registry.share(request.run_id, list(live.backlog))
            elif request.run_id in self._runs:
                await self.stop(request.run_id)
            else:
                log.info("Stop for run %s: not running here (any more)", request.run_id)

    # --- approvals -----------------------------------------------------------------------------

    async def decide(
        self,
        *,
        user_id: str,
        run_id: str,
        tool_call_id: str,
        decision: Decision,
        always_allow: bool = False,
    ) -> DecisionOutcome:
        """Record the user's decision on a waiting call (once) and, when it was the last one its
        round waited for, let the run go on. Raises `RunRefused` (404) for a call that is not the user's."""
        found = await asyncio.to_thread(
            _decide,
            user_id,
            run_id,
            tool_call_id,
            decision,
            always_allow and self.approvals.user_may_always_allow,
        )
        if found is None:
            raise RunRefused("No such change is waiting for a decision.", status=404)
        decided, approved, conversation_id = found
        resumed = await self._resume(user_id, run_id)
        return DecisionOutcome(decided, approved, resumed, run_id, conversation_id)

    async def _resume(self, user_id: str, run_id: str) -> bool:
        """Go on with a paused run whose waiting calls are all decided (False if not yet, or taken)."""
        taken = await asyncio.to_thread(_take_paused, user_id, run_id)
        if taken is None:
            return False
        started, history, state, decisions, backlog, allowed, next_seq = taken
        refusal = await self.registry.claim(
            RunClaim(run_id, user_id, started.conversation_id),
            max_per_user=self.settings.max_runs_per_user + 1,
        )
        if refusal is not None:
            log.warning("Run %s could not go on (%s); it stays paused", run_id, refusal)
            await asyncio.to_thread(_repause, user_id, run_id)
            return False
        rule = self.approvals.for_user(allowed)
        self._launch(
            started,
            lambda stamp, resources: self.agent.resume(
                history=history,
                user_message=started.question,
                state=state,
                decisions=decisions,
                stamp=stamp,
                user_id=user_id,
                resources=resources,
                needs_approval=rule,
            ),
            backlog=backlog,
            answer=state.answer,
            next_seq=next_seq,
        )
        return True

    async def revoke_tool(self, *, user_id: str, tool_name: str) -> bool:
        """The user no longer always allows `tool_name`: it asks again (False if it was not allowed)."""
        return await asyncio.to_thread(_revoke_tool, user_id, tool_name)

    async def expire_approvals(self) -> int:
        """Deny the changes nobody approved within `approval_timeout_s`; their runs go on and say so."""
        before = datetime.now(UTC) - timedelta(seconds=self.settings.approval_timeout_s)
        expired = await asyncio.to_thread(_paused_before, before)
        decision = Decision(
            approved=False,
            reason=expired_reason(self.settings.approval_timeout_s),
            decided_by="expiry",
            via="expiry",
        )
        count = 0
        for run_id, user_id, call_ids in expired:
            for call_id in call_ids:
                await asyncio.to_thread(_decide, user_id, run_id, call_id, decision, False)
            count += await self._resume(user_id, run_id)
        return count

    async def watch_approvals(self) -> None:
        """Expire waiting changes, as long as the app runs (every worker may: a run goes on once)."""
        period = min(30.0, max(0.5, self.settings.approval_timeout_s / 4))
        while True:
            try:
                if count := await self.expire_approvals():
                    log.info("Denied %d change(s) nobody approved in time", count)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Could not expire waiting changes")
            await asyncio.sleep(period)

    # --- conversations ------------------------------------------------------------------------

    async def delete_conversation(self, *, user_id: str, conversation_id: str) -> None:
        """Delete one of the user's conversations; refuse while a run is answering in it."""
        await self._require_conversation(user_id, conversation_id, idle=False, bad_id_status=404)
        if await self.registry.run_for(conversation_id):
            raise RunRefused(
                "Finch is still answering in this conversation. Wait for it or stop it first.", status=409
            )
        await asyncio.to_thread(_delete_conversation, user_id, conversation_id)

    async def rename_conversation(self, *, user_id: str, conversation_id: str, title: str) -> str:
        """Give one of the user's conversations their own title; returns it as saved."""
        text = crud.title_from("".join(ch for ch in title if unicodedata.category(ch) != "Cc"))
        if not text or not _is_unicode(text):
            raise RunRefused("A conversation needs a title: some visible text.")
        if not await asyncio.to_thread(_rename, user_id, conversation_id, text, None):
            raise RunRefused(f"Conversation {conversation_id} was not found.", status=404)
        return text

    # --- runs of workers that died --------------------------------------------------------------

    async def reap_dead_runs(self) -> int:
        """Mark `interrupted` the runs whose worker died: still `running`, older than a lease, and
        no worker holds their lease. Workers may race; each run is ended once."""
        grace = timedelta(seconds=self.settings.run_lease_s)
        candidates = await asyncio.to_thread(_running_runs_before, datetime.now(UTC) - grace)
        alive = await self.registry.live_among(run_id for run_id, _ in candidates)
        reaped = 0
        for run_id, user_id in candidates:
            if run_id in alive:
                continue
            if await asyncio.to_thread(_interrupt, user_id, run_id):
                reaped += 1
                await self.registry.announce_end(run_id, RunStatus.INTERRUPTED)
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


_EventsFactory = Callable[[EventStamp, DbResourceSink], AsyncIterator[AgentEvent]]
"""Given the run's stamp and resource sink, the agent's events (a fresh run, or one going on)."""


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _conversation_state(user_id: str, conversation_id: str) -> tuple[bool, bool]:
    """(the conversation is the user's, a change in it waits for approval)."""
    with session_scope() as session:
        if crud.get_conversation(session=session, user_id=user_id, conversation_id=conversation_id) is None:
            return False, False
        return True, crud.paused_run(
            session=session, user_id=user_id, conversation_id=conversation_id
        ) is not None


def _revoke_tool(user_id: str, tool_name: str) -> bool:
    with session_scope() as session:
        return crud.revoke_tool(session=session, user_id=user_id, tool_name=tool_name)


def _waiting_run(user_id: str, conversation_id: str) -> str | None:
    with session_scope() as session:
        run = crud.paused_run(session=session, user_id=user_id, conversation_id=conversation_id)
        return run.id if run else None


def _write_pause(live: _LiveRun, state: ResumeState) -> None:
    # The pause's own `done` is not replayed to those who follow the run once it goes on; its seq
    # is not reused either, so every client sees one strictly increasing numbering.
    backlog = [e.model_dump(mode="json") for e in live.backlog if not (isinstance(e, Done) and e.resume)]
    resume = {
        "state": state.model_dump(mode="json"),
        "events": backlog,
        "next_seq": live.tracker.last_seq + 1,
    }
    with session_scope() as session:
        write_pause(session, live.recorded, resume, state.answer)


def _decide(
    user_id: str, run_id: str, tool_call_id: str, decision: Decision, always_allow: bool
) -> tuple[bool, bool, str] | None:
    """(decided now, approved, conversation id), or None for a call that is not the user's."""
    with session_scope() as session:
        call = crud.get_tool_call(session=session, user_id=user_id, run_id=run_id, tool_call_id=tool_call_id)
        if call is None or call.description is None:
            return None
        decided = crud.decide_tool_call(
            session=session,
            user_id=user_id,
            run_id=run_id,
            tool_call_id=tool_call_id,
            approved=decision.approved,
            decided_by=decision.decided_by,
            via=decision.via,
            reason=decision.reason,
        )
        if decided and decision.approved and always_allow:
            crud.allow_tool(session=session, user_id=user_id, tool_name=call.name)
        session.flush()
        session.refresh(call)
        return decided, call.decision == "approved", call.conversation_id


def _take_paused(
    user_id: str, run_id: str
) -> (
    tuple[StartedRun, list[ChatMessage], ResumeState, dict[str, Decision], list[AgentEvent], set[str], int]
    | None
):
    """A paused run whose calls are all decided, taken to go on (once), with all it needs."""
    with session_scope() as session:
        run = crud.resume_run(session=session, user_id=user_id, run_id=run_id)
        if run is None or not run.resume_state:
            return None
        turns = crud.conversation_turns(session=session, user_id=user_id, conversation_id=run.conversation_id)
        at = next(i for i, t in enumerate(turns) if t.message.id == run.user_message_id)
        question = turns[at].message
        decisions = {
            c.tool_call_id: Decision(
                approved=c.decision == "approved",
                reason=c.decision_reason or "",
                decided_by=c.decided_by or "",
                via=c.decided_via or "",
            )
            for c in crud.waiting_calls(session=session, user_id=user_id, run_id=run_id)
        }
        started = StartedRun(run_id, user_id, run.conversation_id, question.id, question.content)
        state = ResumeState.model_validate(run.resume_state["state"])
        backlog = [agent_event_adapter.validate_python(e) for e in run.resume_state.get("events", [])]
        next_seq = int(run.resume_state.get("next_seq", backlog[-1].seq + 1 if backlog else 0))
        allowed = crud.allowed_tools(session=session, user_id=user_id)
        return started, model_history(turns[:at]), state, decisions, backlog, allowed, next_seq


def _repause(user_id: str, run_id: str) -> None:
    with session_scope() as session:
        crud.repause_run(session=session, user_id=user_id, run_id=run_id)


def _paused_before(before: datetime) -> list[tuple[str, str, list[str]]]:
    """(run id, user id, the calls still undecided) of runs waiting since before `before`."""
    with session_scope() as session:
        out = []
        for run_id, user_id in crud.paused_runs_before(session=session, before=before):
            calls = crud.waiting_calls(session=session, user_id=user_id, run_id=run_id)
            out.append((run_id, user_id, [c.tool_call_id for c in calls if c.decision is None]))
        return out


def _end_paused(run_id: str, status: RunStatus) -> bool:
    with session_scope() as session:
        return crud.end_paused_run(session=session, run_id=run_id, status=status)


def _delete_conversation(user_id: str, conversation_id: str) -> None:
    with session_scope() as session:
        crud.delete_conversation(session=session, user_id=user_id, conversation_id=conversation_id)


NAMING_QUESTIONS = 3
"""A conversation still titled automatically after this many questions keeps its title."""


def _automatic_title(model: ChatModel, user_id: str, conversation_id: str) -> str | None:
    """The conversation's title if it is still the one its first question gave it (early on)."""
    with session_scope() as session:
        conversation = crud.get_conversation(
            session=session, user_id=user_id, conversation_id=conversation_id
        )
        if conversation is None:
            return None
        questions = crud.first_questions(
            session=session, user_id=user_id, conversation_id=conversation_id, limit=NAMING_QUESTIONS + 1
        )
    if not questions or len(questions) > NAMING_QUESTIONS:
        return None
    return conversation.title if conversation.title == conversation_title(model, questions[0]) else None


def _rename(user_id: str, conversation_id: str, title: str, only_if: str | None) -> bool:
    with session_scope() as session:
        return crud.rename_conversation(
            session=session, user_id=user_id, conversation_id=conversation_id, title=title, only_if=only_if
        )


def _mark_interrupted() -> int:
    with session_scope() as session:
        return crud.mark_interrupted_runs(session=session)


def _running_runs_before(before: datetime) -> list[tuple[str, str]]:
    with session_scope() as session:
        return crud.running_runs_started_before(session=session, before=before)


def _interrupt(user_id: str, run_id: str) -> bool:
    with session_scope() as session:
        return crud.interrupt_run(session=session, user_id=user_id, run_id=run_id)
