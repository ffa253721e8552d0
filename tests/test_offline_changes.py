"""The offline model changes holdings the way people say it, and only with the user's yes.

Each case is a conversation through the real agent loop, tools and holdings (the demo portfolio
plus 12 TSLA at $200): the model reads the phrasing, reads the holdings, proposes the one call
that makes the change — the run pauses for the user's decision, as in the app — or asks back
when something is missing or does not add up. The user decides (`Agent.resume`, as the run
service does) and the answer must say what the tool did, before → after, or that nothing
changed and why. Earlier turns are replayed as history, as the chat service does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest

from finch_app.agent.approvals import Decision
from finch_app.agent.events import (
    AssistantMessage,
    Done,
    EventStamp,
    ToolApprovalRequired,
    ToolCallComplete,
    ToolCallStart,
)
from finch_app.agent.loop import Agent
from finch_app.agent.model import ChatMessage
from finch_app.context import build_providers
from finch_app.models.offline import OfflineChatModel
from finch_app.models.offline.intents import read_ask
from finch_app.providers.base import PortfolioLoad, Position, Providers
from finch_app.providers.portfolio import HoldingsBook
from finch_app.runs import RunService
from finch_app.runs.approvals import ApprovalPolicy, parse_policy
from finch_app.settings import get_settings
from finch_app.tools import default_registry
from tests.support import answer, replay

pytestmark = pytest.mark.usefixtures("demo_holdings")

YES = Decision(approved=True, decided_by="local", via="browser")
NO = Decision(approved=False, decided_by="local", via="browser")
TODAY = date.today()


_asked_on: list[date] = []


@pytest.fixture(autouse=True)
def _asked_today() -> None:
    """The day each test starts on, for `YESTERDAY`."""
    _asked_on[:] = [date.today()]


def YESTERDAY(value: object) -> bool:  # noqa: N802 - stands where the other cases put a value
    """The day before the one the question was asked on: a run may cross midnight between the
    question and this check (or after the cases were collected)."""
    days = {*_asked_on, date.today()}
    return value in {(day - timedelta(days=1)).isoformat() for day in days}


CHANGE_TOOLS = {"add_holding", "update_holding", "remove_holding", "record_trade"}


def no_because(reason: str) -> Decision:
    return Decision(approved=False, reason=reason, decided_by="local", via="browser")


@pytest.fixture(autouse=True)
async def tesla(demo_holdings) -> None:
    """Besides the demo portfolio, 12 TSLA at $200: something to sell half of and to remove."""
    await HoldingsBook().save("local", [Position("TSLA", "Tesla, Inc.", 12, 200)])


async def held() -> dict[str, tuple[float, float]]:
    return {p.symbol: (p.shares, p.cost_basis) for p in await HoldingsBook().list("local")}


@dataclass
class Exchange:
    question: str
    calls: list[tuple[str, dict[str, Any]]]
    cards: list[str]
    """The approval cards' descriptions: the change in plain words."""
    answer: str
    statuses: list[str]


class Chat:
    """A conversation with the offline model; a change pauses the run, and the user's decision
    goes on from where it paused, as the run service does."""

    def __init__(self, providers: Providers | None = None) -> None:
        self.agent = Agent(
            model=OfflineChatModel(token_delay_s=0),
            registry=default_registry(),
            deps=providers or build_providers(get_settings()),
            system_prompt="",
        )
        self.history: list[ChatMessage] = []

    async def ask(
        self, question: str, decision: Decision = YES, *, between: Callable | None = None
    ) -> Exchange:
        stamp = EventStamp("r")
        run = self.agent.run(history=list(self.history), user_message=question, stamp=stamp, user_id="local")
        events = [e async for e in run]
        last = events[-1]
        if isinstance(last, Done) and last.status == "awaiting_approval":
            assert last.resume is not None
            if between is not None:
                await between()
            decisions = {p.call.id: decision for p in last.resume.pending}
            events += [
                e
                async for e in self.agent.resume(
                    history=list(self.history),
                    user_message=question,
                    state=last.resume,
                    decisions=decisions,
                    stamp=stamp,
                    user_id="local",
                )
            ]
        starts = [e for e in events if isinstance(e, ToolCallStart)]
        completes = {e.tool_call_id: e for e in events if isinstance(e, ToolCallComplete)}
        final = next(e for e in events if isinstance(e, AssistantMessage))
        self.history += replay(question, events)
        return Exchange(
            question=question,
            calls=[(s.tool_name, dict(s.arguments)) for s in starts],
            cards=[e.description for e in events if isinstance(e, ToolApprovalRequired)],
            answer=final.content,
            statuses=[completes[s.tool_call_id].status for s in starts],
        )


