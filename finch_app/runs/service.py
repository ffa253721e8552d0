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
import logging
import uuid
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from finch_app.agent.events import AgentEvent, AssistantMessage, EventStamp, RunStarted
from finch_app.agent.loop import Agent
from finch_app.agent.model import ChatMessage, ChatModel, NamingModel, TitlingModel
from finch_app.agent.status import RunStatus
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.db.models import new_id
from finch_app.runs.ending import RunTracker
from finch_app.runs.feed import Feed
from finch_app.runs.history import model_history
from finch_app.runs.recorder import RecordedRun, RunRecorder
from finch_app.runs.registry import ControlRequest, LocalRegistry, Refusal, RunClaim, RunRegistry, ShareRequest
from finch_app.runs.resources import DbResourceSink
from finch_app.settings import Settings

log = logging.getLogger("finch.runs")

STOP_WAIT_S = 10.0
"""How long stopping a run may wait for its tools to stop and its rows to be final."""
TITLE_KEEP_S = 120.0
"""How long a conversation's suggested title stays available to followers after it is saved."""


class RunRefused(Exception):
    """The request cannot start a run; `status` is the HTTP status that fits."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


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
    ) -> None:
        self.agent = agent
        self.settings = settings
        self.registry: RunRegistry = registry or LocalRegistry()
        self.recorder = recorder or RunRecorder()
        self._runs: dict[str, _LiveRun] = {}
        self._background: list[asyncio.Task[None]] = []
        self._listener: asyncio.Task[None] | None = None
        self._naming: dict[str, asyncio.Task[str | None]] = {}
        """Conversation id → the request for its title after the first answer (models that name)."""

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
        self._listen()

    def _listen(self) -> None:
        """Serve other workers' requests (once per event loop)."""
        if self._listener is None or self._listener.done() or self._listener.get_loop() is not asyncio.get_running_loop():
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

    def _checked(self, message: str) -> str:
        text = message.strip()
        if not text:
            raise RunRefused("The message is empty.")
        if len(text) > self.settings.max_message_chars:
            raise RunRefused(
                f"The message is {len(text):,} characters long; the limit is "
                f"{self.settings.max_message_chars:,}. Shorten it and send again."
            )
        return text

    async def start(self, *, user_id: str, conversation_id: str | None, message: str) -> StartedRun:
        """Save the question and start answering it; raise `RunRefused` if it cannot run."""
        text = self._checked(message)
        run_id = f"run_{uuid.uuid4().hex}"
        if conversation_id:
            await self._require_conversation(user_id, conversation_id)
            title = None
        else:
            conversation_id = new_id()
            title = conversation_title(self.agent.model, text)
        await self._claim(RunClaim(run_id, user_id, conversation_id))
        try:
            started, history = await asyncio.to_thread(self._save_question, run_id, user_id, conversation_id, text, title)
        except BaseException:
            await self.registry.release(run_id)
            raise
        return self._launch(started, history)

    def _save_question(
        self, run_id: str, user_id: str, conversation_id: str, text: str, title: str | None
    ) -> tuple[StartedRun, list[ChatMessage]]:
        with session_scope() as session:
            if title is not None:
                crud.create_conversation(session=session, user_id=user_id, title=title, conversation_id=conversation_id)
                history: list[ChatMessage] = []
            else:
                history = model_history(
                    crud.conversation_turns(session=session, user_id=user_id, conversation_id=conversation_id)
                )
            question = crud.add_message(
                session=session, user_id=user_id, conversation_id=conversation_id, role="user", content=text, run_id=run_id
            )
            started = StartedRun(run_id, user_id, conversation_id, question.id, text, title)
            self._open_run(session, started)
            return started, history

    async def retry(self, *, user_id: str, conversation_id: str) -> StartedRun:
        """Answer the conversation's last question again; the earlier answer is superseded."""
        await self._require_conversation(user_id, conversation_id)
        run_id = f"run_{uuid.uuid4().hex}"
        await self._claim(RunClaim(run_id, user_id, conversation_id))
        try:
            started, history = await asyncio.to_thread(self._reopen_question, run_id, user_id, conversation_id)
        except BaseException:
            await self.registry.release(run_id)
            raise
        return self._launch(started, history)

    def _reopen_question(self, run_id: str, user_id: str, conversation_id: str) -> tuple[StartedRun, list[ChatMessage]]:
        with session_scope() as session:
            turns = crud.conversation_turns(session=session, user_id=user_id, conversation_id=conversation_id)
            questions = [i for i, t in enumerate(turns) if t.message.role == "user"]
            if not questions:
                raise RunRefused("There is no question to answer again in this conversation.")
            question = turns[questions[-1]].message
            crud.supersede_answers(
                session=session, user_id=user_id, message_ids=[t.message.id for t in turns[questions[-1] + 1 :]]
            )
            started = StartedRun(run_id, user_id, conversation_id, question.id, question.content)
            self._open_run(session, started)
            return started, model_history(turns[: questions[-1]])

    async def edit(self, *, user_id: str, conversation_id: str, message_id: str, message: str) -> StartedRun:
        """Ask an edited question in place of an earlier one: that question and everything after it
        are superseded (kept in the database, no longer shown or sent to the model)."""
        text = self._checked(message)
        await self._require_conversation(user_id, conversation_id)
        run_id = f"run_{uuid.uuid4().hex}"
        await self._claim(RunClaim(run_id, user_id, conversation_id))
        try:
            started, history = await asyncio.to_thread(
                self._replace_question, run_id, user_id, conversation_id, message_id, text
            )
        except BaseException:
            await self.registry.release(run_id)
            raise
        return self._launch(started, history)

    def _replace_question(
        self, run_id: str, user_id: str, conversation_id: str, message_id: str, text: str
    ) -> tuple[StartedRun, list[ChatMessage]]:
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
                session=session, user_id=user_id, conversation_id=conversation_id, role="user", content=text, run_id=run_id
            )
            started = StartedRun(run_id, user_id, conversation_id, question.id, text)
            self._open_run(session, started)
            return started, model_history(turns[:at])

    def _open_run(self, session: Session, started: StartedRun) -> None:
        crud.start_run(
            session=session,
            run_id=started.run_id,
            user_id=started.user_id,
            conversation_id=started.conversation_id,
            user_message_id=started.user_message_id,
            model=self.model_label,
        )

    async def _require_conversation(self, user_id: str, conversation_id: str) -> None:
        if not await asyncio.to_thread(_owns_conversation, user_id, conversation_id):
            raise RunRefused(f"Conversation {conversation_id} was not found.", status=404)

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

    def _launch(self, started: StartedRun, history: list[ChatMessage]) -> StartedRun:
        live = _LiveRun(
            started=started,
            recorded=RecordedRun(started.run_id, started.user_id, started.conversation_id),
            tracker=RunTracker(started.run_id),
        )
        self._runs[started.run_id] = live
        self._listen()
        live.task = asyncio.create_task(self._drive(live, history), name=f"run:{started.run_id}")
        return started

    async def _drive(self, live: _LiveRun, history: list[ChatMessage]) -> None:
        started = live.started
        live.began = True
        stamp = EventStamp(started.run_id)
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
            events = self.agent.run(
                history=history, user_message=started.question, stamp=stamp, user_id=started.user_id, resources=resources
            )
            async with aclosing(events) as stream:
                async for event in stream:
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
        finally:
            self._runs.pop(run_id, None)
            try:
                await self.registry.release(run_id)
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
        if not isinstance(model, NamingModel):
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

    async def follow(self, run_id: str) -> Feed:
        """Every event of the run, the ones so far at once, then each as it happens, wherever it runs.

        A run that ended (or never existed) gives an empty feed whose `found` is False."""
        live = self._runs.get(run_id)
        if live is not None:
            feed = Feed(list(live.backlog), on_exit=lambda: live.feeds.discard(feed))
            live.feeds.add(feed)
            return feed
        if not await self.registry.live_among([run_id]):
            return Feed(found=False)
        feed = Feed()
        pump = asyncio.create_task(self._follow_elsewhere(run_id, feed), name=f"follow:{run_id}")
        feed.on_exit = pump.cancel
        return feed

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

    async def stop(self, run_id: str, *, wait: bool = False, status: RunStatus = RunStatus.CANCELLED) -> bool:
        """Stop the run wherever it runs; True if it was running. With `wait`, return once a local
        run's rows are final (so a client that left cannot outrun its own run's cleanup)."""
        live = self._runs.get(run_id)
        if live is None:
            return await self.registry.request_stop(run_id)
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

    # --- conversations ------------------------------------------------------------------------

    async def delete_conversation(self, *, user_id: str, conversation_id: str) -> None:
        """Delete one of the user's conversations; refuse while a run is answering in it."""
        await self._require_conversation(user_id, conversation_id)
        if await self.registry.run_for(conversation_id):
            raise RunRefused("Finch is still answering in this conversation. Wait for it or stop it first.", status=409)
        await asyncio.to_thread(_delete_conversation, user_id, conversation_id)

    async def rename_conversation(self, *, user_id: str, conversation_id: str, title: str) -> str:
        """Give one of the user's conversations their own title; returns it as saved."""
        text = crud.title_from("".join(ch for ch in title if ch.isprintable()))
        if not text:
            raise RunRefused("A conversation needs a title.")
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


def _owns_conversation(user_id: str, conversation_id: str) -> bool:
    with session_scope() as session:
        return crud.get_conversation(session=session, user_id=user_id, conversation_id=conversation_id) is not None


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
