"""Reflex states: thin adapters between the browser and `ChatService`.

Two classes on purpose. `ChatState` holds the transcript and the conversation list
and changes about once per turn. `LiveTurnState` holds the running turn (its cards,
the streaming text, the run flags) and changes on every event. Reflex re-renders per
State class, so a tool event never re-sends or re-renders the transcript.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from dataclasses import dataclass

import reflex as rx

from finch_app.agent.events import RunStarted, Token
from finch_app.chat_service import ChatInputError, get_chat_service
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.pacing import paced
from finch_app.settings import get_settings
from finch_app.views import CardView, MessageView, TurnView, apply_event, message_from_turn, stop_view

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

    @rx.event
    async def on_load(self):
        """Open the conversation in the URL (or keep the current one on `/`)."""
        settings = get_settings()
        user_id = current_user_id(self)
        self.model_label = get_chat_service().model_label
        self.offline_model = settings.offline_model
        self.conversations = await asyncio.to_thread(_load_conversations, user_id)
        requested = self.router.page.params.get("cid", "")
        live = await self.get_state(LiveTurnState)
        if requested and requested != self.conversation_id:
            await self._open(requested, user_id)
            if live.conversation_id != requested and not live.running:
                live.clear()
        elif self.conversation_id and not live.running:
            # A reload: show what the database has, including the last finished turn.
            await self._open(self.conversation_id, user_id)
            live.clear()

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
        user_id = current_user_id(self)

        def delete() -> None:
            with session_scope() as session:
                crud.delete_conversation(session=session, user_id=user_id, conversation_id=conversation_id)

        await asyncio.to_thread(delete)
        self.conversations = [c for c in self.conversations if c.id != conversation_id]
        if conversation_id == self.conversation_id:
            return ChatState.new_chat


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
        if self.answer and self.conversation_id == chat.conversation_id:
            # The finished turn joins the transcript: the history var changes once per turn.
            question = MessageView(id=f"user-{self._view.run_id}", role="user", content=self.user_text)
            chat.messages = [*chat.messages, question, *self.answer]
        self.clear()
        self.notice = ""
        self.user_text = text
        self.running = True
        self.conversation_id = chat.conversation_id
        return [rx.set_value("composer", ""), LiveTurnState.run_turn(text, chat.conversation_id)]

    @rx.event(background=True)
    async def run_turn(self, message: str, conversation_id: str):
        """Run the agent for one message and mirror its events into this state."""
        service = get_chat_service()
        async with self:
            user_id = current_user_id(self)
        try:
            turn = await service.start_turn(user_id=user_id, conversation_id=conversation_id or None, message=message)
        except ChatInputError as exc:
            async with self:
                self.running = False
                self.user_text = ""
                self.notice = exc.message
            yield rx.set_value("composer", message)
            return
        service.active.add(turn.run_id, asyncio.current_task())  # type: ignore[arg-type]
        async with self:
            self._run_id = turn.run_id
        view = TurnView()
        try:
            batches = paced(turn.events(), holdable=lambda e: isinstance(e, Token), interval_s=TOKEN_FLUSH_S)
            async with aclosing(batches) as updates:
                async for batch in updates:
                    for event in batch:
                        view = apply_event(view, event)
                    started = next((e for e in batch if isinstance(e, RunStarted)), None)
                    async with self:
                        self._show(view)
                        if started and not conversation_id:
                            await self._announce_conversation(started.conversation_id, message)
                    if started and not conversation_id:
                        yield rx.redirect(f"/c/{started.conversation_id}", replace=True)
        except asyncio.CancelledError:
            pass  # our own Stop: the cleanup below is the whole answer to it
        finally:
            service.active.discard(turn.run_id)
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
            self.cards = view.cards
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
            chat.conversations = [
                ConversationItem(id=conversation_id, title=chat.title, href=f"/c/{conversation_id}"),
                *chat.conversations,
            ]

