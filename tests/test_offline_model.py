"""The offline model, driven through the real agent loop and tools on the bundled sample data.

Each case is a conversation: earlier questions (answered for real, their tool calls and
shortened results replayed as history, as the chat service does) and the question under
test. It asserts which tools were called with which arguments, and the facts the answer
states — figures, dates, names — not its wording.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from finch_app.agent.events import AssistantMessage, EventStamp, ToolCallComplete, ToolCallStart
from finch_app.agent.loop import Agent
from finch_app.agent.model import ChatMessage, TextDelta, ToolCallRequest
from finch_app.agent.resources import ResourceDraft, SavedResource
from finch_app.context import build_providers
from finch_app.models.offline import OfflineChatModel, tickers, words
from finch_app.models.offline.replies import MENU
from finch_app.providers.base import Position, Providers
from finch_app.providers.portfolio import DemoPortfolio
from finch_app.providers.sample import SAMPLE_DIR, SampleMarketData
from finch_app.settings import get_settings
from finch_app.tools import default_registry
from tests.support import replay

pytestmark = pytest.mark.usefixtures("demo_holdings")

MENU_MARKER = "Here's what I can look up"

"""Earlier turns' tool results come back shortened (the chat service's history does this)."""
SAMPLE = "sample data as of Nov 20, 2026"
DEMO = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "JPM", "XOM", "VOO")


class MemorySink:
    """Keeps resources in memory so answers can link them, like the database sink does."""

    def __init__(self) -> None:
        self.saved: dict[str, ResourceDraft] = {}

    async def save(
        self, *, tool_call_id: str, draft: ResourceDraft, partial: bool, resource_id: str | None
    ) -> SavedResource:
        resource_id = resource_id or f"res{len(self.saved) + 1}"
        self.saved[resource_id] = draft
        return SavedResource(
            resource_id=resource_id,
            title=draft.title,
            kind=draft.kind,
            row_count=len(draft.rows),
            partial=partial,
        )


@dataclass
class Turn:
    question: str
    calls: list[tuple[str, dict[str, Any]]]
    statuses: list[str]
    answer: str
    needs_auth: bool


class Conversation:
    """A chat with the offline model: each question runs the real agent loop, earlier turns as history."""

    def __init__(self, providers: Providers | None = None) -> None:
        self.agent = Agent(
            model=OfflineChatModel(token_delay_s=0),
            registry=default_registry(),
            deps=providers or build_providers(get_settings()),
            system_prompt="",
        )
        self.history: list[ChatMessage] = []
        self.sink = MemorySink()

    async def ask(self, question: str) -> Turn:
        events = [
            e
            async for e in self.agent.run(
                history=list(self.history),
                user_message=question,
                stamp=EventStamp("r"),
                user_id="local",
                resources=self.sink,
            )
        ]
        starts = [e for e in events if isinstance(e, ToolCallStart)]
        completes = {e.tool_call_id: e for e in events if isinstance(e, ToolCallComplete)}
        final = next(e for e in events if isinstance(e, AssistantMessage))
        self.history += replay(question, events)
        return Turn(
            question=question,
            calls=[(s.tool_name, dict(s.arguments)) for s in starts],
            statuses=[completes[s.tool_call_id].status for s in starts],
            answer=final.content,
            needs_auth=final.needs_auth,
        )


@dataclass(frozen=True)
class Case:
    question: str
    tools: list[tuple[str, dict[str, Any]]]
    """Every tool call, in order, with the arguments that must be among its validated arguments."""
    facts: list[str] = field(default_factory=list)
    """Text the answer must contain (case-insensitive), or a regex when it starts with "re:"."""
    absent: list[str] = field(default_factory=list)
    before: tuple[str, ...] = ()
    """Earlier questions of the same conversation."""


def c(
    question: str,
    tools: list[tuple[str, dict[str, Any]]],
    facts: list[str] = (),
    absent: list[str] = (),
    before: tuple[str, ...] = (),
) -> Case:  # noqa: E501
    return Case(question, list(tools), list(facts), list(absent), before)


def t(name: str, **arguments: Any) -> tuple[str, dict[str, Any]]:
    return (name, arguments)


def why_tools(symbol: str, window: str = "3mo") -> list[tuple[str, dict[str, Any]]]:
    return [
        t("get_price_history", ticker=symbol, range=window),
        t("search_ticker_insider_activity", ticker=symbol),
        t("get_reddit_ticker_sentiment", ticker=symbol),
        t("get_recent_senate_trades", limit=100),
        t("get_recent_house_trades", limit=100),
    ]


def advice_tools(symbol: str) -> list[tuple[str, dict[str, Any]]]:
    return [t("get_portfolio"), *why_tools(symbol)]


NO_TOOLS: list[tuple[str, dict[str, Any]]] = []

CASES = [
    # --- plain questions -------------------------------------------------------------------------
    c(
        "review my portfolio",
        [t("get_portfolio")],
        [
            "$68,301",
            "+73.0%",
            "**NVDA** has gained the most (+207.0%)",
            "**VOO** is your largest position at 19.9%",
            "| **AAPL** |",
            SAMPLE,
            "[Your holdings](resource:",
        ],
    ),
    c(
        "how are my holdings doing?",
        [t("get_portfolio")],
        ["8 holdings", "$68,301", "XOM** the least (+12.1%)"],
    ),
    c(
        "what's trending on reddit?",
        [t("get_reddit_trending_stocks")],
        [
            "**SPY** is the most-mentioned ticker (1,184 mentions",
            "**PLTR** (+59.2%",
            "| 1 | **SPY** |",
            "[Trending on Reddit](resource:",
        ],
    ),
    c(
        "show the top 5 trending tickers on wsb",
        [t("get_reddit_trending_stocks", limit=5)],
        ["| 5 | **AAPL** |"],
        ["| 6 |"],
    ),
    c(
        "get recent senate trades",
        [t("get_recent_senate_trades", limit=20)],
        [
            "20 trades made Nov 2 – Nov 17",
            "13 purchases, 6 sales",
            "Franklin D Osei bought NEE for $250,001 – $500,000 on Nov 16",
            "[Recent Senate trades](resource:",
            "Senate Stock Watcher",
        ],
    ),
    c(
        "latest house trades",
        [t("get_recent_house_trades", limit=20)],
        ["20 trades made Oct 20 – Nov 18", "Most traded: **NVDA** (8)"],
    ),
    c("last 5 senate trades", [t("get_recent_senate_trades", limit=5)], ["5 trades made Nov 11 – Nov 17"]),
    c(
        "what are politicians buying?",
        [t("get_recent_senate_trades", limit=100), t("get_recent_house_trades", limit=100)],
        [
            "42 purchases",
            "43 purchases",
            "Most bought: **AAPL** (8)",
            "Most bought: **NVDA** (13)",
            "Bought in both chambers",
        ],
        ["| Sell |"],
    ),
    c(
        "compare my portfolio with recent senate trades",
        [t("get_portfolio"), t("get_recent_senate_trades", limit=100)],
        [
            "All 8 of your holdings were traded by senators** between Sep 1 and Nov 17",
            "AAPL (13 trades)",
            "| **VOO** | James A Whitaker | Buy | Nov 13 |",
            "### Your portfolio vs Senate trades",
            SAMPLE,
            "not financial advice",
        ],
        ["### Your portfolio\n"],
    ),
    c(
        "which of my stocks did house members trade?",
        [t("get_portfolio"), t("get_recent_house_trades", limit=100)],
        [
            "All 8 of your holdings were traded by House members** between Sep 1 and Nov 18",
            "NVDA (19 trades)",
        ],
    ),
    c(
        "Is anything in my holdings trending on WSB?",
        [t("get_portfolio"), t("get_reddit_trending_stocks", limit=50)],
        ["All 8 of your holdings are among the 40 most-discussed tickers", "NVDA (#2)", "| **VOO** | #38 |"],
    ),
    c(
        "insider trades in my portfolio",
        [t("get_portfolio_insider_activity")],
        ["Insiders filed at 2 of your 8 holdings (AAPL and NVDA)", "8 Form 4 transactions", "$14.2M"],
    ),
    c(
        "latest insider trades",
        [t("get_recent_insider_trades")],
        ["13 Form 4 transactions", "Kenji Tanaka-Ross", "**TSLA**"],
    ),
    c(
        "any insider trades at Apple?",
        [t("search_ticker_insider_activity", ticker="AAPL")],
        [
            "### Insider trades at AAPL",
            "5 Form 4 transactions, Oct 1 – Nov 14",
            "1 open-market sale",
            "| Nov 14 | Marit J Halvorsen | SVP, Worldwide Retail | Open-market sale | $4.8M |",
        ],
    ),
    c(
        "price of AAPL and MSFT",
        [t("get_stock_quote", ticker="AAPL"), t("get_stock_quote", ticker="MSFT")],
        ["| **AAPL** | $268.40 |", "| **MSFT** | $509.70 |"],
    ),
    c(
        "show me NVDA over the last 6 months",
        [t("get_price_history", ticker="NVDA", range="6mo")],
        [
            # The sample covers less than was asked: the heading and the answer say what it covers.
            "### NVDA, Aug 28 – Nov 20, 2026",
            "covers only Aug 28 – Nov 20, 2026, less than the 6 months you asked for",
            "measured from Aug 28",
            "$187.90",
            "down 13.9% from $218.36 on Aug 28",
            "High $229.73 on Oct 9",
            "[NVDA price history, Aug 28 – Nov 20, 2026](resource:",
        ],
        ["over 6 months", "(6mo)"],
    ),
    c(
        "NVDA over the last 3 months",
        [t("get_price_history", ticker="NVDA", range="3mo")],
        ["### NVDA over 3 months", "[NVDA price history (3mo)](resource:"],
    ),
    c(
        "How is TSLA doing on reddit?",
        [t("get_reddit_ticker_sentiment", ticker="TSLA")],
        ["**TSLA** is **#3** on Reddit with 953 mentions"],
    ),
    c(
        "compare AMD vs NVDA",
        [
            t("get_price_history", ticker="AMD"),
            t("get_price_history", ticker="NVDA"),
            t("compare_reddit_sentiment", tickers=["AMD", "NVDA"]),
        ],
        [
            "### AMD vs NVDA",
            "**AMD** rose 4.2% and **NVDA** fell 13.9%",
            "1,080 mentions in 24 h vs 736 for AMD",
            "| **NVDA** | $187.90 | -13.9% | #2 |",
        ],
    ),
    c(
        "connect my brokerage account",
        [t("request_brokerage_connection")],
        ["isn't set up on this Finch", "import a broker CSV"],
        ["not financial advice"],
    ),
    c(
        "trending on reddit and recent house trades",
        [t("get_reddit_trending_stocks"), t("get_recent_house_trades", limit=20)],
        ["### Trending on Reddit", "### Recent House trades"],
    ),
    c(
        "how's the market today?",
        [t("get_stock_quote", ticker="SPY"), t("get_price_history", ticker="SPY", range="5d")],
        ["**SPY** last closed at **$671.90**", "up 1.0% on the day"],
    ),
    # --- tickers written every way ---------------------------------------------------------------
    c(
        "price of BRK.B",
        [
            t("get_stock_quote", ticker="BRK-B"),
            t("get_reddit_ticker_sentiment", ticker="BRK.B"),
            t("get_recent_senate_trades", limit=100),
            t("get_recent_house_trades", limit=100),
        ],
        [
            "no price data for **BRK.B** (Berkshire Hathaway Class B)",
            "senators traded it twice (2 purchases)",
            "Catherine L Holloway (Senate) bought $100,001 – $250,000 on Nov 6",
            "not among the tickers Reddit is ranking",
        ],
        ["not found"],
    ),
    c(
        "brk-b quote",
        [
            t("get_stock_quote", ticker="BRK-B"),
            t("get_reddit_ticker_sentiment", ticker="BRK.B"),
            t("get_recent_senate_trades", limit=100),
            t("get_recent_house_trades", limit=100),
        ],
        ["**BRK.B**"],
    ),
    c(
        "$brk.b insider trades",
        [t("search_ticker_insider_activity", ticker="BRK-B")],
        [
            "### Insider trades at BRK.B",
            "No recent Form 4 transactions",
            "Form 4 filings of AAPL, NVDA, TSLA only",
        ],
    ),
    c(
        "what's $nvda trading at?",
        [t("get_stock_quote", ticker="NVDA")],
        ["**NVDA** last closed at **$187.90** on Nov 20, 2026", "up 3.8%"],
    ),
    c(
        "nvda",
        [t("get_stock_quote", ticker="NVDA"), t("get_price_history", ticker="NVDA", range="1mo")],
        [
            "$187.90",
            "Over the past 1 month (Oct 21 – Nov 20) it is -10.1%",
            "[NVDA price history (1mo)](resource:",
        ],
    ),
    c(
        "how's nvidia doing?",
        [t("get_stock_quote", ticker="NVDA"), t("get_price_history", ticker="NVDA", range="1mo")],
        ["$187.90"],
    ),
    c("apple stock price", [t("get_stock_quote", ticker="AAPL")], ["$268.40"]),
    c(
        "TSLA, amd and Palantir prices?",
        [
            t("get_stock_quote", ticker="TSLA"),
            t("get_stock_quote", ticker="AMD"),
            t("get_stock_quote", ticker="PLTR"),
        ],
        ["$412.30", "$231.70", "$176.50"],
    ),
    c("WHY DID NVDA DROP", why_tools("NVDA"), ["down 18.2% from its Oct 9 high"]),
    c(
        "what's the price of APPL?",
        [t("get_stock_quote", ticker="APPL")],
        ["couldn't find **APPL**", "did you mean **AAPL** (Apple)"],
    ),
    c("GOOG price", [t("get_stock_quote", ticker="GOOG")], ["did you mean **GOOGL**"]),
    c(
        "facebook insider trades",
        [t("search_ticker_insider_activity", ticker="META")],
        ["### Insider trades at META"],
    ),
    c(
        "the s&p 500 over the last month",
        [t("get_price_history", ticker="SPY", range="1mo")],
        ["### SPY over 1 month"],
    ),
    c("why did nvdia drop?", NO_TOOLS, ['"nvdia"', "did you mean **NVDA** (NVIDIA)"]),
    # --- "why" and "should I" ---------------------------------------------------------------------
    c(
        "why did NVDA drop?",
        why_tools("NVDA"),
        [
            "**NVDA is down 18.2% from its Oct 9 high** — $229.73 then, $187.90",
            "low: $174.63 on Nov 10",
            "-13.9%",
            "2 Form 4 transactions during the slide (Oct 9 – Nov 20)",
            "Kenji Tanaka-Ross (President and CEO) sold 75,000 shares for $14.2M on Nov 17",
            "senators traded it 4 times (2 purchases and 2 sales)",
            "House members traded it 10 times (8 purchases and 2 sales)",
            "#2 by mentions",
            "1,080",
            "no news source",
            "SEC EDGAR, sample data as of Nov 20, 2026",
            "ApeWisdom, sample data as of Nov 20, 2026",
        ],
        [MENU_MARKER, "OPENAI_API_KEY"],
    ),
    c(
        "why did SPY drop?",
        why_tools("SPY"),
        ["### SPY: the move, and what happened around it", "**SPY didn't drop**", "$671.90"],
        ["the slide"],
    ),
    c(
        "why is TSLA up so much?",
        why_tools("TSLA"),
        ["**TSLA is up 27.5% from its Sep 24 low**", "$323.41", "no news source"],
    ),
    c("why did AAPL fall today?", why_tools("AAPL", "5d"), ["AAPL"]),
    c(
        "what happened to palantir?",
        why_tools("PLTR"),
        ["**PLTR closed at $176.50 on Nov 20", "no news source"],
    ),
    c("any news on AMD?", why_tools("AMD"), ["no news source", "#6 by mentions"]),
    c(
        "should I sell NVDA?",
        advice_tools("NVDA"),
        [
            "can't tell you whether to sell NVDA",
            "55 shares of NVDA** at an average cost of $61.20",
            "+207.0%",
            "15.1% of your portfolio",
            "18.2% below its Oct 9 high of $229.73",
            "Yahoo Finance, sample data as of Nov 20, 2026",
            "[Your holdings](resource:",
            "[Insider trades: NVDA](resource:",
            "not financial advice",
        ],
    ),
    c(
        "should I buy TSLA?",
        advice_tools("TSLA"),
        ["can't tell you whether to buy TSLA", "you don't hold **TSLA**", "1 open-market purchase"],
    ),
    c("is AAPL a good buy right now?", advice_tools("AAPL"), ["AAPL: what to weigh", "40 shares of AAPL"]),
    c("will NVDA go up?", advice_tools("NVDA"), ["can't tell you whether to buy or sell NVDA"]),
    c(
        "what stock should I buy?",
        [
            t("get_reddit_trending_stocks", limit=10),
            t("get_recent_senate_trades", limit=100),
            t("get_recent_house_trades", limit=100),
        ],
        ["can't pick stocks", "AAPL (8 purchases)", "NVDA (13 purchases)", "SPY (1,184 mentions)"],
    ),
    # --- greetings, thanks, help, off-topic --------------------------------------------------------
    c("hi", NO_TOOLS, ["Hi! I'm Finch"], [MENU_MARKER, "OPENAI_API_KEY"]),
    c("Good morning!", NO_TOOLS, ["Finch"], [MENU_MARKER]),
    c("thanks!", NO_TOOLS, ["You're welcome"], [MENU_MARKER]),
    c("thank you, that was helpful", NO_TOOLS, ["You're welcome"], before=("review my portfolio",)),
    c(
        "what's the weather in Paris?",
        NO_TOOLS,
        ["That's outside what I can look up", 're:\\*"[^"]+"\\* or \\*"[^"]+"\\*'],
        [MENU_MARKER, "OPENAI_API_KEY"],
    ),
    c("tell me a joke", NO_TOOLS, ["outside what I can look up"], [MENU_MARKER]),
    c(
        "will the fed cut rates?",
        NO_TOOLS,
        ["outside what I can look up", "no news, forecasts or economic data"],
    ),
    c(
        "what can you do?",
        NO_TOOLS,
        [MENU_MARKER, "compare my portfolio with recent Senate trades", "OPENAI_API_KEY"],
    ),
    # --- follow-ups ----------------------------------------------------------------------------------
    c(
        "and AMD?",
        why_tools("AMD"),
        ["AMD is down 4.1% from its Nov 17 high", "no news source"],
        before=("why did NVDA drop?",),
    ),
    c(
        "what about the House?",
        [t("get_portfolio"), t("get_recent_house_trades", limit=100)],
        ["### Your portfolio vs House trades", "All 8 of your holdings were traded by House members"],
        before=("compare my portfolio with recent senate trades",),
    ),
    c(
        "show that as a chart",
        [t("get_price_history", ticker="NVDA", range="1mo")],
        ["opens it as a chart", "[NVDA price history (1mo)](resource:"],
        ["| Date | Close |"],
        before=("price of NVDA",),
    ),
    c(
        "chart it",
        [t("get_recent_senate_trades", limit=20)],
        ["chart of trades per week", "[Recent Senate trades](resource:"],
        before=("get recent senate trades",),
    ),
    c(
        "only purchases",
        [t("get_recent_senate_trades", limit=100)],
        ["### Senate purchases", "42 purchases"],
        ["| Sell |"],
        before=("get recent senate trades",),
    ),
    c(
        "last month only",
        [t("get_recent_senate_trades", limit=100)],
        ["### Senate purchases, last month", "21 purchases made Oct 22 – Nov 16"],
        ["| Sell |", "| Sep", "| Oct 1"],
        before=("get recent senate trades", "only purchases"),
    ),
    c(
        "only purchases",
        [t("get_portfolio"), t("get_recent_senate_trades", limit=100)],
        ["### Your portfolio vs Senate purchases", "were bought by senators"],
        before=("compare my portfolio with recent senate trades",),
    ),
    c(
        "only sales",
        [t("get_recent_house_trades", limit=100)],
        ["34 sales"],
        ["| Buy |"],
        before=("latest house trades",),
    ),
    c("help", NO_TOOLS, ["As above"], [MENU_MARKER], before=("what can you do?",)),
    c(
        "what's the meaning of life?",
        NO_TOOLS,
        ["outside what I can look up"],
        [MENU_MARKER],
        before=("tell me a joke",),
    ),
    c(
        "yes",
        [t("get_stock_quote", ticker="AAPL")],
        ["**AAPL** last closed at **$268.40**"],
        before=("what's the price of APPL?",),
    ),
    c("yes", why_tools("NVDA"), ["down 18.2% from its Oct 9 high"], before=("why did nvdia drop?",)),
    c(
        "what about nvidia?",
        [t("search_ticker_insider_activity", ticker="NVDA")],
        ["### Insider trades at NVDA", "3 Form 4 transactions"],
        before=("insider trades at apple",),
    ),
    c(
        "what about Apple?",
        advice_tools("AAPL"),
        ["can't tell you whether to sell AAPL"],
        before=("should I sell NVDA?",),
    ),
    c(
        "and GME?",
        [t("get_reddit_ticker_sentiment", ticker="GME")],
        ["**GME** is **#7** on Reddit"],
        before=("how is TSLA doing on reddit?",),
    ),
    c(
        "what about the House?",
        [t("get_recent_house_trades", limit=100)],
        ["### House trades of NVDA", "19 trades"],
        before=("why did NVDA drop?",),
    ),
    c(
        "what about insiders?",
        [t("search_ticker_insider_activity", ticker="NVDA")],
        ["### Insider trades at NVDA"],
        before=("NVDA over the last 3 months",),
    ),
    c("NVDA", why_tools("NVDA"), ["down 18.2% from its Oct 9 high"], before=("why did it drop?",)),
    c("why did it drop?", NO_TOOLS, ["Which stock?", "no news source"]),
    c(
        "should I buy it?",
        advice_tools("TSLA"),
        ["can't tell you whether to buy TSLA"],
        before=("how is TSLA doing on reddit?",),
    ),
]


def _ids(case: Case) -> str:
    prefix = " → ".join(case.before)
    return (prefix + " → " if prefix else "") + case.question


@pytest.mark.parametrize("case", CASES, ids=[_ids(x) for x in CASES])
async def test_phrasings(case: Case) -> None:
    chat = Conversation()
    for earlier in case.before:
        await chat.ask(earlier)
    turn = await chat.ask(case.question)
    assert [name for name, _ in turn.calls] == [name for name, _ in case.tools], turn.answer
    for (name, got), (_, wanted) in zip(turn.calls, case.tools, strict=True):
        assert {k: got.get(k) for k in wanted} == wanted, (name, got)
    lowered = turn.answer.lower()
    for fact in case.facts:
        if fact.startswith("re:"):
            assert re.search(fact[3:], turn.answer), (fact, turn.answer)
        else:
            assert fact.lower() in lowered, (fact, turn.answer)
    for text in case.absent:
        assert text.lower() not in lowered, (text, turn.answer)


def test_the_table_covers_at_least_sixty_phrasings() -> None:
    assert len({(x.before, x.question) for x in CASES}) >= 60


# --- the comparison's summary sentence (golden) ------------------------------------------------


async def test_golden_summary_of_the_demo_portfolio_against_each_chamber() -> None:
    chat = Conversation()
    senate = await chat.ask("compare my portfolio with recent senate trades")
    assert (
        "**All 8 of your holdings were traded by senators** between Sep 1 and Nov 17: "
        "AAPL (13 trades), MSFT (9), NVDA (8), "
        "VOO (6), GOOGL (6), JPM (5), XOM (5) and AMZN (4)."
    ) in senate.answer
    house = await chat.ask("what about the House?")
    assert (
        "**All 8 of your holdings were traded by House members** between Sep 1 and Nov 18: "
        "NVDA (19 trades), AAPL (7), "
        "MSFT (7), GOOGL (7), AMZN (3), VOO (2), JPM (2) and XOM (2)."
    ) in house.answer


async def test_golden_summary_when_only_some_holdings_were_traded() -> None:
    providers = build_providers(get_settings())
    positions = [
        Position("AAPL", "Apple", 10, 150),
        Position("TSLA", "Tesla", 5, 200),
        Position("PLTR", "Palantir", 20, 20),
        Position("NFLX", "Netflix", 2, 400),
    ]
    chat = Conversation(Providers(market=providers.market, portfolio=DemoPortfolio(positions)))
    senate = await chat.ask("compare my portfolio with recent senate trades")
    assert (
        "**2 of your 4 holdings were traded by senators** between Sep 1 and Nov 17: "
        "AAPL (13 trades) and TSLA (1). "
        "Not traded: PLTR and NFLX."
    ) in senate.answer
    bought = await chat.ask("only purchases")
    assert (
        "**1 of your 4 holdings was bought by senators** between Sep 1 and Nov 16: AAPL (8 purchases)."
        in bought.answer
    )


# --- what the model does with the conversation --------------------------------------------------


async def test_no_holdings_asks_to_add_them_and_shows_nobody_elses() -> None:
    providers = build_providers(get_settings())
    chat = Conversation(Providers(market=providers.market, portfolio=DemoPortfolio(positions=[])))
    review = await chat.ask("review my portfolio")
    assert review.needs_auth is True
    assert "don't have any holdings" in review.answer
    assert not any(symbol in review.answer for symbol in DEMO)
    compare = await chat.ask("compare my portfolio with recent senate trades")
    assert compare.needs_auth is True and "don't have any holdings" in compare.answer
    assert "### Recent Senate trades" in compare.answer


async def test_the_menu_is_never_shown_twice() -> None:
    chat = Conversation()
    answers = [
        (await chat.ask(q)).answer
        for q in ("what can you do?", "what's the weather?", "help", "tell me a joke", "hi")
    ]
    assert sum(MENU_MARKER in a for a in answers) == 1
    assert all(len(a) < 400 for a in answers[1:])


async def test_a_follow_up_reads_the_tool_calls_of_a_turn_another_model_answered() -> None:
    chat = Conversation()
    chat.history = [
        ChatMessage(role="user", content="the usual, please"),
        ChatMessage(
            role="assistant",
            tool_calls=[ToolCallRequest(id="c1", name="get_recent_house_trades", arguments='{"limit": 20}')],
        ),
        ChatMessage(
            role="tool",
            tool_call_id="c1",
            name="get_recent_house_trades",
            content='{"chamber": "house", "trades": [ … shortened',
        ),
        ChatMessage(role="assistant", content="Here are the latest House trades."),
    ]
    turn = await chat.ask("only purchases")
    assert turn.calls == [("get_recent_house_trades", {"limit": 100})]
    assert "43 purchases" in turn.answer


async def test_names_from_the_data_stay_text_in_the_markdown(tmp_path) -> None:
    """A data source's names are escaped: they cannot become links, images or markup in an answer."""
    directory = tmp_path / "sample_data"
    shutil.copytree(SAMPLE_DIR, directory)
    reddit = json.loads((directory / "apewisdom_all-stocks_page1.json").read_text(encoding="utf-8"))
    reddit["results"][0]["name"] = "[click](javascript:alert(1)) <img src=x onerror=alert(2)>"
    (directory / "apewisdom_all-stocks_page1.json").write_text(json.dumps(reddit), encoding="utf-8")
    house = json.loads((directory / "house_all_transactions.json").read_text(encoding="utf-8"))
    for row in house:
        row["representative"] = "**Loud** [Member](https://evil.example)"
    (directory / "house_all_transactions.json").write_text(json.dumps(house), encoding="utf-8")
    chat = Conversation(
        Providers(market=SampleMarketData(latency_ms=0, directory=directory), portfolio=DemoPortfolio())
    )
    answer = (await chat.ask("trending on reddit and recent house trades")).answer
    # Whole in the cell (the page cuts it to the column and shows it all on hover or tap), escaped.
    assert "| 1 | **SPY** | \\[click\\](javascript:alert(1)) \\<img src=x onerror=alert(2)\\> |" in answer
    assert "\\*\\*Loud\\*\\* \\[Member\\](https://evil.example)" in answer
    assert "[click](" not in answer and "<img" not in answer.replace("\\<img", "")
    assert "[Member](" not in answer and "**Loud**" not in answer