# --- the table ------------------------------------------------------------------------------------

Said = str | tuple[str, Decision]


@dataclass(frozen=True)
class Case:
    question: str
    tools: list[tuple[str, dict[str, Any]]]
    """Every tool call in order, with arguments that must be among its validated arguments (a value
    may be a predicate)."""
    card: str | None = None
    """The approval card's words, when checked."""
    facts: list[str] = field(default_factory=list)
    """Text the answer contains, or a regex when it starts with "re:"."""
    absent: list[str] = field(default_factory=list)
    before: tuple[Said, ...] = ()
    decision: Decision = YES


def c(question: str, tools: list, card: str | None = None, facts: list = (), *, absent: list = (),
      before: tuple = (), decision: Decision = YES) -> Case:  # fmt: skip
    return Case(question, list(tools), card, list(facts), list(absent), tuple(before), decision)


def t(name: str, **arguments: Any) -> tuple[str, dict[str, Any]]:
    return (name, arguments)


def on_or_before_today(month_day: str) -> Callable[[str], bool]:
    """A date argument: this `month_day` ("11-03"), in the last year."""
    return (
        lambda value: value.endswith(month_day)
        and TODAY - timedelta(days=366) < date.fromisoformat(value) <= TODAY
    )


P = t("get_portfolio")
NO_TOOLS: list = []

BUYS = [
    c(
        "I bought 10 shares of NVDA at 120",
        [P, t("record_trade", ticker="NVDA", side="buy", shares=10, price=120, traded_on=None)],
        "Record a purchase of 10 shares of NVDA at $120.00 (adds to your holding)",
        [
            "Recorded your purchase of 10 **NVDA** shares at $120.00.",
            "**NVDA: 55 → 65 shares**, average cost $61.20 → $70.25.",
        ],
    ),
    c(
        "I bought 10 shares of AMD at 120",
        [P, t("add_holding", ticker="AMD", shares=10, cost_basis=120, bought_on=None)],
        "Add 10 shares of AMD at $120.00 to your holdings",
        [
            "Added **AMD** to your holdings: 10 shares at $120.00.",
            "**AMD: 0 → 10 shares**, average cost $120.00.",
        ],
    ),
    c(
        "add 5 AAPL",
        [
            P,
            t("get_stock_quote", ticker="AAPL"),
            t("record_trade", ticker="AAPL", side="buy", shares=5, price=268.4),
        ],
        "Record a purchase of 5 shares of AAPL at $268.40 (adds to your holding)",
        ["at $268.40 — the latest price, as you didn't say what you paid", "**AAPL: 40 → 45 shares**"],
    ),
    c(
        "add 5 AMD",
        [P, t("get_stock_quote", ticker="AMD"), t("add_holding", ticker="AMD", shares=5, cost_basis=231.7)],
        "Add 5 shares of AMD at $231.70 to your holdings",
        ["Added **AMD** to your holdings: 5 shares at $231.70 — the latest price", "**AMD: 0 → 5 shares**"],
    ),
    c(
        "can you add 5 shares of AMD to my portfolio?",
        [P, t("get_stock_quote", ticker="AMD"), t("add_holding", ticker="AMD", shares=5, cost_basis=231.7)],
    ),
    c(
        "I purchased 20 shares of Microsoft for $9,000",
        [P, t("record_trade", ticker="MSFT", side="buy", shares=20, price=450)],
        facts=["**MSFT: 18 → 38 shares**, average cost $338.45 → $397.16."],
    ),
    c(
        "picked up 3 more shares of nvidia yesterday at 180",
        [P, t("record_trade", ticker="NVDA", side="buy", shares=3, price=180, traded_on=YESTERDAY)],
    ),
    c(
        "I bought 10 NVDA at 120 on Nov 3",
        [P, t("record_trade", ticker="NVDA", shares=10, price=120, traded_on=on_or_before_today("-11-03"))],
        facts=["at $120.00 on Nov 3"],
    ),
    c(
        "add 10 AMD bought on Nov 3, 2025 at 150",
        [P, t("add_holding", ticker="AMD", shares=10, cost_basis=150, bought_on="2025-11-03")],
        "Add 10 shares of AMD at $150.00 bought Nov 3, 2025 to your holdings",
    ),
    c(
        "bought 2 BRK.B at 480",
        [P, t("add_holding", ticker="BRK.B", shares=2, cost_basis=480)],
        "Add 2 shares of BRK.B at $480.00 to your holdings",
    ),
    c(
        "I bought $nvda 10 shares @ $118.50",
        [P, t("record_trade", ticker="NVDA", side="buy", shares=10, price=118.5)],
    ),
    c("I bought $1,200 worth of NVDA at 120", [P, t("record_trade", ticker="NVDA", shares=10, price=120)]),
    c(
        "I bought a share of NVDA at 190",
        [P, t("record_trade", ticker="NVDA", side="buy", shares=1, price=190)],
        facts=["Recorded your purchase of 1 **NVDA** share at $190.00."],
    ),
    c("I bought ten shares of AMD at 150", [P, t("add_holding", ticker="AMD", shares=10, cost_basis=150)]),
    c(
        "record a purchase of 4 GOOGL at 250",
        [P, t("record_trade", ticker="GOOGL", side="buy", shares=4, price=250)],
    ),
    c(
        "I bought 10 NVDA at 120 in my Robinhood account",
        [P, t("record_trade", ticker="NVDA", shares=10, price=120)],
    ),
    c("Bought 10 Tesla at 400", [P, t("record_trade", ticker="TSLA", side="buy", shares=10, price=400)]),
    c("I BOUGHT 10 NVDA AT 120", [P, t("record_trade", ticker="NVDA", side="buy", shares=10, price=120)]),
]

