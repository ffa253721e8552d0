"""Long conversations open on their latest page; older pages load on demand, in order."""

from __future__ import annotations

import pytest

from finch_app.db import crud
from finch_app.db.engine import session_scope
from scripts.seed import seed_conversation
from tests.reflex_harness import HeadlessTab

pytestmark = pytest.mark.persistence


def _seed(messages: int) -> str:
    with session_scope() as session:
        return seed_conversation(session=session, user_id="local", messages=messages)


def test_pages_walk_back_through_the_conversation_in_reading_order():
    conversation_id = _seed(120)
    with session_scope() as session:
        everything = [
            t.message.id
            for t in crud.conversation_turns(
                session=session, user_id="local", conversation_id=conversation_id
            )
        ]
        pages, before, more = [], None, True
        while more:
            turns, more = crud.conversation_page(
                session=session, user_id="local", conversation_id=conversation_id, limit=50, before=before
            )
            pages.append([t.message.id for t in turns])
            before = turns[0].message.id
        assert [len(p) for p in pages] == [50, 50, 20]
        assert [m for page in reversed(pages) for m in page] == everything
        latest, _ = crud.conversation_page(
            session=session, user_id="local", conversation_id=conversation_id, limit=50
        )
        answers = [t for t in latest if t.message.role == "assistant"]
        assert all(len(t.tool_calls) == 4 for t in answers), "each answer keeps its tool calls"
        assert crud.conversation_page(
            session=session, user_id="other", conversation_id=conversation_id, limit=50
        ) == ([], False)


async def test_a_500_message_conversation_opens_on_its_latest_page_and_loads_earlier_ones():
    from finch_app.finch_app import app
    from finch_app.states.chat import ChatState

    conversation_id = _seed(500)
    async with HeadlessTab(app, token="pages-500") as tab:
        async with tab.locked(ChatState, emit=True) as chat:
            await chat._open(conversation_id, "local")
            assert len(chat.messages) == 50 and chat.has_earlier and chat.earlier == []
            newest = chat.messages[-1].id
        opened = tab.frames[-1]
        print(f"\n  opening a 500-message conversation sends {opened.size} B (50 messages)")
        assert opened.size < 120_000
        loads = 0
        while True:
            async with tab.locked(ChatState, emit=True) as chat:
                if not chat.has_earlier:
                    break
                await ChatState.load_earlier.fn(chat)
                loads += 1
        async with tab.locked(ChatState) as chat:
            shown = [m.id for m in [*chat.earlier, *chat.messages]]
            assert loads == 9 and len(shown) == 500 and len(set(shown)) == 500
            assert shown[-1] == newest
            assert [m.role for m in chat.earlier[:2]] == ["user", "assistant"]
