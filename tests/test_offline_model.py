"""The offline model picks tools from the user's words and writes answers from results."""

from __future__ import annotations

import json

import pytest

from finch_app.agent.loop import Agent
from finch_app.agent.model import ChatMessage, TextDelta, ToolCallRequest
from finch_app.agent.offline import HELP_TEXT, OfflineChatModel
from finch_app.agent.events import EventStamp, AssistantMessage, ToolCallComplete, ToolCallStart
from finch_app.context import build_providers
from finch_app.providers.base import Providers
from finch_app.providers.portfolio import DemoPortfolio
from finch_app.settings import get_settings
from finch_app.tools import default_registry

TOOLS = default_registry().schemas()

pytestmark = pytest.mark.usefixtures("demo_holdings")


async def plan(text: str) -> list[ToolCallRequest]:
    model = OfflineChatModel(token_delay_s=0)
    outputs = [o async for o in model.stream([ChatMessage(role="user", content=text)], TOOLS)]
    return [o for o in outputs if isinstance(o, ToolCallRequest)]


@pytest.mark.parametrize(
    ("text", "tools"),
    [
        ("review my portfolio", ["get_portfolio"]),
        ("what's trending on reddit?", ["get_reddit_trending_stocks"]),
        ("get recent senate trades", ["get_recent_senate_trades"]),
        ("latest house trades", ["get_recent_house_trades"]),
        ("what are politicians buying?", ["get_recent_senate_trades", "get_recent_house_trades"]),
        ("compare my portfolio with recent senate trades", ["get_portfolio", "get_recent_senate_trades"]),
        ("Is anything in my holdings trending on WSB?", ["get_portfolio", "get_reddit_trending_stocks"]),
    ],
)
async def test_intents_pick_the_right_tools(text, tools):
    assert [c.name for c in await plan(text)] == tools


async def test_limits_in_the_question_become_arguments():
    calls = await plan("show the top 5 trending tickers on reddit")
    assert json.loads(calls[0].arguments) == {"limit": 5}
    assert len({c.id for c in await plan("portfolio and senate and house")}) == 3


async def test_anything_else_gets_a_streamed_help_answer():
    model = OfflineChatModel(token_delay_s=0)
    outputs = [o async for o in model.stream([ChatMessage(role="user", content="tell me a joke")], TOOLS)]
    assert all(isinstance(o, TextDelta) for o in outputs) and len(outputs) > 10
    assert "".join(o.text for o in outputs) == HELP_TEXT
    assert "OPENAI_API_KEY" in HELP_TEXT


async def run_offline(message: str, providers: Providers | None = None) -> list:
    agent = Agent(
        model=OfflineChatModel(token_delay_s=0),
        registry=default_registry(),
        deps=providers or build_providers(get_settings()),
        system_prompt="",
    )
    return [e async for e in agent.run(history=[], user_message=message, stamp=EventStamp("r"), user_id="local")]


async def test_combined_answer_has_tables_overlap_and_provenance():
    events = await run_offline("compare my portfolio with recent senate trades")
    assert [e.tool_name for e in events if isinstance(e, ToolCallStart)] == ["get_portfolio", "get_recent_senate_trades"]
    answer = next(e for e in events if isinstance(e, AssistantMessage)).content
    assert "### Your portfolio" in answer and "### Recent Senate trades" in answer
    assert "### How this relates to your portfolio" in answer
    assert "sample data as of Nov 20, 2026" in answer and "not financial advice" in answer


async def test_trending_answer_lists_tickers_with_their_change():
    events = await run_offline("what's trending on reddit?")
    answer = next(e for e in events if isinstance(e, AssistantMessage)).content
    assert "### Trending on Reddit" in answer and "| 1 | **" in answer and "%" in answer


async def test_empty_portfolio_asks_to_add_holdings():
    providers = build_providers(get_settings())
    providers = Providers(market=providers.market, portfolio=DemoPortfolio(positions=[]))
    events = await run_offline("review my portfolio", providers)
    answer = next(e for e in events if isinstance(e, AssistantMessage))
    assert answer.needs_auth is True
    assert "don't have any holdings" in answer.content


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("compare AMD vs NVDA", [("compare_reddit_sentiment", {"tickers": ["AMD", "NVDA"]})]),
        ("What's the price of AAPL and $msft?", [("get_stock_quote", {"ticker": "AAPL"}), ("get_stock_quote", {"ticker": "MSFT"})]),
        ("show me NVDA over the last 6 months", [("get_price_history", {"ticker": "NVDA", "range": "6mo"})]),
        ("any insider trades at Apple?", [("search_ticker_insider_activity", {"ticker": "AAPL"})]),
        ("insider trades in my portfolio", [("get_portfolio_insider_activity", {})]),
        ("latest insider trades", [("get_recent_insider_trades", {})]),
        ("How is TSLA doing on reddit?", [("get_reddit_ticker_sentiment", {"ticker": "TSLA"})]),
        ("connect my brokerage account", [("request_brokerage_connection", {})]),
        ("How are you?", []),
    ],
)
def test_ticker_questions_pick_the_market_tools(text, expected):
    from finch_app.agent.offline import plan_tools

    assert plan_tools(text) == expected


@pytest.mark.parametrize(
    ("question", "heading"),
    [
        ("compare AMD vs NVDA", "### Reddit sentiment, side by side"),
        ("price of AAPL and MSFT", "| **MSFT** |"),
        ("NVDA over the last 30 days", "### NVDA over 1mo"),
        ("how is TSLA doing on reddit?", "### Reddit sentiment"),
        ("insider trades in my portfolio", "### Insider trades in your holdings"),
        ("insider trades at AAPL", "### Insider trades at AAPL"),
    ],
)
async def test_market_answers_are_written_from_the_tool_results(question, heading):
    events = await run_offline(question)
    assert all(e.status == "completed" for e in events if isinstance(e, ToolCallComplete))
    answer = next(e for e in events if isinstance(e, AssistantMessage)).content
    assert heading in answer and "sample data as of Nov 20, 2026" in answer