SALES = [
    c(
        "sold 3 MSFT",
        [P, t("record_trade", ticker="MSFT", side="sell", shares=3, price=None, traded_on=None)],
        "Record a sale of 3 shares of MSFT (takes them off your holding)",
        [
            "Recorded your sale of 3 **MSFT** shares.",
            "**MSFT: 18 → 15 shares**, average cost $338.45 (unchanged).",
        ],
    ),
    c(
        "I sold 3 shares of MSFT at 510 yesterday",
        [P, t("record_trade", ticker="MSFT", side="sell", shares=3, price=510, traded_on=YESTERDAY)],
        facts=["Recorded your sale of 3 **MSFT** shares at $510.00 on"],
    ),
    c(
        "I sold half my TSLA",
        [P, t("record_trade", ticker="TSLA", side="sell", shares=6)],
        "Record a sale of 6 shares of TSLA (takes them off your holding)",
        ["Recorded the sale of half of your **TSLA**: 6 of your 12 shares.", "**TSLA: 12 → 6 shares**"],
    ),
    c(
        "I sold all my TSLA",
        [P, t("record_trade", ticker="TSLA", side="sell", shares=12)],
        facts=[
            "Recorded the sale of all 12 of your **TSLA** shares.",
            "**TSLA: 12 → 0 shares** — it's no longer",
        ],
    ),
    c("I exited my TSLA position", [P, t("record_trade", ticker="TSLA", side="sell", shares=12)]),
    c("I got rid of Tesla", [P, t("record_trade", ticker="TSLA", side="sell", shares=12)]),
    c("sold a quarter of my AAPL", [P, t("record_trade", ticker="AAPL", side="sell", shares=10)]),
    c(
        "I sold 2 AAPL on 11/3",
        [P, t("record_trade", ticker="AAPL", side="sell", shares=2, traded_on=on_or_before_today("-11-03"))],
    ),
]

