"""Reflex states: thin adapters between the browser and `ChatService`.

Two classes on purpose. `ChatState` holds the transcript and the conversation list
and changes about once per turn. `LiveTurnState` holds the running turn (its cards,
the streaming text, the run flags) and changes on every event. Reflex re-renders per
State class, so a tool event never re-sends or re-renders the transcript.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from dataclasses import dataclass

import reflex as rx

from finch_app.agent.events import RunStarted, Token
from finch_app.chat_service import ChatInputError, get_chat_service
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.pacing import paced
from finch_app.settings import get_settings
from finch_app.views import (
    CardView,
    MessageView,
    TurnView,
    apply_event,
    message_from_turn,
    stop_view,
    with_live_timers,
)

LOCAL_USER = "local"
TOKEN_FLUSH_S = 0.05
"""Streaming text is pushed at most this often; tool events go out at once."""


def current_user_id(state: rx.State) -> str:
    """The signed-in user; a single local user until accounts exist."""
    return LOCAL_USER


@dataclass
class ConversationItem:
    id: str
    title: str
    href: str


def _load_conversations(user_id: str) -> list[ConversationItem]:
    with session_scope() as session:
        rows = crud.list_conversations(session=session, user_id=user_id)
        return [ConversationItem(id=c.id, title=c.title, href=f"/c/{c.id}") for c in rows]


def _load_transcript(user_id: str, conversation_id: str) -> tuple[str, list[MessageView]] | None:
    with session_scope() as session:
        conversation = crud.get_conversation(session=session, user_id=user_id, conversation_id=conversation_id)
        if conversation is None:
            return None
        turns = crud.conversation_turns(session=session, user_id=user_id, conversation_id=conversation_id)
        return conversation.title, [message_from_turn(t) for t in turns]


class ChatState(rx.State):
    """The conversation list and the transcript of the open conversation."""

    conversations: list[ConversationItem] = []
    messages: list[MessageView] = []
    conversation_id: str = ""
    title: str = ""
    not_found: bool = False
    model_label: str = ""
    offline_model: bool = True

    @rx.var
    def last_status(self) -> str:
        """Status of the last answer in the transcript ("" when the last row is not an answer)."""
        if self.messages and self.messages[-1].role == "assistant":
            return self.messages[-1].status
        return ""

    @rx.event
    async def on_load(self):
        """Open the conversation in the URL (or keep the current one on `/`)."""
        settings = get_settings()
        service = get_chat_service()
        user_id = current_user_id(self)
        self.model_label = service.model_label
        self.offline_model = settings.offline_model
        self.conversations = await asyncio.to_thread(_load_conversations, user_id)
        requested = self.router.page.params.get("cid", "") or self.conversation_id
        live = await self.get_state(LiveTurnState)
        if live.running and service.active.is_live(live._run_id) and live.conversation_id == requested:
            # This tab's run goes on (a reload): its cards are in state; timers resume, not restart.
            live.cards = with_live_timers(live._view.cards, int(time.time() * 1000))
            return None
        if not requested:
            if not live.running:
                live.clear()
            return None
        # Opening (or reloading) a conversation: the database is the truth.
        await self._open(requested, user_id)
        live.clear()
        live.running = False
        run_id = service.active.run_for(requested)
        if run_id and self.messages and self.messages[-1].role == "user":
            # A run is answering here (another tab, the API, a reload with a new tab):
            # show its question in the live turn and follow its events from the start.
            question = self.messages[-1]
            self.messages = self.messages[:-1]
            live.user_text = question.content
            live.conversation_id = requested
            live.running = True
            return LiveTurnState.follow_run(run_id)
        return None

    async def _open(self, conversation_id: str, user_id: str) -> None:
        loaded = await asyncio.to_thread(_load_transcript, user_id, conversation_id)
        self.conversation_id = conversation_id
        self.not_found = loaded is None
        self.title, self.messages = loaded if loaded else ("", [])

    @rx.event
    async def new_chat(self):
        self.conversation_id = ""
        self.title = ""
        self.messages = []
        self.not_found = False
        live = await self.get_state(LiveTurnState)
        if not live.running:
            live.clear()
        return rx.redirect("/")

    @rx.event
    async def delete_conversation(self, conversation_id: str):
        try:
            await get_chat_service().delete_conversation(
                user_id=current_user_id(self), conversation_id=conversation_id
            )
        except ChatInputError as exc:
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
    text: str = ""
    answer: list[MessageView] = []
    """The finished answer (0 or 1 items) until the next turn moves it to the transcript."""
    running: bool = False
    conversation_id: str = ""
    notice: str = ""
    """A problem with the message itself (too long…), shown above the composer."""
    _view: TurnView = TurnView()
    _run_id: str = ""

    def clear(self) -> None:
        self.user_text = ""
        self.cards = []
        self.text = ""
        self.answer = []
        self.conversation_id = ""
        self._view = TurnView()

    @rx.event
    async def submit(self, form_data: dict):
        return await self._begin(str(form_data.get("message", "")))

    @rx.event
    async def send_suggestion(self, text: str):
        return await self._begin(text)

    async def _begin(self, message: str):
        if self.running:
            self.notice = "Finch is still answering. Wait for it or press Stop."
            return None
        text = message.strip()
        if not text:
            return None
        limit = get_settings().max_message_chars
        if len(text) > limit:
            self.notice = (
                f"Your message is {len(text):,} characters; the limit is {limit:,}. "
                "Shorten it and send again — your text is still in the box."
            )
            return None
        chat = await self.get_state(ChatState)
        self._settle(chat)
        self.user_text = text
        self.running = True
        self.conversation_id = chat.conversation_id
        return [rx.set_value("composer", ""), LiveTurnState.run_turn(text, chat.conversation_id, False)]

    def _settle(self, chat: ChatState) -> None:
        """Move a finished turn into the transcript: the history var changes once per turn."""
        if self.answer and self.conversation_id == chat.conversation_id:
            question = MessageView(id=f"user-{self._view.run_id}", role="user", content=self.user_text)
            chat.messages = [*chat.messages, question, *self.answer]
        self.clear()
        self.notice = ""

    @rx.event
    async def retry(self):
        """Answer the last question again (after an error or a stop, or to regenerate)."""
        if self.running:
            return None
        chat = await self.get_state(ChatState)
        if not chat.conversation_id:
            return None
        if self.answer and self.conversation_id == chat.conversation_id:
            question = self.user_text
        else:
            messages = list(chat.messages)
            if messages and messages[-1].role == "assistant":
                messages.pop()
            if not messages or messages[-1].role != "user":
                return None
            question = messages.pop().content
            chat.messages = messages
        self.clear()
        self.notice = ""
        self.user_text = question
        self.running = True
        self.conversation_id = chat.conversation_id
        return LiveTurnState.run_turn(question, chat.conversation_id, True)

    @rx.event(background=True)
    async def run_turn(self, message: str, conversation_id: str, retry: bool):
        """Run the agent for one message and mirror its events into this state."""
        service = get_chat_service()
        async with self:
            user_id = current_user_id(self)
        try:
            if retry:
                turn = await service.start_retry(user_id=user_id, conversation_id=conversation_id)
            else:
                turn = await service.start_turn(
                    user_id=user_id, conversation_id=conversation_id or None, message=message
                )
        except ChatInputError as exc:
            async with self:
                self.running = False
                self.user_text = ""
                self.notice = exc.message
            if not retry:
                yield rx.set_value("composer", message)  # nothing the user typed is lost
            return
        service.active.add(turn.run_id, asyncio.current_task())  # type: ignore[arg-type]
        async for update in self._mirror(turn.events(), turn.run_id, new_conversation_title=None if conversation_id else message):
            yield update

    @rx.event(background=True)
    async def follow_run(self, run_id: str):
        """Show a run that another tab (or the API) started, live, until it ends."""
        async for update in self._mirror(get_chat_service().active.follow(run_id), run_id, new_conversation_title=None):
            yield update

    async def _mirror(self, events, run_id: str, new_conversation_title: str | None):
        """Apply a run's events to this tab's state, pacing tokens, until the run ends."""
        service = get_chat_service()
        async with self:
            self._run_id = run_id
        view = TurnView()
        try:
            batches = paced(events, holdable=lambda e: isinstance(e, Token), interval_s=TOKEN_FLUSH_S)
            async with aclosing(batches) as updates:
                async for batch in updates:
                    for event in batch:
                        view = apply_event(view, event)
                    started = next((e for e in batch if isinstance(e, RunStarted)), None)
                    announce = started is not None and new_conversation_title is not None
                    async with self:
                        self._show(view)
                        if announce:
                            await self._announce_conversation(started.conversation_id, new_conversation_title)
                    if announce:
                        yield rx.redirect(f"/c/{started.conversation_id}", replace=True)
        except asyncio.CancelledError:
            pass  # our own Stop: the cleanup below is the whole answer to it
        finally:
            service.active.discard(run_id, asyncio.current_task())
            async with self:
                if view.running or view.answer is None:
                    self._show(stop_view(view))
                self.running = False

    @rx.event
    def stop(self):
        """Cancel the running turn: its tools get CancelledError, its cards turn cancelled."""
        if self.running and self._run_id:
            get_chat_service().active.cancel(self._run_id)

    def _show(self, view: TurnView) -> None:
        """Copy the changed parts of the view into vars, so the delta stays small."""
        old = self._view
        if view.cards != old.cards:
            self.cards = with_live_timers(view.cards, int(time.time() * 1000))
        if view.text != old.text and view.answer is None:
            self.text = view.text
        if view.answer is not None and view.answer != old.answer:
            self.answer = [view.answer]
            self.text = ""
        if view.conversation_id and view.conversation_id != self.conversation_id:
            self.conversation_id = view.conversation_id
        self._view = view

    async def _announce_conversation(self, conversation_id: str, message: str) -> None:
        chat = await self.get_state(ChatState)
        if not chat.conversation_id:
            chat.conversation_id = conversation_id
            chat.title = crud.title_from(message)
            self.conversation_id = conversation_id
            chat.conversations = [
                ConversationItem(id=conversation_id, title=chat.title, href=f"/c/{conversation_id}"),
                *chat.conversations,
            ]