async def test_answers_stream_in_pieces_and_ask_only_for_offered_tools() -> None:
    model = OfflineChatModel(token_delay_s=0)
    greeting = [
        o
        async for o in model.stream(
            [ChatMessage(role="user", content="hello there")], default_registry().schemas()
        )
    ]
    assert len(greeting) > 5 and all(isinstance(o, TextDelta) for o in greeting)
    assert "".join(o.text for o in greeting).startswith("Hi! I'm Finch")
    only_quotes = [s for s in default_registry().schemas() if s["function"]["name"] == "get_stock_quote"]
    outputs = [
        o async for o in model.stream([ChatMessage(role="user", content="why did NVDA drop?")], only_quotes)
    ]
    assert [o.name for o in outputs if isinstance(o, ToolCallRequest)] == []
    assert "".join(o.text for o in outputs if isinstance(o, TextDelta)).startswith(
        "I can't look that up here"
    )


def test_the_menu_shows_the_setup_line_once_and_no_raw_html() -> None:
    assert MENU.startswith(MENU_MARKER) and MENU.count("OPENAI_API_KEY") == 1
    assert "<" not in MENU


# --- words and tickers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (lambda: words.count(1, "open-market purchase"), "1 open-market purchase"),
        (lambda: words.count(2, "open-market purchase"), "2 open-market purchases"),
        (lambda: words.count(1, "row"), "1 row"),
        (lambda: words.count(1_204, "row"), "1,204 rows"),
        (lambda: words.count(3, "company"), "3 companies"),
        (lambda: words.count(2, "tax"), "2 taxes"),
        (lambda: words.signed_pct(3.84), "+3.8%"),
        (lambda: words.signed_pct(-13.94), "-13.9%"),
        (lambda: words.signed_pct(0.04), "0.0%"),
        (lambda: words.signed_pct(None), "—"),
        (lambda: words.price(187.9), "$187.90"),
        (lambda: words.money(14_223_922.5), "$14.2M"),
        (lambda: words.money(906_200), "$906,200"),
        (lambda: words.money(12.5), "$12.50"),
        (lambda: words.money(-6_968.4), "-$6,968"),
        (lambda: words.money(2.4e9), "$2.4B"),
        (lambda: words.day("2026-11-17", year_of=date(2026, 11, 20)), "Nov 17"),
        (lambda: words.day("2025-12-30", year_of=date(2026, 1, 5)), "Dec 30, 2025"),
        (lambda: words.span("2026-08-28", "2026-11-20"), "Aug 28 – Nov 20"),
        (lambda: words.span("2025-12-30", "2026-01-05"), "Dec 30, 2025 – Jan 5, 2026"),
        (lambda: words.span("2026-11-17", "2026-11-17"), "Nov 17"),
        (lambda: words.join_and(["AAPL", "MSFT", "NVDA"]), "AAPL, MSFT and NVDA"),
        (lambda: words.amount_range("$1,001 - $15,000"), "$1,001 – $15,000"),
        (lambda: words.person("TANAKA-ROSS KENJI; TANAKA-ROSS FAMILY TRUST"), "Kenji Tanaka-Ross"),
        (lambda: words.short("a | b " * 10, 12), "a / b a / b…"),
    ],
)
def test_numbers_and_words(written, expected) -> None:
    assert written() == expected


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("BRK.B", ["BRK.B"]),
        ("brk-b price", ["BRK.B"]),
        ("$brk.b", ["BRK.B"]),
        ("what about BRK/B?", ["BRK.B"]),
        ("nvda and $amd", ["NVDA", "AMD"]),
        ("Nvidia, apple and Microsoft", ["NVDA", "AAPL", "MSFT"]),
        ("AAPL's price", ["AAPL"]),
        ("WHY DID NVDA DROP", ["NVDA"]),
        ("the vanguard s&p 500 fund vs the s&p 500", ["VOO", "SPY"]),
        ("is it OK to ask the CEO?", []),
        ("e.g. U.S. stocks", []),
        ("my arm hurts", []),
        ("I like ARM", ["ARM"]),
        ("facebook", ["META"]),
        ("KO and PEP", ["KO", "PEP"]),
    ],
)
def test_tickers_as_people_write_them(text: str, found: list[str]) -> None:
    assert tickers.find(text) == found


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("APPL", "AAPL"), ("nvdia", "NVDA"), ("GOOG", "GOOGL"), ("microsft", "MSFT"), ("KO", None)],
)
def test_did_you_mean_comes_from_the_known_tickers(typo: str, meant: str | None) -> None:
    assert tickers.suggest(typo) == meant


