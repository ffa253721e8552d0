"""The chat page's states without a browser: what an edited question takes off the page, and
where the focus goes after a message is sent."""

from __future__ import annotations

import reflex as rx

from finch_app.states import visit
from finch_app.states.chat import ChatState, LiveTurnState
from finch_app.views import MessageView
from tests.fakes.scripted_model import ScriptedModel, text
from tests.reflex_harness import HeadlessTab
from tests.support import install_context


def _app():
    from finch_app.finch_app import app

    return app


def turn(n: int) -> list[MessageView]:
    return [
        MessageView(id=f"q{n}", role="user", content=f"question {n}"),
        MessageView(id=f"a{n}", role="assistant", content=f"answer {n}"),
    ]


def shown(chat: ChatState) -> list[str]:
    """The page's rows in reading order (the visit's slots sorted by their place)."""
    slots = sorted(range(visit.SLOTS), key=lambda i: chat.turn_order[i])
    return [m.id for m in [*chat.earlier, *chat.messages, *(m for i in slots for m in chat._slot(i))]]


async def test_an_edited_question_takes_itself_and_what_followed_off_the_page():
    install_context(ScriptedModel())
    async with HeadlessTab(_app(), token="cut") as tab:
        async with tab.locked(ChatState) as chat:
            chat.messages = [*turn(1), *turn(2)]
            for n in (3, 4, 5):
                chat._append_turn(turn(n), f"q{n}")
            assert shown(chat) == ["q1", "a1", "q2", "a2", "q3", "a3", "q4", "a4", "q5", "a5"]

            assert chat._cut_from("q4")  # in a slot of this visit
            assert shown(chat) == ["q1", "a1", "q2", "a2", "q3", "a3"]
            chat._append_turn(turn(6), "q6")  # the next turn follows what is left
            assert shown(chat) == ["q1", "a1", "q2", "a2", "q3", "a3", "q6", "a6"]

            assert chat._cut_from("q2")  # in the page loaded at open: the visit's turns go too
            assert shown(chat) == ["q1", "a1"] and chat.last_status == "completed"
            assert not chat._cut_from("nowhere")


async def test_sending_returns_the_focus_to_the_composer():
    install_context(ScriptedModel(text("Hi.")))
    async with HeadlessTab(_app(), token="focus") as tab:
        async with tab.locked(LiveTurnState) as live:
            events = await live._begin("hello")
        names = [e.handler.fn.__qualname__ for e in events]
        # The box empties, keeps (or gets back) the focus, then the run starts.
        assert names == ["_set_value", "_set_focus", "LiveTurnState.run_turn"]
        assert events[1].args[0][1].equals(rx.Var.create("ref_composer"))
