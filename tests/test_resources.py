"""Resources: every data tool keeps its rows, announced at once; partial rows grow; CSV is safe."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from pydantic import BaseModel
from sqlmodel import select

from finch_app.agent.events import ResourceSaved, ToolCallComplete, ToolCallStart
from finch_app.agent.loop import Agent
from finch_app.agent.resources import ResourceColumn, ResourceDraft
from finch_app.agent.tools import ToolContext, ToolRegistry, tool
from finch_app.context import build_providers
from finch_app.db.engine import session_scope
from finch_app.db.models import Resource
from finch_app.reads import Reads
from finch_app.runs import RunService
from finch_app.settings import get_settings
from finch_app.tables import query_rows, to_csv
from finch_app.tools import default_registry
from tests.fakes.scripted_model import ScriptedModel, text, tool_call, tool_calls
from tests.support import answer, install_context

pytestmark = [pytest.mark.usefixtures("demo_holdings"), pytest.mark.persistence]


def make_service(model: ScriptedModel, registry: ToolRegistry | None = None) -> RunService:
    settings = get_settings()
    agent = Agent(
        model=model, registry=registry or default_registry(), deps=build_providers(settings), system_prompt=""
    )
    return RunService(agent=agent, settings=settings)


async def test_each_data_tool_keeps_a_resource_announced_before_its_completion():
    model = ScriptedModel(
        tool_calls(
            ("get_recent_senate_trades", {"limit": 50}, "s"),
            ("get_portfolio", {}, "p"),
            ("get_price_history", {"ticker": "NVDA", "range": "1mo"}, "h"),
            ("get_reddit_trending_stocks", {"limit": 5}, "r"),
        ),
        text("Done."),
    )
    service = make_service(model)
    turn, events = await answer(service, "lots")
    saved = {e.tool_call_id: e for e in events if isinstance(e, ResourceSaved)}
    assert (
        saved["s"].title == "Recent Senate trades"
        and saved["s"].row_count == 50
        and saved["s"].kind == "senate_trades"
    )
    assert saved["p"].kind == "holdings" and saved["p"].row_count == 8
    assert saved["h"].kind == "price_history" and saved["r"].row_count == 5
    for call_id, event in saved.items():
        complete = next(e for e in events if isinstance(e, ToolCallComplete) and e.tool_call_id == call_id)
        assert events.index(event) < events.index(complete)
        assert complete.resource_id == event.resource_id
    reads = Reads()
    listed = await reads.resources("local", turn.conversation_id)
    assert {r.title for r in listed} == {
        "Recent Senate trades",
        "Your holdings",
        "NVDA price history (1mo)",
        "Trending on Reddit",
    }
    senate = await reads.resource("local", saved["s"].resource_id)
    assert len(senate.rows) == 50 and senate.columns[0]["key"] == "transaction_date"
    assert senate.source and "sample" in senate.source
    assert await reads.resource("someone-else", saved["s"].resource_id) is None  # scoped to its owner


async def test_partial_rows_grow_while_the_tool_runs_and_a_stop_keeps_them():
    gates = [asyncio.Event() for _ in range(3)]

    @tool
    async def batches(ctx: ToolContext) -> dict:
        """Publishes rows in three batches, each after the test opens a gate."""
        rows: list[dict] = []
        for index, gate in enumerate(gates):
            await gate.wait()
            rows += [{"n": index * 10 + i} for i in range(10)]
            await ctx.publish_rows(
                ResourceDraft(
                    kind="test",
                    title="Batches",
                    columns=[ResourceColumn(key="n", label="N", type="int")],
                    rows=list(rows),
                )
            )
        return {}

    service = make_service(ScriptedModel(tool_call("batches", {}, id="b")), ToolRegistry.of([batches]))
    turn = await service.start(user_id="local", conversation_id=None, message="go")
    counts = []
    async for event in await service.follow(turn.run_id):
        if isinstance(event, ToolCallStart):
            gates[0].set()
        if isinstance(event, ResourceSaved):
            counts.append((event.row_count, event.partial))
            if len(counts) == 1:
                gates[1].set()
            if len(counts) == 2:
                await service.stop(turn.run_id, wait=True)  # the user stops the run before the third batch
    assert counts == [(10, True), (20, True)]
    with session_scope() as session:
        kept = session.exec(select(Resource)).one()
        assert kept.row_count == 20 and kept.partial is True


def test_csv_export_quotes_unicode_and_neutralises_formulas():
    resource = Resource(
        user_id="u",
        conversation_id="c",
        run_id="r",
        tool_call_id="t",
        kind="k",
        title="T",
        columns=[{"key": "name", "label": "Name, full"}, {"key": "amount", "label": "Amount"}],
        rows=[
            {"name": 'Zoë "Z" Müller', "amount": 1.5},
            {"name": "=cmd|' /C calc'!A0", "amount": None},
            {"name": "+SUM(A1)", "amount": -3},
            {"name": "@HYPERLINK(x)", "amount": 0},
        ],
    )
    text = to_csv(resource.columns, resource.rows)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Name, full", "Amount"]
    assert rows[1] == ['Zoë "Z" Müller', "1.5"]
    assert rows[2][0] == "'=cmd|' /C calc'!A0" and rows[2][1] == ""
    assert rows[3] == ["'+SUM(A1)", "-3"]
    assert rows[4][0].startswith("'@")


def test_rows_filter_and_sort_with_blanks_last():
    rows = [{"t": "NVDA", "v": 3}, {"t": "AAPL", "v": None}, {"t": "AMD", "v": 10}, {"t": "MSFT", "v": 1}]
    assert [r["t"] for r in query_rows(rows, sort_key="v")] == ["MSFT", "NVDA", "AMD", "AAPL"]
    assert [r["t"] for r in query_rows(rows, sort_key="v", descending=True)] == [
        "AMD",
        "NVDA",
        "MSFT",
        "AAPL",
    ]
    assert [r["t"] for r in query_rows(rows, filter_text="ap")] == ["AAPL"]
    assert [r["t"] for r in query_rows(rows, filter_text="10")] == ["AMD"]


async def test_resource_routes_list_read_and_export_only_for_their_owner():
    import httpx

    from finch_app.api import create_api
    from finch_app.api.deps import current_user_id, current_user_or_browser_id

    model = ScriptedModel(tool_call("get_recent_house_trades", {"limit": 12}, id="h"), text("See the table."))
    context = install_context(model)
    turn, events = await answer(context.runs, "house trades")
    resource_id = next(e.resource_id for e in events if isinstance(e, ResourceSaved))

    app = create_api()
    user = {"id": "local"}
    app.dependency_overrides[current_user_id] = lambda: user["id"]
    app.dependency_overrides[current_user_or_browser_id] = lambda: user["id"]  # the CSV download's
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://localhost:3000"
    ) as http:
        listed = (await http.get(f"/api/conversations/{turn.conversation_id}/resources")).json()
        assert [(r["id"], r["title"], r["row_count"], r["kind"]) for r in listed] == [
            (resource_id, "Recent House trades", 12, "house_trades")
        ]
        detail = (await http.get(f"/api/resources/{resource_id}")).json()
        assert len(detail["rows"]) == 12 and detail["columns"][0] == {
            "key": "transaction_date",
            "label": "Traded",
            "type": "date",
        }
        exported = await http.get(f"/api/resources/{resource_id}.csv")
        assert exported.headers["content-type"].startswith("text/csv")
        assert 'filename="Recent House trades.csv"' in exported.headers["content-disposition"]
        assert len(list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))) == 13

        user["id"] = "mallory"
        for path in (
            f"/api/resources/{resource_id}",
            f"/api/resources/{resource_id}.csv",
            f"/api/conversations/{turn.conversation_id}/resources",
        ):
            response = await http.get(path)
            assert response.status_code == 404, path
            assert response.json()["detail"] in {"Resource not found", "Conversation not found"}


async def test_answers_link_to_the_saved_tables():
    from finch_app.agent.events import AssistantMessage
    from finch_app.models.offline import OfflineChatModel
    from finch_app.views import link_resources

    settings = get_settings()
    service = RunService(
        agent=Agent(
            model=OfflineChatModel(token_delay_s=0),
            registry=default_registry(),
            deps=build_providers(settings),
            system_prompt="",
        ),
        settings=settings,
    )
    turn, events = await answer(service, "get recent senate trades")
    resource_id = next(e.resource_id for e in events if isinstance(e, ResourceSaved))
    content = next(e for e in events if isinstance(e, AssistantMessage)).content
    assert f"[Recent Senate trades](resource:{resource_id})" in content
    assert f"[Recent Senate trades](/c/{turn.conversation_id}?r={resource_id})" in link_resources(
        content, turn.conversation_id
    )
    assert (
        link_resources("[x](javascript:alert(1))", "c1") == "[x](javascript:alert(1))"
    )  # only resource: links change


async def test_rows_published_from_parallel_tasks_keep_one_resource_that_ends_complete():
    @tool
    async def fan_out(ctx: ToolContext) -> dict:
        """Publishes rows from eight lookups at once, like a portfolio-wide search."""
        found: list[dict] = []

        async def lookup(n: int) -> None:
            await asyncio.sleep(0.001 * (n % 3))
            found.append({"n": n})
            draft = ResourceDraft(
                kind="test",
                title="Fan-out",
                columns=[ResourceColumn(key="n", label="N", type="int")],
                rows=list(found),
            )
            await ctx.publish_rows(draft)

        await asyncio.gather(*(lookup(n) for n in range(8)))
        return _Rows(rows=sorted(found, key=lambda r: r["n"]))

    service = make_service(
        ScriptedModel(tool_call("fan_out", {}, id="f"), text("done")), ToolRegistry.of([fan_out])
    )
    turn, events = await answer(service, "go")
    saved = [e for e in events if isinstance(e, ResourceSaved)]
    assert len({e.resource_id for e in saved}) == 1, "every batch updates the one resource"
    assert saved[-1].partial is False and saved[-1].row_count == 8
    with session_scope() as session:
        kept = session.exec(select(Resource)).one()
        assert (kept.row_count, kept.partial) == (8, False)


class _Rows(BaseModel):
    rows: list[dict]

    def resource(self) -> ResourceDraft:
        return ResourceDraft(
            kind="test",
            title="Fan-out",
            columns=[ResourceColumn(key="n", label="N", type="int")],
            rows=self.rows,
        )