# --- titles -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("compare my portfolio with recent senate trades", "Portfolio vs Senate trades"),
        ("Which of my holdings did House members buy?", "Portfolio vs House purchases"),
        ("review my portfolio", "Portfolio review"),
        ("what's trending on reddit?", "Trending on Reddit"),
        ("get recent senate trades", "Recent Senate trades"),
        ("what are politicians buying?", "Congressional purchases"),
        ("why did NVDA drop?", "Why NVDA dropped"),
        ("why is tesla up?", "Why TSLA rose"),
        ("should I sell nvidia?", "Sell NVDA? The facts"),
        ("what should I buy?", "What to buy: Congress and Reddit"),
        ("compare AMD vs NVDA", "AMD vs NVDA"),
        ("price of AAPL and $msft", "AAPL and MSFT prices"),
        ("show me NVDA over the last 6 months", "NVDA over 6 months"),
        ("insider trades at Apple", "Insider trades at AAPL"),
        ("insider trades in my portfolio", "Insider trades in my holdings"),
        ("how is TSLA doing on reddit?", "TSLA on Reddit"),
        ("Is anything in my holdings trending on WSB?", "Portfolio vs Reddit trends"),
        ("connect my brokerage account", "Connect a brokerage"),
        ("did senators trade BRK.B?", "Senate trades of BRK.B"),
        ("hello there!", "Hello there"),
        (
            "what's the weather like in Paris today and tomorrow and the day after that, please?",
            "What's the weather like in Paris today and tomorrow and the…",
        ),
        ("   ", "New conversation"),
    ],
)
def test_title_for(question: str, title: str) -> None:
    assert OfflineChatModel().title_for(question) == title


def test_titles_are_short_single_lines() -> None:
    model = OfflineChatModel()
    for case in CASES:
        title = model.title_for(case.question)
        assert title and len(title) <= 60 and "\n" not in title


async def test_answer_tables_keep_the_columns_that_matter_and_point_to_the_full_table() -> None:
    chat = Conversation()
    portfolio = (await chat.ask("review my portfolio")).answer
    assert "| Symbol | Value | Gain | Weight |" in portfolio and "Today" not in portfolio.split("|---")[0]
    assert "full table (shares, cost, today's change) and an allocation chart are in Results" in portfolio
    senate = (await chat.ask("get recent senate trades")).answer
    assert "| Date | Member | Ticker | Type | Amount |\n|:--|:--|:--|:--|--:|" in senate
    assert re.search(r"\| \$1K–\$15K \|", senate)  # a disclosed range, short enough for a phone
    assert "are in [Recent Senate trades](resource:" in senate


def test_amounts_for_narrow_tables() -> None:
    assert [
        words.amount_short(t) for t in ("$1,001 - $15,000", "$1,000,001 - $5,000,000", "$3,416.75", "")
    ] == [
        "$1K–$15K",
        "$1M–$5M",
        "$3,417",
        "—",
    ]