REMOVALS_AND_CORRECTIONS = [
    c(
        "remove TSLA from my portfolio",
        [P, t("remove_holding", ticker="TSLA")],
        "Remove TSLA from your holdings",
        [
            "Removed **TSLA** from your holdings.",
            "**TSLA: 12 → 0 shares** — it's no longer one of your holdings.",
        ],
    ),
    c("delete TSLA", [P, t("remove_holding", ticker="TSLA")]),
    c("take Tesla off my holdings", [P, t("remove_holding", ticker="TSLA")]),
    c("I no longer own TSLA", [P, t("remove_holding", ticker="TSLA")]),
    c(
        "remove 5 AAPL",
        [P, t("update_holding", ticker="AAPL", shares=35, cost_basis=None)],
        "Change your AAPL holding to 35 shares",
    ),
    c(
        "I actually have 12 NVDA",
        [P, t("update_holding", ticker="NVDA", shares=12, cost_basis=None)],
        "Change your NVDA holding to 12 shares",
        ["Updated your **NVDA** holding.", "**NVDA: 55 → 12 shares**, average cost $61.20 (unchanged)."],
    ),
    c(
        "my AAPL cost was 150",
        [P, t("update_holding", ticker="AAPL", shares=None, cost_basis=150)],
        "Change your AAPL holding to an average cost of $150.00",
        ["**AAPL: 40 shares**, average cost $172.10 → $150.00."],
    ),
    c("I have 12 NVDA, not 55", [P, t("update_holding", ticker="NVDA", shares=12)]),
    c("set my NVDA to 60 shares", [P, t("update_holding", ticker="NVDA", shares=60)]),
    c("change my AAPL cost basis to 160", [P, t("update_holding", ticker="AAPL", cost_basis=160)]),
    c(
        "my average cost for AAPL is $165",
        [P, t("update_holding", ticker="AAPL", shares=None, cost_basis=165)],
    ),
    c(
        "I paid $150 a share for my AAPL",
        [P, t("update_holding", ticker="AAPL", shares=None, cost_basis=150)],
    ),
    c(
        "I actually have 10 AMD",
        [P, t("add_holding", ticker="AMD", shares=10, cost_basis=None)],
        "Add 10 shares of AMD at the latest price to your holdings",
        ["Added **AMD** to your holdings: 10 shares at $231.70 — the latest price"],
    ),
]

ASKED_BACK = [
    c("I bought some NVDA", NO_TOOLS, facts=["How many shares of **NVDA** did you buy, and at what price?"]),
    c("I bought 10 shares at 120", NO_TOOLS, facts=["Which stock did you buy?"]),
    c("I bought 10 APPL at 150", NO_TOOLS, facts=['"APPL"', "did you mean **AAPL** (Apple)?"]),
    c(
        "I bought 10 NVDA and 5 AMD",
        NO_TOOLS,
        facts=["Which one did you buy — NVDA or AMD?", "one change at a time"],
    ),
    c(
        "I sold 3 MSFT and bought 5 AAPL",
        NO_TOOLS,
        facts=["Which change should I make first?", "one change at a time"],
    ),
    c("I sold some MSFT", NO_TOOLS, facts=["How many shares of **MSFT** did you sell?"]),
    c(
        "add TSLA to my portfolio",
        NO_TOOLS,
        facts=["How many shares of **TSLA** should I add, and at what price?"],
    ),
    c("I bought $1000 of NVDA", NO_TOOLS, facts=["How many shares of **NVDA** did $1,000 buy?"]),
    c("update my NVDA holding", NO_TOOLS, facts=["What should I change about your **NVDA** holding"]),
    c("buy 10 NVDA", NO_TOOLS, facts=["I can't place trades", "I bought 10 NVDA at 120"]),
    c("undo that", NO_TOOLS, facts=["There's no change of mine to undo"]),
    # …and what only the holdings can tell
    c(
        "sold 100 MSFT",
        [P],
        facts=["You hold 18 shares of **MSFT** — fewer than the 100", "How many did you sell?"],
    ),
    c("I sold half my NVDA", [P], facts=["Half of your 55 NVDA shares is 27.5 — how many did you sell?"]),
    c("I sold half my AMD", [P], facts=["You don't hold **AMD**, so there's no half of it to sell"]),
    c("I sold all my AMD", [P], facts=["You don't hold **AMD**, so there's nothing to sell"]),
    c("sold 3 AMD", [P], facts=["You don't hold **AMD**, so there's no sale to record"]),
    c(
        "remove AMD from my portfolio",
        [P],
        facts=["**AMD** isn't one of your holdings, so there's nothing to remove."],
    ),
    c("my AMD cost was 150", [P], facts=["You don't hold **AMD**, so there's no average cost to change."]),
    c(
        "I actually have 55 NVDA",
        [P],
        facts=["already 55 shares at an average cost of $61.20 — nothing to change"],
    ),
    c("I bought 10 KO", [P, t("get_stock_quote", ticker="KO")], facts=["I have no price for **KO**"]),
]

