"""The habits of a chat app, on the service and the API: search, rename, edit a question and ask
it again, export as Markdown, and a title that says what the conversation is about."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from finch_app.agent.loop import Agent
from finch_app.api import api
from finch_app.api.deps import get_context
from finch_app.context import build_context, build_providers
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.export import conversation_markdown, export_filename, slug
from finch_app.models.openai import OpenAIChatModel, clean_title
from finch_app.reads import Reads
from finch_app.runs import RunRefused, RunService
from finch_app.settings import get_settings
from finch_app.tables import to_markdown
from finch_app.tools import default_registry
from tests.fakes.openai_server import OpenAIServer, http_error
from tests.fakes.openai_server import text as openai_text
from tests.fakes.scripted_model import ScriptedModel, text, tool_call
from tests.support import answer

pytestmark = [pytest.mark.usefixtures("demo_holdings"), pytest.mark.persistence]


def service(model) -> RunService:
    settings = get_settings()
    agent = Agent(
        model=model, registry=default_registry(), deps=build_providers(settings), system_prompt="test"
    )
    return RunService(agent=agent, settings=settings)


# --- search ---------------------------------------------------------------------------------------


async def test_search_finds_conversations_by_title_or_by_what_was_said():
    runs = service(
        ScriptedModel(text("Apple closed at $268."), text("Senators sold a lot of NVDA."), text("Hi."))
    )
    apple, _ = await answer(runs, "how is AAPL doing")
    senate, _ = await answer(runs, "what did the senate trade")
    await answer(runs, "hello 100%_sure")
    reads = Reads()
    assert [c.id for c in await reads.conversations("local", "aapl")] == [apple.conversation_id]
    assert [c.id for c in await reads.conversations("local", "NVDA")] == [
        senate.conversation_id
    ]  # in an answer
    assert len(await reads.conversations("local", "")) == 3
    # LIKE's wildcards are the user's text, not patterns.
    assert [c.title for c in await reads.conversations("local", "0%_s")] == ["hello 100%_sure"]
    assert [c.title for c in await reads.conversations("local", "%")] == ["hello 100%_sure"]
    assert await reads.conversations("someone-else", "aapl") == []


# --- rename -----------------------------------------------------------------------------------------


async def test_rename_saves_the_users_title_and_refuses_nonsense():
    runs = service(ScriptedModel(text("Fine.")))
    started, _ = await answer(runs, "review my portfolio")
    saved = await runs.rename_conversation(
        user_id="local", conversation_id=started.conversation_id, title="  My   holdings\u0000 check-up  "
    )
    assert saved == "My holdings check-up"
    assert (await Reads().conversation("local", started.conversation_id)).title == saved
    with pytest.raises(RunRefused, match="needs a title"):
        await runs.rename_conversation(user_id="local", conversation_id=started.conversation_id, title="   ")
    with pytest.raises(RunRefused) as other:
        await runs.rename_conversation(
            user_id="mallory", conversation_id=started.conversation_id, title="Mine now"
        )
    assert other.value.status == 404
    assert (await Reads().conversation("local", started.conversation_id)).title == saved


# --- edit and ask again ---------------------------------------------------------------------------


async def test_an_edited_question_replaces_it_and_everything_after_it():
    model = ScriptedModel(
        text("First answer."), text("Second answer."), text("The answer to the edited question.")
    )
    runs = service(model)
    first, _ = await answer(runs, "first question")
    await answer(runs, "second question", first.conversation_id)

    edited = await runs.edit(
        user_id="local",
        conversation_id=first.conversation_id,
        message_id=first.user_message_id,
        message="better question",
    )
    events = [e async for e in await runs.follow(edited.run_id)]
    assert events[-1].type == "done"
    page = await Reads().transcript("local", first.conversation_id)
    assert [(t.message.role, t.message.content.strip()) for t in page.turns] == [
        ("user", "better question"),
        ("assistant", "The answer to the edited question."),
    ]
    # The model saw the edited question alone: what it replaced is not in its history.
    sent = [m.content for m in model.calls[-1] if m.role != "system"]
    assert sent == ["better question"]

    with pytest.raises(RunRefused) as gone:
        await runs.edit(
            user_id="local",
            conversation_id=first.conversation_id,
            message_id=first.user_message_id,
            message="again",
        )
    assert gone.value.status == 404  # the replaced question is no longer there to edit


# --- export ---------------------------------------------------------------------------------------


async def test_a_conversation_exports_as_markdown_with_its_tables():
    model = ScriptedModel(
        tool_call("get_recent_senate_trades", {"limit": 3}, id="call_s"),
        text("Three trades; see [the table](resource:RID)."),
    )
    runs = service(model)
    started, events = await answer(runs, "recent senate trades")
    saved = next(e for e in events if e.type == "resource")
    # The scripted answer links the table the way models do, by its id.
    with session_scope() as session:
        message = crud.conversation_turns(
            session=session, user_id="local", conversation_id=started.conversation_id
        )[-1].message
        message.content = message.content.replace("RID", saved.resource_id)
        session.add(message)

    exported = await Reads().export(
        "local", started.conversation_id, now=datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    )
    assert exported is not None and exported.filename == "finch-recent-senate-trades.md"
    document = exported.markdown
    assert document.startswith("# recent senate trades\n\n_Exported from Finch on Nov 21, 2026 09:30 UTC._")
    assert "## You\n\nrecent senate trades" in document
    assert "## Finch\n\n_Tools: get_recent_senate_trades (" in document
    assert "see [the table](#recent-senate-trades)." in document  # the link points at the table below
    tables = document.split("## Tables", 1)[1]
    assert "### Recent Senate trades\n\n_3 rows · " in tables
    header, rule, *rows = tables.split("\n\n")[3].splitlines()
    assert header.startswith("| Traded | Member |") and rule.startswith("|:--|:--|") and len(rows) == 3
    assert await Reads().export("mallory", started.conversation_id) is None


def test_markdown_tables_escape_pipes_and_align_numbers():
    columns = [
        {"key": "name", "label": "Name", "type": "text"},
        {"key": "value", "label": "Value", "type": "money"},
    ]
    rows = [{"name": "A | B\nC", "value": 12.5}, {"name": None, "value": None}]
    assert to_markdown(columns, rows).splitlines() == [
        "| Name | Value |",
        "|:--|--:|",
        "| A \\| B C | 12.5 |",
        "|   |   |",
    ]


def test_export_names_and_anchors():
    assert (
        slug("Quote: AAPL") == "quote-aapl" and slug("NVDA price history (3mo)") == "nvda-price-history-3mo"
    )
    assert export_filename("Why NVDA dropped?!") == "finch-why-nvda-dropped.md"
    assert export_filename("???") == "finch-conversation.md"
    assert conversation_markdown("Empty", [], [], exported_at=datetime(2026, 1, 2, tzinfo=UTC)) == (
        "# Empty\n\n_Exported from Finch on Jan 02, 2026 00:00 UTC._\n"
    )


# --- the API ----------------------------------------------------------------------------------------


@pytest.fixture
def http():
    clients = []

    def connect(context) -> httpx.AsyncClient:
        api.dependency_overrides[get_context] = lambda: context
        clients.append(
            httpx.AsyncClient(transport=httpx.ASGITransport(api), base_url="http://127.0.0.1:3000")
        )
        return clients[-1]

    yield connect
    api.dependency_overrides.clear()


async def test_the_api_renames_searches_and_exports(http):
    context = build_context(get_settings(), model=ScriptedModel(text("AAPL closed at $268.40.")))
    started, _ = await answer(context.runs, "how is apple doing")
    client = http(context)
    async with client:
        renamed = await client.patch(
            f"/api/conversations/{started.conversation_id}", json={"title": "Apple check"}
        )
        assert renamed.status_code == 200 and renamed.json()["title"] == "Apple check"
        assert (await client.patch("/api/conversations/nope", json={"title": "x"})).status_code == 404
        assert (
            await client.patch(f"/api/conversations/{started.conversation_id}", json={"title": ""})
        ).status_code == 422

        found = await client.get("/api/conversations", params={"q": "268.40"})
        assert [c["title"] for c in found.json()] == ["Apple check"]
        assert (await client.get("/api/conversations", params={"q": "tesla"})).json() == []

        exported = await client.get(f"/api/conversations/{started.conversation_id}/export.md")
        assert exported.status_code == 200
        assert exported.headers["content-type"] == "text/markdown; charset=utf-8"
        assert exported.headers["content-disposition"] == (
            "attachment; filename=\"finch-apple-check.md\"; filename*=UTF-8''finch-apple-check.md"
        )
        assert exported.text.startswith("# Apple check\n") and "AAPL closed at $268.40." in exported.text
        assert (await client.get("/api/conversations/nope/export.md")).status_code == 404

        # A title in another alphabet names the file too (headers are Latin-1: it is percent-encoded).
        await client.patch(f"/api/conversations/{started.conversation_id}", json={"title": "Ελλάδα 🚀"})
        foreign = await client.get(f"/api/conversations/{started.conversation_id}/export.md")
        assert foreign.status_code == 200 and foreign.text.startswith("# Ελλάδα 🚀\n")
        assert foreign.headers["content-disposition"] == (
            "attachment; filename=\"finch.md\"; filename*=UTF-8''finch-%CE%B5%CE%BB%CE%BB%CE%AC%CE%B4%CE%B1.md"
        )
        unseen = await client.patch(
            f"/api/conversations/{started.conversation_id}", json={"title": "\u0007\n"}
        )
        assert unseen.status_code == 400 and "visible" in unseen.json()["detail"]


# --- titles from the OpenAI model -------------------------------------------------------------------


def test_a_models_title_is_cleaned_for_the_list():
    assert clean_title('Title: "Portfolio vs Senate trades".') == "Portfolio vs Senate trades"
    assert clean_title("**Why NVDA dropped**\nBecause…") == "Why NVDA dropped"
    assert clean_title("   ") == ""


async def test_the_openai_model_names_a_new_conversation_after_its_first_answer():
    with OpenAIServer() as fake:
        fake.enqueue(
            openai_text("Apple closed at $268.40, up 1.2% on the day."), openai_text("Still $268.40.")
        )
        fake.title = '"Apple\'s price today".'
        model = OpenAIChatModel(api_key="test", model="gpt-test", base_url=fake.base_url)
        runs = service(model)
        started, _ = await answer(runs, "hey, what's up with apple")
        assert started.title == "hey, what's up with apple"  # the first words, until the model names it
        title = await runs.suggested_title(started.conversation_id, wait_s=10)
        assert title == "Apple's price today"
        assert (await Reads().conversation("local", started.conversation_id)).title == "Apple's price today"
        request = fake.title_requests[0]
        assert "hey, what's up with apple" in request["messages"][1]["content"]
        assert "Apple closed at $268.40" in request["messages"][1]["content"]
        assert "tools" not in request and not request.get("stream")

        # A follow-up question in the same conversation asks for no title.
        await answer(runs, "and now?", started.conversation_id)
        assert len(fake.title_requests) == 1
        fake.assert_complete()
        await model.aclose()


async def test_a_title_never_overrides_the_users_own_or_a_failure():
    with OpenAIServer() as fake:
        fake.enqueue(openai_text("Fine."), openai_text("Fine again, slowly.", chunks=4, delay_s=0.2))
        fake.title_errors.append(http_error(500))
        model = OpenAIChatModel(api_key="test", model="gpt-test", base_url=fake.base_url, max_retries=0)
        runs = service(model)
        failed, _ = await answer(runs, "first try")
        assert await runs.suggested_title(failed.conversation_id, wait_s=10) is None
        assert (await Reads().conversation("local", failed.conversation_id)).title == "first try"

        # The user renames the conversation while its first answer is still being written.
        started = await runs.start(user_id="local", conversation_id=None, message="second try")
        await runs.rename_conversation(user_id="local", conversation_id=started.conversation_id, title="Mine")
        assert [e.type async for e in await runs.follow(started.run_id)][-1] == "done"
        assert await runs.suggested_title(started.conversation_id, wait_s=10) is None
        assert len(fake.title_requests) == 2  # asked, but its answer does not replace the user's title
        assert (await Reads().conversation("local", started.conversation_id)).title == "Mine"
        await model.aclose()


async def test_a_chat_that_began_with_hello_is_named_when_a_topic_comes_up():
    from finch_app.models.offline import OfflineChatModel

    runs = service(OfflineChatModel(token_delay_s=0))
    started, _ = await answer(runs, "hello")
    assert started.title == "Hello"
    assert await runs.suggested_title(started.conversation_id, wait_s=10) is None  # nothing to name yet
    await answer(runs, "review my portfolio", started.conversation_id)
    assert await runs.suggested_title(started.conversation_id, wait_s=10) == "Portfolio review"
    assert (await Reads().conversation("local", started.conversation_id)).title == "Portfolio review"
    # Named once: a later topic leaves it alone (the user can rename it).
    await answer(runs, "get recent senate trades", started.conversation_id)
    assert await runs.suggested_title(started.conversation_id, wait_s=10) is None
    assert (await Reads().conversation("local", started.conversation_id)).title == "Portfolio review"
