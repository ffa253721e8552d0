"""Reflex states of the chat page: thin adapters between the browser and the run service.

Two classes on purpose. `ChatState` holds the transcript and the conversation list and changes
about once per turn. `LiveTurnState` holds the running turn (its cards, the streaming text, the
run flags) and changes on every event. Reflex re-renders per State class, so a tool event never
re-sends or re-renders the transcript. A run is started by the service and then followed here,
like any other follower; the states never drive a run or read the database themselves.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import aclosing
from dataclasses import dataclass

import reflex as rx

from finch_app.agent.approvals import Decision
from finch_app.agent.events import ResourceSaved
from finch_app.context import app_context
from finch_app.runs import RunRefused, StartedRun
from finch_app.runs.feed import Feed, PushCost
from finch_app.states import visit
from finch_app.states.auth import current_user_id, identity_for
from finch_app.states.results import ResultsState
from finch_app.views import (
    CardView,
    MessageView,
    TurnView,
    apply_event,
    message_from_turn,
    stream_blocks,
    with_live_timers,
)

TITLE_WAIT_S = 30.0
"""How long a tab waits, after an answer, for the title the model may suggest (only while it is asked)."""


@dataclass
class ConversationItem:
    id: str
    title: str
    href: str


class ChatState(rx.State):
    """The conversation list and the transcript of the open conversation.

    The transcript is in parts, so that each change sends only what changed (a delta carries
    the whole value of a changed var): `messages` is the latest page, loaded when the
    conversation opens; `earlier` grows at the front on "Load earlier messages"; each turn
    finished during this visit goes into one of the fixed slots `turn_0…` (`states/visit.py`),
    ordered on the page by `turn_order`.
    """

    conversations: list[ConversationItem] = []
    messages: list[MessageView] = []
    earlier: list[MessageView] = []
    turn_0: list[MessageView] = []
    turn_1: list[MessageView] = []
    turn_2: list[MessageView] = []
    turn_3: list[MessageView] = []
    turn_4: list[MessageView] = []
    turn_5: list[MessageView] = []
    turn_6: list[MessageView] = []
    turn_7: list[MessageView] = []
    turn_8: list[MessageView] = []
    turn_9: list[MessageView] = []
    turn_10: list[MessageView] = []
    turn_11: list[MessageView] = []
    turn_order: list[int] = [0] * visit.SLOTS
    """Each slot's place on the page (CSS `order`)."""
    _turns: int = 0
    """Turns finished during this visit (slots used, counting those reused)."""
    _slot_questions: list[str] = [""] * visit.SLOTS
    """The stored id of each slot's question: where "Load earlier" continues once the ring is full."""
    has_earlier: bool = False
    _cursor: str = ""
    conversation_id: str = ""
    title: str = ""
    not_found: bool = False
    model_label: str = ""
    offline_model: bool = True
    last_status: str = ""
    """Status of the last answer in the transcript ("" when the last row is not an answer)."""
    _announced: str = ""
    """A conversation this tab's own run just opened (the page is about to move to its URL)."""
    last_failed: bool = False
    """The last answer failed (the run, or every tool it called): it offers Retry."""
    search: str = ""
    """What the conversation list is filtered by ("" lists them all)."""
    renaming_id: str = ""
    """The conversation whose title is being edited in the list."""
    deleting_id: str = ""
    """The conversation whose deletion waits for the user's confirmation."""

    def _slot(self, index: int) -> list[MessageView]:
        return getattr(self, visit.slot_var("turn", index))

    def _set_slot(self, index: int, rows: list[MessageView]) -> None:
        setattr(self, visit.slot_var("turn", index), rows)

    def _clear_visit(self) -> None:
        for index in range(visit.SLOTS):
            if self._slot(index):
                self._set_slot(index, [])
        self._turns = 0
        self._slot_questions = [""] * visit.SLOTS

    def _note_last_status(self) -> None:
        newest = visit.newest_slot(self._turns)
        rows = self._slot(newest) if newest is not None else self.messages
        last = rows[-1] if rows and rows[-1].role == "assistant" else None
        status = last.status if last else ""
        if status != self.last_status:
            self.last_status = status
        failed = bool(last and last.failed)
        if failed != self.last_failed:
            self.last_failed = failed

    @rx.event
    async def on_load(self):
        """Open the conversation in the URL (or keep the current one on `/`), and the table
        named by `?r=<resource id>` (answers link their tables that way)."""
        follow = await self._arrive()
        resource_id = self.router.url.query_parameters.get("r", "")
        if not resource_id:
            return follow
        return [event for event in (follow, ResultsState.open(resource_id)) if event is not None]

    async def _arrive(self):
        context = app_context()
        user_id = current_user_id(self)
        self.model_label = context.runs.model_label
        self.offline_model = context.settings.offline_model
        await self._list_conversations(user_id)
        requested = (
            self.router.url.path.removeprefix("/c/").strip("/")
            if self.router.url.path.startswith("/c/")
            else ""
        )
        requested = requested or self.conversation_id
        live = await self.get_state(LiveTurnState)
        if self._announced and self._announced == requested:
            # The page moved to the conversation this tab's own run just opened: it is all here,
            # live or already answered (a reload from the database would lose the fading cards).
            self._announced = ""
            return None
        if live.running and live.conversation_id == requested and live._run_id:
            if await context.runs.live_run(requested) == live._run_id:
                # This tab's run goes on (a reload): its cards are in state; timers resume, not restart.
                live.cards = with_live_timers(live._view.cards, int(time.time() * 1000))
                return None
        if not requested:
            if not live.running:
                live._reset_turn()
            return None
        # Opening (or reloading) a conversation: the database is the truth.
        await self._open(requested, user_id)
        live._reset_turn()
        live.running = False
        run_id = await context.runs.live_run(requested)
        if run_id and self.messages and self.messages[-1].role == "user":
            # A run is answering here (another tab, the API, a reload with a new tab):
            # show its question in the live turn and follow its events from the start.
            question = self.messages[-1]
            self.messages = self.messages[:-1]
            live.user_text = question.content
            live.conversation_id = requested
            live.running = True
            live._run_id = run_id  # Stop works before the follower's first update
            return LiveTurnState.follow_run(run_id)
        return None

    async def _list_conversations(self, user_id: str) -> None:
        self.conversations = [
            ConversationItem(id=c.id, title=c.title, href=f"/c/{c.id}")
            for c in await app_context().reads.conversations(user_id, self.search)
        ]

    @rx.event
    async def search_conversations(self, text: str):
        """List only the conversations whose title or messages contain `text`."""
        text = " ".join(text.split())[:200]
        if text != self.search:
            self.search = text
            await self._list_conversations(current_user_id(self))

    async def _open(self, conversation_id: str, user_id: str) -> None:
        page = await app_context().reads.transcript(user_id, conversation_id)
        self.conversation_id = conversation_id
        self.not_found = page is None
        self.title = page.conversation.title if page else ""
        self.messages = [message_from_turn(t) for t in page.turns] if page else []
        self.earlier = []
        self._clear_visit()
        self.has_earlier = page.more if page else False
        self._cursor = page.cursor if page else ""
        self._note_last_status()
        await (await self.get_state(ResultsState))._show_conversation(conversation_id if page else "")

    @rx.event
    async def load_earlier(self):
        """Prepend the page of messages before the oldest one shown."""
        if not (self.has_earlier and self.conversation_id and self._cursor):
            return
        page = await app_context().reads.transcript(current_user_id(self), self.conversation_id, self._cursor)
        if page is None:
            self.has_earlier = False
            return
        self.earlier = [*(message_from_turn(t) for t in page.turns), *self.earlier]
        self.has_earlier = page.more
        self._cursor = page.cursor or self._cursor

    def _append_turn(self, rows: list[MessageView], question_id: str) -> None:
        """Add a finished turn: one slot and the slots' order change, nothing else is re-sent."""
        placed = visit.place(self._turns)
        if placed.evicts:
            # The oldest turn leaves the page: what came before it now loads on demand.
            if self.messages:
                self.messages = []
            if self.earlier:
                self.earlier = []
            self.has_earlier = True
            self._cursor = self._slot_questions[visit.oldest_slot(self._turns + 1)]
        self._set_slot(placed.slot, rows)
        self._slot_questions[placed.slot] = question_id
        order = list(self.turn_order)
        order[placed.slot] = placed.position
        self.turn_order = order
        self._turns += 1
        self._note_last_status()

    def _cut_from(self, message_id: str) -> bool:
        """Drop a question and every row after it from the page (an edited question replaces
        them); False when it is not on the page."""
        for name in ("earlier", "messages"):
            rows: list[MessageView] = getattr(self, name)
            at = next((i for i, m in enumerate(rows) if m.id == message_id), None)
            if at is None:
                continue
            setattr(self, name, rows[:at])
            if name == "earlier" and self.messages:
                self.messages = []
            self._clear_visit()
            self._note_last_status()
            return True
        for slot in range(visit.SLOTS):
            rows = self._slot(slot)
            at = next((i for i, m in enumerate(rows) if m.id == message_id), None)
            if at is None:
                continue
            position = self.turn_order[slot]
            self._set_slot(slot, rows[:at])
            for other in range(visit.SLOTS):
                if self.turn_order[other] > position and self._slot(other):
                    self._set_slot(other, [])
            self._turns = position + 1
            self._note_last_status()
            return True
        return False

    def _retitle(self, conversation_id: str, title: str) -> None:
        """A conversation got a new title (the user's, or the model's after its first answer)."""
        self.conversations = [
            dataclasses.replace(c, title=title) if c.id == conversation_id else c for c in self.conversations
        ]
        if conversation_id == self.conversation_id:
            self.title = title

    @rx.event
    def start_rename(self, conversation_id: str):
        self.renaming_id, self.deleting_id = conversation_id, ""

    @rx.event
    def cancel_rename(self):
        self.renaming_id = ""

    @rx.event
    async def rename(self, form_data: dict):
        """Save the title typed in the list (Enter); an empty one keeps the old title."""
        conversation_id, self.renaming_id = self.renaming_id, ""
        title = str(form_data.get("title", ""))
        if not conversation_id or not title.strip():
            return None
        try:
            saved = await app_context().runs.rename_conversation(
                user_id=current_user_id(self), conversation_id=conversation_id, title=title
            )
        except RunRefused as exc:
            (await self.get_state(LiveTurnState)).notice = exc.message
            return None
        self._retitle(conversation_id, saved)
        return None

    @rx.event
    def ask_delete(self, conversation_id: str):
        self.deleting_id, self.renaming_id = conversation_id, ""

    @rx.event
    def cancel_delete(self):
        self.deleting_id = ""

    @rx.event
    async def export_conversation(self, conversation_id: str):
        """Download the conversation as Markdown, tables included (the same document as
        `GET /api/conversations/{id}/export.md`)."""
        exported = await app_context().reads.export(current_user_id(self), conversation_id)
        if exported is None:
            return None
        return rx.download(data=exported.markdown, filename=exported.filename, mime_type="text/markdown")

    def _take_last_question(self) -> str | None:
        """Remove the last question (and its answer) from the transcript, for a retry."""
        newest = visit.newest_slot(self._turns)
        rows = list(self._slot(newest) if newest is not None else self.messages)
        if rows and rows[-1].role == "assistant":
            rows.pop()
        if not rows or rows[-1].role != "user":
            return None
        question = rows.pop().content
        if newest is not None:
            self._set_slot(newest, rows)
            self._turns -= 1
        else:
            self.messages = rows
        self._note_last_status()
        return question

    def _announce(self, started: StartedRun) -> None:
        """A run opened a new conversation: it becomes the open one and tops the list."""
        if self.conversation_id or started.title is None:
            return
        self._announced = started.conversation_id
        self.conversation_id = started.conversation_id
        self.title = started.title
        self.conversations = [
            ConversationItem(
                id=started.conversation_id, title=started.title, href=f"/c/{started.conversation_id}"
            ),
            *self.conversations,
        ]

    # --- changes waiting for the user's approval -------------------------------------------------

    @rx.event
    async def approve(self, run_id: str, tool_call_id: str):
        return await self._decide(run_id, tool_call_id, approved=True)

    @rx.event
    async def approve_always(self, run_id: str, tool_call_id: str):
        """Approve, and let this tool run without asking from now on (revocable in Settings)."""
        return await self._decide(run_id, tool_call_id, approved=True, always_allow=True)

    @rx.event
    async def deny(self, form_data: dict):
        reason = " ".join(str(form_data.get("reason", "")).split())[:500]
        return await self._decide(
            str(form_data.get("run_id", "")),
            str(form_data.get("tool_call_id", "")),
            approved=False,
            reason=reason,
        )

    async def _decide(
        self, run_id: str, tool_call_id: str, *, approved: bool, reason: str = "", always_allow: bool = False
    ):
        identity = identity_for(self)
        if identity is None:
            return None
        live = await self.get_state(LiveTurnState)
        decision = Decision(approved=approved, reason=reason, decided_by=identity.name, via="browser")
        try:
            outcome = await app_context().runs.decide(
                user_id=identity.user_id,
                run_id=run_id,
                tool_call_id=tool_call_id,
                decision=decision,
                always_allow=always_allow,
            )
        except RunRefused as exc:
            live.notice = exc.message
            return None
        if outcome.resumed and outcome.conversation_id == self.conversation_id and not live.running:
            # The run goes on: its turn leaves the transcript for the live turn, which follows it.
            question = self._take_last_question()
            live._reset_turn()
            live.notice = ""
            live.user_text = question or ""
            live.conversation_id = self.conversation_id
            live.running = True
            live._run_id = run_id
            return LiveTurnState.follow_run(run_id)
        if outcome.conversation_id == self.conversation_id:
            await self._open(self.conversation_id, identity.user_id)  # show the decision on the waiting card
        return None

    @rx.event
    async def stop_waiting(self):
        """Stop a run that waits for a decision: its waiting changes are cancelled, nothing changes."""
        if not self.conversation_id:
            return
        runs, user_id = app_context().runs, current_user_id(self)
        if run_id := await runs.waiting_run(user_id, self.conversation_id):
            await runs.stop(run_id)
        await self._open(self.conversation_id, user_id)

    @rx.event
    async def new_chat(self):
        self.conversation_id = ""
        self.title = ""
        self.messages = []
        self.earlier = []
        self._clear_visit()
        self.has_earlier = False
        self._cursor = ""
        self.not_found = False
        self.last_status = ""
        self.last_failed = False
        await (await self.get_state(ResultsState))._show_conversation("")
        live = await self.get_state(LiveTurnState)
        if not live.running:
            live._reset_turn()
        return rx.redirect("/")

    @rx.event
    async def delete_conversation(self, conversation_id: str):
        """Delete a conversation (after "Delete" was confirmed in the list)."""
        self.deleting_id = ""
        try:
            await app_context().runs.delete_conversation(
                user_id=current_user_id(self), conversation_id=conversation_id
            )
        except RunRefused as exc:
            live = await self.get_state(LiveTurnState)
            live.notice = exc.message
            return None
        self.conversations = [c for c in self.conversations if c.id != conversation_id]
        if conversation_id == self.conversation_id:
            return ChatState.new_chat
        return None