FOLLOW_UPS = [
    c(
        "10 at 120",
        [P, t("record_trade", ticker="NVDA", side="buy", shares=10, price=120)],
        before=("I bought some NVDA",),
    ),
    c(
        "yes",
        [P, t("record_trade", ticker="AAPL", shares=10, price=150)],
        before=("I bought 10 APPL at 150",),
    ),
    c(
        "NVDA at 120",
        [P, t("record_trade", ticker="NVDA", shares=10, price=120)],
        before=("I bought 10 shares",),
    ),
    c("all", [P, t("record_trade", ticker="MSFT", side="sell", shares=18)], before=("I sold some MSFT",)),
    c("never mind", NO_TOOLS, facts=["I've left your holdings as they are"], before=("I sold some MSFT",)),
    c("18", [P, t("record_trade", ticker="MSFT", side="sell", shares=18)], before=("sold 100 MSFT",)),
    c("27", [P, t("record_trade", ticker="NVDA", side="sell", shares=27)], before=("I sold half my NVDA",)),
    c("50", [P, t("add_holding", ticker="KO", shares=10, cost_basis=50)], before=("I bought 10 KO",)),
    c(
        "and 5 more",
        [
            P,
            t("get_stock_quote", ticker="NVDA"),
            t("record_trade", ticker="NVDA", side="buy", shares=5, price=187.9),
        ],
        facts=["**NVDA: 65 → 70 shares**"],
        before=("bought 10 NVDA at 120",),
    ),
    c(
        "and 5 AMD at 230",
        [P, t("add_holding", ticker="AMD", shares=5, cost_basis=230)],
        before=("bought 10 NVDA at 120",),
    ),
    c(
        "I sold 3",
        [P, t("record_trade", ticker="NVDA", side="sell", shares=3)],
        before=("bought 10 NVDA at 120",),
    ),
    c(
        "undo that",
        [P, t("update_holding", ticker="NVDA", shares=55, cost_basis=61.2)],
        "Change your NVDA holding to 55 shares and an average cost of $61.20",
        [
            "Reversed the purchase of 10 NVDA shares.",
            "**NVDA: 65 → 55 shares**, average cost $70.25 → $61.20.",
        ],
        absent=["undo that"],
        before=("bought 10 NVDA at 120",),
    ),
    c(
        "undo that",
        [P, t("update_holding", ticker="MSFT", shares=18, cost_basis=None)],
        before=("sold 3 MSFT",),
    ),
    c(
        "undo that",
        [P, t("add_holding", ticker="TSLA", shares=12, cost_basis=200)],
        facts=["Reversed the removal of TSLA.", "**TSLA: 0 → 12 shares**, average cost $200.00."],
        before=("remove TSLA from my portfolio",),
    ),
    c("undo", [P, t("remove_holding", ticker="AMD")], before=("add 5 AMD",)),
    c("undo that", [P, t("update_holding", ticker="MSFT", shares=18)], before=("sold 3 MSFT", "thanks!")),
    c(
        "undo that",
        [P, t("update_holding", ticker="NVDA", shares=65, cost_basis=70.2462)],
        before=("bought 10 NVDA at 120", "undo that"),
    ),
    c(
        "make it 15",
        NO_TOOLS,
        facts=["That change is already made", "undo that"],
        before=("bought 10 NVDA at 120",),
    ),
]

DECIDED_AGAINST = [
    c(
        "I bought 10 NVDA at 120",
        [P, t("record_trade", ticker="NVDA", side="buy", shares=10, price=120)],
        "Record a purchase of 10 shares of NVDA at $120.00 (adds to your holding)",
        [
            "Nothing changed: you didn't approve recording the purchase of 10 NVDA shares at $120.00.",
            "You still hold 55 shares of NVDA.",
        ],
        absent=["Recorded", "→"],
        decision=NO,
    ),  # fmt: skip
    c(
        "remove TSLA from my portfolio",
        [P, t("remove_holding", ticker="TSLA")],
        facts=[
            "Nothing changed: you turned down removing TSLA from your holdings — your reason: “I still hold it”.",
            "You still hold 12 shares of TSLA.",
        ],
        absent=["Removed"],
        decision=no_because("I still hold it"),
    ),  # fmt: skip
    c(
        "I bought 10 shares of AMD at 120",
        [P, t("add_holding", ticker="AMD")],
        facts=[
            "you turned down adding 10 AMD shares at $120.00 to your holdings",
            "AMD is still not one of your holdings.",
        ],
        decision=no_because("wrong account"),
    ),
    c(
        "make it 12",
        [P, t("record_trade", ticker="NVDA", side="buy", shares=12, price=120)],
        facts=["**NVDA: 55 → 67 shares**"],
        before=(("I bought 10 NVDA at 120", no_because("it was 12 shares")),),
    ),
    c(
        "undo that",
        NO_TOOLS,
        facts=["There's nothing to undo: the purchase of 10 NVDA shares wasn't made."],
        before=(("I bought 10 NVDA at 120", NO),),
    ),
]

CASES = BUYS + SALES + REMOVALS_AND_CORRECTIONS + ASKED_BACK + FOLLOW_UPS + DECIDED_AGAINST


def _ids(case: Case) -> str:
    said = [s if isinstance(s, str) else f"{s[0]} (denied)" for s in case.before]
    return " → ".join([*said, case.question]) + (" (denied)" if not case.decision.approved else "")


@pytest.mark.parametrize("case", CASES, ids=[_ids(x) for x in CASES])
async def test_phrasings(case: Case) -> None:
    chat = Chat()
    for said in case.before:
        question, decision = (said, YES) if isinstance(said, str) else said
        await chat.ask(question, decision)
    before = await held()
    turn = await chat.ask(case.question, case.decision)

    assert [name for name, _ in turn.calls] == [name for name, _ in case.tools], turn.answer
    for (name, got), (_, wanted) in zip(turn.calls, case.tools, strict=True):
        for key, value in wanted.items():
            ok = value(got.get(key)) if callable(value) else got.get(key) == value
            assert ok, (name, key, got)
    changes = [name for name, _ in turn.calls if name in CHANGE_TOOLS]
    assert len(turn.cards) == len(changes) <= 1, "a change is proposed once, and only with the user's yes"
    if case.card is not None:
        assert turn.cards == [case.card]
    for fact in case.facts:
        if fact.startswith("re:"):
            assert re.search(fact[3:], turn.answer), (fact, turn.answer)
        else:
            assert fact in turn.answer, (fact, turn.answer)
    for text in case.absent:
        assert text not in turn.answer, (text, turn.answer)
    if not changes or not case.decision.approved:
        assert await held() == before, "nothing changes without a change call the user approved"
    else:
        assert await held() != before


def test_the_table_covers_the_phrasings() -> None:
    assert len({(x.before, x.question) for x in CASES}) >= 80
    kinds = {name for case in CASES for name, _ in case.tools if name in CHANGE_TOOLS}
    assert kinds == CHANGE_TOOLS


# --- what the tool says, and what the answer says of it --------------------------------------------


async def test_a_change_the_tool_refuses_is_reported_and_nothing_is_claimed() -> None:
    chat = Chat()

    async def sold_elsewhere() -> None:  # while the card waits, the holding goes (another tab, say)
        await HoldingsBook().remove("local", "TSLA")

    turn = await chat.ask("remove TSLA from my portfolio", YES, between=sold_elsewhere)
    assert turn.statuses == ["completed", "error"]
    assert turn.answer == "I couldn't make that change: TSLA is not one of your holdings. Nothing changed."


async def test_holdings_from_a_linked_brokerage_are_not_changed_here() -> None:
    class Synced:
        async def load(self, user_id: str) -> PortfolioLoad:
            return PortfolioLoad([Position("NVDA", "NVIDIA", 55, 61.2)], source="brokerage")

        async def positions(self, user_id: str) -> list[Position]:
            return (await self.load(user_id)).positions

    providers = build_providers(get_settings())
    chat = Chat(Providers(market=providers.market, portfolio=Synced(), holdings=providers.holdings))
    turn = await chat.ask("I sold 5 NVDA")
    assert [name for name, _ in turn.calls] == ["get_portfolio"] and turn.cards == []
    assert (
        "come from your linked brokerage" in turn.answer
        and "make the change in the brokerage account" in turn.answer
    )