class LiveTurnState(rx.State):
    """The turn being answered: small vars that change on every event."""

    user_text: str = ""
    cards: list[CardView] = []
    streamed: list[str] = []
    """The streaming answer's finished markdown blocks (they never change once finished)."""
    text: str = ""
    """The block of the streaming answer still being written."""
    running: bool = False
    last_seq: int = -1
    """`seq` of the last event shown (`data-seq`): lets tests and the benchmark check order."""
    conversation_id: str = ""
    notice: str = ""
    """A problem with the message itself (too long…), shown above the composer."""
    editing_id: str = ""
    """The question being edited in the composer: sending asks it anew in its place."""
    _view: TurnView = TurnView()
    _run_id: str = ""

    def _reset_turn(self) -> None:
        self.user_text = ""
        self.cards = []
        self.streamed = []
        self.text = ""
        self.conversation_id = ""
        self.last_seq = -1
        self._view = TurnView()

    @rx.event
    async def submit(self, form_data: dict):
        return await self._begin(str(form_data.get("message", "")))

    @rx.event
    async def send_suggestion(self, text: str):
        return await self._begin(text)

    @rx.event
    def start_edit(self, message_id: str):
        """Edit a question: its text is put in the composer (by the page); sending replaces it."""
        self.editing_id = message_id
        self.notice = ""

    @rx.event
    def cancel_edit(self):
        self.editing_id = ""
        return [rx.set_value("composer", ""), rx.set_focus("composer")]

    async def _begin(self, message: str):
        if self.running:
            self.notice = "Finch is still answering. Wait for it or press Stop."
            return None
        if not message.strip():
            return None
        try:
            text = app_context().runs.check_message(message)  # before anything echoes it back to the page
        except RunRefused as exc:
            self.notice = f"{exc.message} Your text is still in the box."
            return None
        chat = await self.get_state(ChatState)
        edit_of, self.editing_id = self.editing_id, ""
        if edit_of and not (chat.conversation_id and chat._cut_from(edit_of)):
            edit_of = ""  # the question left the page (another conversation): ask it as a new one
        self._reset_turn()
        self.notice = ""
        self.user_text = text
        self.running = True
        self.conversation_id = chat.conversation_id
        # Focus goes back to the composer however the message was sent (Enter, Send, a suggestion).
        return [
            rx.set_value("composer", ""),
            rx.set_focus("composer"),
            LiveTurnState.run_turn(text, chat.conversation_id, False, edit_of),
        ]

    @rx.event
    async def retry(self):
        """Answer the last question again (after an error or a stop, or to regenerate)."""
        if self.running:
            return None
        chat = await self.get_state(ChatState)
        if not chat.conversation_id or (question := chat._take_last_question()) is None:
            return None
        self._reset_turn()
        self.notice = ""
        self.user_text = question
        self.running = True
        self.conversation_id = chat.conversation_id
        return LiveTurnState.run_turn(question, chat.conversation_id, True)

    @rx.event(background=True)
    async def run_turn(self, message: str, conversation_id: str, retry: bool, edit_of: str = ""):
        """Start a run for the message (or for an edited question, `edit_of`), then follow it like
        any other follower; the conversation then gets the title its model suggests, if any."""
        runs = app_context().runs
        async with self:
            user_id = current_user_id(self)
        try:
            if retry:
                started = await runs.retry(user_id=user_id, conversation_id=conversation_id)
            elif edit_of:
                started = await runs.edit(
                    user_id=user_id, conversation_id=conversation_id, message_id=edit_of, message=message
                )
            else:
                started = await runs.start(
                    user_id=user_id, conversation_id=conversation_id or None, message=message
                )
        except RunRefused as exc:
            async with self:
                self.running = False
                self.user_text = ""
                self.notice = exc.message
            if not retry:
                yield rx.set_value("composer", message)  # nothing the user typed is lost
            if edit_of:
                yield ChatState.on_load  # the edited question was taken off the page: put it back
            return
        feed = await runs.follow(started.run_id)
        async for update in self._mirror(feed, started.run_id, started):
            yield update
        title = await runs.suggested_title(started.conversation_id, wait_s=TITLE_WAIT_S)
        if title:
            async with self:
                (await self.get_state(ChatState))._retitle(started.conversation_id, title)

    @rx.event(background=True)
    async def follow_run(self, run_id: str):
        """Show a run that another tab (or the API) started, live, until it ends."""
        async with self:
            user_id = current_user_id(self)
        context = app_context()
        if not await context.reads.owns_run(user_id, run_id):
            return  # not this user's run (the id came from the browser): nothing to show
        async for update in self._mirror(await context.runs.follow(run_id), run_id):
            yield update

    async def _mirror(self, feed: Feed, run_id: str, started: StartedRun | None = None):
        """Apply a run's events to this tab's state, pacing tokens, until the run ends.

        A push takes the tab's state lock (with Redis: round trips) and makes the page render,
        so batches that change nothing on screen are not pushed: a card never waits behind a
        push that showed nothing."""
        view = shown = TurnView()
        cost = PushCost()
        first, settled = True, False
        async with aclosing(feed.batches(interval=cost.token_interval)) as batches:
            async for batch in batches:
                for event in batch:
                    view = apply_event(view, event)
                saved = [e for e in batch if isinstance(e, ResourceSaved)]
                visible = (
                    bool(saved) or (view.answer is not None and not settled) or _visible_change(shown, view)
                )
                if not (first or visible):
                    continue
                pushing = time.monotonic()
                async with self:
                    if first:
                        self._run_id = run_id
                        if started is not None and started.title is not None:
                            self.conversation_id = started.conversation_id
                            (await self.get_state(ChatState))._announce(started)
                    if saved:
                        await self._list_resources(saved, view.conversation_id)
                    if settled:
                        pass
                    elif view.answer is not None:
                        await self._settle(view)
                        settled = True
                    else:
                        self._show(view)
                    if visible:  # a batch that shows nothing sends no frame (and no render) at all
                        self.last_seq = batch[-1].seq
                cost.observe(time.monotonic() - pushing)
                shown = view
                if first and started is not None and started.title is not None:
                    yield rx.redirect(f"/c/{started.conversation_id}", replace=True)
                first = False
        async with self:
            self.running = False
        if not feed.found:
            # The run ended before we could follow it: what it left is in the database.
            yield ChatState.on_load

    async def _settle(self, view: TurnView) -> None:
        """The answer is in: the turn moves into the transcript (and its results into the visit's
        list) in the same update, so the next question starts with a tiny update. Its cards go
        with the answer and fade there, exactly where they were."""
        chat = await self.get_state(ChatState)
        if view.answer is not None and view.conversation_id == chat.conversation_id:
            question = MessageView(id=view.question_id, role="user", content=self.user_text)
            answer = dataclasses.replace(
                view.answer, cards=with_live_timers(view.cards, int(time.time() * 1000))
            )
            chat._append_turn([question, answer], view.question_id)
            (await self.get_state(ResultsState))._settle_turn()
        self._reset_turn()

    async def _list_resources(self, saved: list[ResourceSaved], conversation_id: str) -> None:
        """Announce new (or growing) resources in the Results panel: titles and counts only."""
        results = await self.get_state(ResultsState)
        for event in saved:
            results._upsert(
                resource_id=event.resource_id,
                title=event.title,
                kind=event.kind,
                row_count=event.row_count,
                partial=event.partial,
                conversation_id=conversation_id,
                run_id=event.run_id,
                question=self.user_text,
            )

    @rx.event
    async def stop(self):
        """Cancel the running turn wherever it runs: its tools get CancelledError, its cards turn cancelled."""
        if self.running and self._run_id:
            await app_context().runs.stop(self._run_id, waiting=False)

    def _show(self, view: TurnView) -> None:
        """Copy the changed parts of the view into vars, so the delta stays small."""
        old = self._view
        if view.cards != old.cards:
            self.cards = with_live_timers(view.cards, int(time.time() * 1000))
        if view.text != old.text:
            blocks, self.text = stream_blocks(view.text)
            if len(blocks) != len(self.streamed):
                self.streamed = blocks
        if view.conversation_id and view.conversation_id != self.conversation_id:
            self.conversation_id = view.conversation_id
        self._view = view


def _visible_change(shown: TurnView, view: TurnView) -> bool:
    """Whether the page would show anything new (cards, text, the conversation)."""
    return (
        view.cards != shown.cards or view.text != shown.text or view.conversation_id != shown.conversation_id
    )