async def test_a_first_holding_is_added_for_someone_who_has_none() -> None:
    await HoldingsBook().save("local", [], replace=True)
    turn = await Chat().ask("I bought 10 shares of NVDA at 120")
    assert turn.calls[1] == (
        "add_holding",
        {"ticker": "NVDA", "shares": 10, "cost_basis": 120, "bought_on": None},
    )
    assert turn.cards == ["Add 10 shares of NVDA at $120.00 to your holdings"]
    assert "**NVDA: 0 → 10 shares**" in turn.answer
    assert await held() == {"NVDA": (10, 120)}


# --- through the run service: stored history, a real pause, expiry -----------------------------------


def service() -> RunService:
    settings = get_settings()
    agent = Agent(
        model=OfflineChatModel(token_delay_s=0),
        registry=default_registry(),
        deps=build_providers(settings),
        system_prompt="",
    )
    return RunService(agent=agent, settings=settings, approvals=ApprovalPolicy(parse_policy("")))


async def decide_and_follow(runs: RunService, run_id: str, call_id: str, decision: Decision) -> str:
    outcome = await runs.decide(user_id="local", run_id=run_id, tool_call_id=call_id, decision=decision)
    assert outcome.decided and outcome.resumed
    rest = [e async for e in await runs.follow(run_id)]
    return next(e for e in rest if isinstance(e, AssistantMessage)).content


@pytest.mark.persistence
async def test_a_conversation_of_changes_through_the_run_service() -> None:
    runs = service()
    started, events = await answer(runs, "I bought 10 shares of NVDA at 120")
    card = next(e for e in events if isinstance(e, ToolApprovalRequired))
    assert isinstance(events[-1], Done) and events[-1].status == "awaiting_approval"
    assert card.description == "Record a purchase of 10 shares of NVDA at $120.00 (adds to your holding)"
    reply = await decide_and_follow(runs, started.run_id, card.tool_call_id, YES)
    assert reply.startswith("Recorded your purchase of 10 **NVDA** shares at $120.00.")
    assert (await held())["NVDA"] == (65, pytest.approx(70.2462))

    # The next turns read the stored conversation: "and 5 more" is NVDA, "undo that" the last change.
    more, events = await answer(runs, "and 5 more at 125", conversation_id=started.conversation_id)
    card = next(e for e in events if isinstance(e, ToolApprovalRequired))
    assert card.description == "Record a purchase of 5 shares of NVDA at $125.00 (adds to your holding)"
    reply = await decide_and_follow(
        runs, more.run_id, card.tool_call_id, no_because("that was a different account")
    )
    assert reply.startswith(
        "Nothing changed: you turned down recording the purchase of 5 NVDA shares at $125.00"
    )
    assert "“that was a different account”" in reply and "You still hold 65 shares of NVDA." in reply
    assert (await held())["NVDA"][0] == 65

    _, events = await answer(runs, "undo that", conversation_id=started.conversation_id)
    assert not any(isinstance(e, ToolApprovalRequired) for e in events)
    said = next(e for e in events if isinstance(e, AssistantMessage)).content
    assert said == "There's nothing to undo: the purchase of 5 NVDA shares wasn't made."
    await runs.aclose()


@pytest.mark.persistence
async def test_a_change_nobody_approves_in_time_is_answered_as_expired(monkeypatch) -> None:
    runs = service()
    started, events = await answer(runs, "remove TSLA from my portfolio")
    assert isinstance(events[-1], Done) and events[-1].status == "awaiting_approval"
    monkeypatch.setattr(get_settings(), "approval_timeout_s", 0.0)
    assert await runs.expire_approvals() == 1
    rest = [e async for e in await runs.follow(started.run_id)]
    said = next(e for e in rest if isinstance(e, AssistantMessage)).content
    assert re.fullmatch(
        r"Nothing changed: nobody approved removing TSLA from your holdings within \d+ (second|minute|hour|day)s?, so it expired\. "
        r"You still hold 12 shares of TSLA\.",
        said,
    ), said
    assert (await held())["TSLA"] == (12, 200)
    await runs.aclose()


# --- five exchanges, exactly as the user sees them ---------------------------------------------------

EXCHANGES = [
    (
        "I bought 10 shares of NVDA at 120",
        "Record a purchase of 10 shares of NVDA at $120.00 (adds to your holding)",
        "Recorded your purchase of 10 **NVDA** shares at $120.00.\n\n"
        "**NVDA: 55 → 65 shares**, average cost $61.20 → $70.25. Say *undo that* to reverse it.",
        "Nothing changed: you didn't approve recording the purchase of 10 NVDA shares at $120.00. "
        "You still hold 55 shares of NVDA.",
    ),
    (
        "add 5 AMD",
        "Add 5 shares of AMD at $231.70 to your holdings",
        "Added **AMD** to your holdings: 5 shares at $231.70 — the latest price, as you didn't say what you paid.\n\n"
        "**AMD: 0 → 5 shares**, average cost $231.70. Say *undo that* to reverse it.",
        "Nothing changed: you didn't approve adding 5 AMD shares at $231.70 to your holdings. "
        "AMD is still not one of your holdings.",
    ),
    (
        "I sold half my TSLA",
        "Record a sale of 6 shares of TSLA (takes them off your holding)",
        "Recorded the sale of half of your **TSLA**: 6 of your 12 shares.\n\n"
        "**TSLA: 12 → 6 shares**, average cost $200.00 (unchanged). Say *undo that* to reverse it.",
        "Nothing changed: you didn't approve recording the sale of 6 TSLA shares. You still hold 12 shares of TSLA.",
    ),
    (
        "remove TSLA from my portfolio",
        "Remove TSLA from your holdings",
        "Removed **TSLA** from your holdings.\n\n"
        "**TSLA: 12 → 0 shares** — it's no longer one of your holdings. Say *undo that* to reverse it.",
        "Nothing changed: you didn't approve removing TSLA from your holdings. You still hold 12 shares of TSLA.",
    ),
    (
        "my AAPL cost was 150",
        "Change your AAPL holding to an average cost of $150.00",
        "Updated your **AAPL** holding.\n\n"
        "**AAPL: 40 shares**, average cost $172.10 → $150.00. Say *undo that* to reverse it.",
        "Nothing changed: you didn't approve changing your AAPL holding to an average cost of $150.00. "
        "You still hold 40 shares of AAPL.",
    ),
]


@pytest.mark.parametrize(("question", "card", "approved", "denied"), EXCHANGES, ids=[x[0] for x in EXCHANGES])
async def test_exchanges_exactly_as_the_user_sees_them(
    question: str, card: str, approved: str, denied: str
) -> None:
    refused = await Chat().ask(question, NO)
    assert (refused.cards, refused.answer) == ([card], denied)
    made = await Chat().ask(question, YES)
    assert (made.cards, made.answer) == ([card], approved)


# --- what is not a change ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "who bought NVDA?",
        "what did senators sell?",
        "should I sell NVDA?",
        "I want to sell TSLA",
        "I'm thinking about selling half my TSLA",
        "if I sold half my TSLA how much would I get?",
        "did I buy NVDA?",
        "I own NVDA, what's the price?",
        "I hold AAPL",
        "sell or hold NVDA?",
        "buy the dip?",
        "House members sold NVDA",
        "the senator sold 10 NVDA",
        "update me on NVDA",
        "show me what I bought",
        "remove the chart",
        "what's my cost basis on AAPL?",
        "I never sold NVDA",
        "I have 3 questions about NVDA",
        "how much did I pay for NVDA",
        "Which of my holdings did House members buy?",
    ],
)
def test_questions_about_trades_are_not_changes(question: str) -> None:
    assert read_ask(question).kind != "change"


# --- titles -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("I bought 10 shares of NVDA at 120", "Bought NVDA"),
        ("I bought some nvidia", "Bought NVDA"),
        ("bought 2 $brk.b at 480", "Bought BRK.B"),
        ("add 5 AAPL", "Add AAPL"),
        ("sold 3 MSFT", "Sold MSFT"),
        ("I sold half my TSLA", "Sold half of TSLA"),
        ("remove TSLA from my portfolio", "Remove TSLA"),
        ("I actually have 12 NVDA", "Update NVDA"),
        ("my AAPL cost was 150", "Update AAPL"),
        ("I bought 10 NVDA and 5 AMD", "I bought 10 NVDA and 5 AMD"),
    ],
)
def test_titles_of_changes(question: str, title: str) -> None:
    assert OfflineChatModel().title_for(question) == title
