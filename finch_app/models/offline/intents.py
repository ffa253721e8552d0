"""What the user asked, read from their words and from the conversation before them.

`read_ask` turns one message into an `Ask`: the kind of question (a lookup, "why did X
move", "should I buy X", a greeting…), the topics to look up, the tickers, and the
filters people add ("only purchases", "last month only", "as a chart"). A follow-up
("and AMD?", "what about the House?") is the previous ask with that one thing changed;
`read_context` finds the previous ask by replaying the earlier questions of the
conversation, falling back to the tools an earlier turn called (another model may have
answered it). A change to the holdings ("I bought 10 NVDA at 120") is read by `changes`;
what became of the last one (made, turned down, asked back) comes from its tool results.
Pure functions of text: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from finch_app.agent.model import ChatMessage
from finch_app.models.offline import tickers as tk
from finch_app.models.offline.changes import Change, Earlier, read_change, settle
from finch_app.models.offline.results import arguments_of

Kind = Literal["lookup", "why", "advice", "greeting", "thanks", "help", "off_topic", "clarify", "change"]
Side = Literal["purchase", "sale"]

TICKER_TOPICS = frozenset({"sentiment", "insiders", "quote", "history"})
"""Topics that are about particular tickers (Congress trades are filtered by ticker instead)."""
CHAMBERS = frozenset({"senate", "house"})


@dataclass(frozen=True)
class Ask:
    """One question, understood: what to look up and how to narrow it."""

    kind: Kind
    topics: frozenset[str] = frozenset()
    """What to look up: "portfolio", "trending", "sentiment", "senate", "house", "insiders", "quote",
    "history", "brokerage"."""
    tickers: tuple[str, ...] = ()
    limit: int | None = None
    """How many rows the user asked for ("top 5")."""
    days: int | None = None
    """The period the user asked about ("last month" → 30)."""
    side: Side | None = None
    """Only purchases or only sales."""
    chart: bool = False
    """The user wants to see it as a chart (the answer points to the chart in Results)."""
    compare: bool = False
    """Set side by side: tickers against each other, or holdings against trades or Reddit."""
    direction: Literal["down", "up"] | None = None
    """For "why": which way the user thinks it moved."""
    action: Literal["buy", "sell", "hold"] | None = None
    """For "should I": what the user is weighing."""
    typo: tuple[str, str] | None = None
    """A word that looks like a misspelt ticker, and the ticker it probably means."""
    followup: bool = False
    """Read as a follow-up of the previous question."""
    market: bool = False
    """A question about the market as a whole (answered with SPY)."""
    wanted: Literal["why", "advice"] | None = None
    """For "clarify": the question that waits for a ticker ("why did it drop?" with none known)."""
    change: Change | None = None
    """For "change": the change to the holdings asked for."""

    @property
    def is_question(self) -> bool:
        """Whether later messages can follow up on this one (greetings and thanks cannot)."""
        return self.kind in ("lookup", "why", "advice") or (
            self.kind == "clarify" and self.wanted is not None
        )

    @property
    def chambers(self) -> frozenset[str]:
        return self.topics & CHAMBERS


@dataclass(frozen=True)
class Context:
    """What the conversation so far tells about the next message."""

    last: Ask | None = None
    """The latest question the user can follow up on."""
    suggested: str | None = None
    """A ticker the last answer offered ("did you mean **AAPL**?"), so "yes" can take it."""
    menu_shown: bool = False
    """The list of what Finch can do was already shown: never show it twice."""
    asked: tuple[str, ...] = field(default_factory=tuple)
    """Earlier questions, to avoid suggesting one the user already asked."""
    change: Earlier | None = None
    """The change to the holdings the last turn was about, and what became of it ("and 5 more")."""


# --- the words --------------------------------------------------------------------------


def _any(*alternatives: str) -> re.Pattern[str]:
    """One case-insensitive pattern matching any of `alternatives` (kept one idea per line)."""
    return re.compile("|".join(alternatives), re.I)


_GREETING = _any(
    r"^(hi|hello|hey|hiya|howdy|yo|hola|greetings|morning|evening)\b",
    r"^good (morning|afternoon|evening|day)\b",
    r"^(how are you|how's it going|how are things|what's up|whats up|sup)\b",
)
_THANKS = _any(
    r"\b(thanks|thank you|thank u|thx|ty|cheers|appreciate(d| it)?|much obliged)\b",
    r"\b(great|awesome|perfect|nice|cool|got it|ok(ay)?|brilliant|helpful|excellent|wonderful|amazing)\b",
)
_HELP = _any(
    r"\bhelp\b",
    r"what can (you|i)\b",
    r"what do you (do|know)",
    r"who are you",
    r"what are you",
    r"how (does|do) (this|you|i)\b",
    r"capabilit",
    r"what can i ask",
    r"commands",
    r"features",
    r"examples?\b",
    r"\bmenu\b",
    r"get started",
)
_YES = _any(
    r"^(yes|yeah|yep|yup|sure|ok(ay)?|please|do it|that one|right|correct|y)\b"
    r"[\s!.,]*(please|thanks)?[\s!.]*$"
)
_BROKERAGE = _any(r"\b(connect|link|sync|hook up|attach)\b")
_BROKER_WORDS = _any(
    r"broker|account|schwab|fidelity|robinhood|vanguard|e\*?trade|snaptrade|interactive brokers"
)

_PORTFOLIO = _any(
    r"portfolio",
    r"\bholdings?\b",
    r"\bpositions?\b",
    r"my (stocks|shares|investments|account|money|gains|losses)",
    r"net worth",
    r"allocation",
    r"\bi (own|hold)\b",
    r"\bdo i (own|hold|have)\b",
    r"what i own",
    r"\bmy (stake|position)",
)
_TRENDING = _any(
    r"reddit",
    r"trending",
    r"\bwsb\b",
    r"wallstreetbets",
    r"\bbuzz",
    r"\bhype",
    r"\bmeme",
    r"popular",
    r"mentions",
    r"chatter",
    r"retail (sentiment|investors|traders)",
    r"talking about",
    r"most discussed",
    r"sentiment",
)
_SENATE = _any(r"senat")
_HOUSE = _any(r"\bhouse\b", r"\breps?\b", r"representatives?\b", r"congressm[ae]n", r"congresswom[ae]n")
_CONGRESS = _any(
    r"congress", r"politician", r"lawmaker", r"capitol", r"\bpelosi\b", r"(government|elected) officials"
)
_INSIDERS = _any(
    r"insider",
    r"form 4",
    r"\bexecutives?\b",
    r"\bexecs?\b",
    r"\bdirectors?\b",
    r"\bceo\b",
    r"\bcfo\b",
    r"\bofficers?\b",
    r"management",
)
_HISTORY = _any(
    r"histor",
    r"\bchart",
    r"\bgraph",
    r"\bplot",
    r"over the (last|past)",
    r"\b(past|last) \d+ (days?|weeks?|months?|years?)",
    r"\bsince\b",
    r"\btrend(?!ing)",
    r"performance",
    r"perform",
    r"\bytd\b",
    r"this year",
    r"\bmoves?\b",
    r"\bmoved\b",
)
_QUOTE = _any(
    r"\bprice",
    r"\bquote",
    r"trading at",
    r"\bworth\b",
    r"\bcost\b",
    r"how much",
    r"\bclose[ds]?\b",
    r"\bvalue\b",
)
_OVERVIEW = _any(
    r"how('s| is| are)\b.*\b(doing|going|looking|performing)",
    r"tell me about",
    r"look up",
    r"info on",
    r"what about",
    r"how about",
    r"^\$?\w+\??$",
)
_COMPARE = _any(
    r"\bcompare",
    r"\bvs\.?\b",
    r"\bversus\b",
    r"side by side",
    r"\bagainst\b",
    r"overlap",
    r"in common",
    r"which of my",
    r"any of my",
    r"anything in my",
    r"\bmatch",
    r"\bcross[- ]?check",
    r"do (any|they) (own|hold|trade)",
    r"\bmine\b",
)
_CHART = _any(r"\b(chart|graph|plot|visuali[sz]e|draw)\b")
_WHY = _any(
    r"\bwhy\b",
    r"what happened",
    r"what'?s (going on|happening|up) with",
    r"what is going on",
    r"\bnews\b",
    r"\bheadlines?\b",
    r"\bcatalyst",
    r"\breason\b",
    r"what (drove|caused|moved)",
    r"explain",
)
_DOWN = _any(
    r"\b(drop|dropp|fall|fell|fallen|down|tank|crash|plung|plummet|slid|slide|sink|sank|sunk|dip|declin)",
    r"\b(lose|lost|losing|red|dump|selloff|sell-off|slump|tumbl)",
)
_UP = _any(r"\b(rise|rose|risen|up\b|jump|soar|rall|pump|moon|spike|spik|climb|gain|green|surg|rocket|rip)")
_ADVICE = _any(
    r"\bshould (i|we)\b",
    r"\bshall i\b",
    r"\b(is|are)\b.{0,40}\b(good|bad|smart|safe|great) (buy|investment|stock|time|idea|pick)",
    r"\bworth (buying|it|investing|holding|selling)",
    r"\b(buy|sell|hold) or (hold|sell|buy)\b",
    r"\bwill\b.{0,40}\b(go up|go down|rise|fall|drop|recover|rebound|crash)",
    r"\bpredict",
    r"\bforecast",
    r"price target",
    r"time to (buy|sell)",
    r"\bgood time to\b",
    r"what (stock|stocks|shares) (should|to) (i )?(buy|sell)",
    r"\b(recommend|advice|advise)\b",
    r"\bbuy the dip\b",
    r"\bundervalued\b",
    r"\bovervalued\b",
)
_ACTION_BUY = _any(r"\b(buy|buying|add|adding|invest|get in|enter|load up|accumulate|dip)\b")
_ACTION_SELL = _any(r"\b(sell|selling|dump|trim|exit|get out|take profits?|cash out|short)\b")
_ACTION_HOLD = _any(r"\b(hold|holding|keep)\b")
_BUYS = _any(r"\b(purchases?|purchased|buy|buys|buying|bought|buyers|acquir\w*)\b")
_SELLS = _any(r"\b(sales|sell|sells|selling|sold|sellers|dispos\w*)\b")
_MARKET = _any(
    r"\b(the )?(stock )?markets?\b(?! cap)", r"\bs&p\b", r"\bdow jones\b", r"\bnasdaq\b", r"\bindex\b"
)
_FINANCE = _any(
    r"\bstocks?\b",
    r"\bshares?\b",
    r"\binvest",
    r"\btrad(e|es|ing|er)\b",
    r"\bticker",
    r"\betf",
    r"\bfund",
    r"\bdividend",
    r"\bearnings",
    r"\bcrypto",
    r"\bbitcoin",
    r"\bbond",
    r"\boptions?\b",
    r"\bfed\b",
    r"\binterest rate",
    r"\binflation",
    r"\brecession",
    r"\beconomy",
    r"\bipo\b",
    r"\bmoney\b",
    r"\bwall street",
)
_FOLLOWUP = _any(
    r"^(and|also|what about|how about|same (for|with)|now|but|then|only|just|instead)\b",
    r"^(and what about|what of)\b",
    r"^(ok(ay)?,? (and|now|what about)|for|do|show|make|filter|limit|narrow|now do|try)\b",
)
_QUESTION_WORD = _any(r"\b(who|what|how|why|when|which|where|is|are|did|does|do|was|were)\b")
_PRONOUN = _any(r"\b(it|its|it's|that|this|them|they|those|these|the stock|the shares|same)\b")
_LIMIT = _any(
    r"\b(?:top|first|latest|last|recent|newest|biggest|largest)\s+(\d{1,3})\b"
    r"(?!\s*(?:days?|weeks?|months?|years?|d|w|m|mo|y)\b)",
    r"\b(\d{1,3})\s+(?:trades|tickers|stocks|names|rows|filings|transactions|results|purchases|sales|lines)"
    r"\b",
)
_ALL = _any(r"\b(show (me )?(all|everything|more)|all of them|the whole (list|table)|more rows|full list)\b")
_WINDOW_N = _any(r"\b(\d{1,4})\s*(days?|d|weeks?|wks?|w|months?|mos?|years?|yrs?|y)\b")
_WINDOW_WORD = _any(
    r"\b(?:last|past|previous|this|the)\s+(day|week|fortnight|month|quarter|year)\b",
    r"\b(today|yesterday|ytd|year to date|a month|a week|a year)\b",
)
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}
_WORD_DAYS = {
    "day": 1,
    "today": 1,
    "yesterday": 2,
    "week": 7,
    "a week": 7,
    "fortnight": 14,
    "month": 30,
    "a month": 30,
    "quarter": 90,
    "year": 365,
    "a year": 365,
    "ytd": 365,
    "year to date": 365,
}


# --- reading one message ----------------------------------------------------------------


def read_ask(text: str, context: Context | None = None) -> Ask:
    """What `text` asks, given what was asked before it."""
    context = context or Context()
    words = " ".join(text.split())
    found = list(tk.find(words))
    topics = _topics(words, found)
    modifiers = _modifiers(words)
    last = context.last

    if _BROKERAGE.search(words) and _BROKER_WORDS.search(words):
        return Ask(kind="lookup", topics=frozenset({"brokerage"}))

    change = read_change(words, context.change, context.suggested)
    if change is not None:
        return Ask(kind="change", tickers=(change.ticker,) if change.ticker else (), change=change)

    if last is not None and context.suggested and _YES.match(words):
        base = (
            replace(last, kind=last.wanted, wanted=None) if last.kind == "clarify" and last.wanted else last
        )
        fixed = tuple(t for t in base.tickers if t in tk.KNOWN)
        return replace(base, tickers=(context.suggested, *fixed), typo=None, followup=True)

    if last is not None and last.kind == "clarify" and last.wanted and found and not topics:
        # "why did it drop?" → "which one?" → "NVDA": the question that waited for a ticker.
        return replace(last, kind=last.wanted, wanted=None, tickers=tuple(found), typo=None, followup=True)

    why = bool(_WHY.search(words)) and not _ADVICE.search(words)
    advice = bool(_ADVICE.search(words))
    typo = None if found else tk.typo_in(words)
    followup_words = bool(_FOLLOWUP.search(words)) or (
        len(words.split()) <= 3 and not topics and not _QUESTION_WORD.search(words)
    )
    inherit = last is not None and not found and not typo and (bool(_PRONOUN.search(words)) or followup_words)
    resolved = found or (list(last.tickers) if inherit and last else [])

    if advice or (why and (resolved or not topics)):
        kind: Kind = "advice" if advice else "why"
        direction = "down" if _DOWN.search(words) else "up" if _UP.search(words) else None
        ask = Ask(
            kind=kind,
            tickers=tuple(resolved),
            days=modifiers.days,
            direction=direction if kind == "why" else None,
            action=_action(words) if kind == "advice" else None,
            followup=inherit,
        )
        if not resolved:
            if typo:
                return replace(ask, kind="clarify", wanted=kind, typo=typo)
            if kind == "why":
                return replace(ask, kind="clarify", wanted="why")
        return ask

    if topics or found:
        return _lookup(words, found, topics, modifiers, last if followup_words or inherit else None)

    if _MARKET.search(words) and not _HELP.search(words):
        return Ask(
            kind="lookup",
            topics=frozenset({"quote", "history"}),
            tickers=("SPY",),
            days=modifiers.days or 30,
            market=True,
        )

    if last is not None and modifiers.any:
        return _narrow(last, modifiers)

    if _HELP.search(words):
        return Ask(kind="help")
    if _GREETING.search(words) and len(words.split()) <= 6:
        return Ask(kind="greeting")
    if _THANKS.search(words) and len(words.split()) <= 8:
        return Ask(kind="thanks")
    if typo:
        return Ask(kind="clarify", typo=typo)
    if modifiers.any:
        return Ask(kind="clarify")
    return Ask(kind="off_topic", market=bool(_FINANCE.search(words)))


@dataclass(frozen=True)
class _Modifiers:
    limit: int | None
    days: int | None
    side: Side | None
    chart: bool

    @property
    def any(self) -> bool:
        return self.limit is not None or self.days is not None or self.side is not None or self.chart


def _modifiers(words: str) -> _Modifiers:
    side: Side | None = None
    if _BUYS.search(words) and not _SELLS.search(words):
        side = "purchase"
    elif _SELLS.search(words) and not _BUYS.search(words):
        side = "sale"
    return _Modifiers(
        limit=_limit(words), days=_window_days(words), side=side, chart=bool(_CHART.search(words))
    )


def _topics(words: str, found: Sequence[str]) -> set[str]:
    topics: set[str] = set()
    if _PORTFOLIO.search(words):
        topics.add("portfolio")
    if _TRENDING.search(words):
        topics.add("sentiment" if found else "trending")
    if _SENATE.search(words):
        topics.add("senate")
    if _HOUSE.search(words):
        topics.add("house")
    if _CONGRESS.search(words) and not topics & CHAMBERS:
        topics |= CHAMBERS
    if _INSIDERS.search(words):
        topics.add("insiders")
    if found and _HISTORY.search(words):
        topics.add("history")
    if found and _QUOTE.search(words) and "portfolio" not in topics:
        topics.add("quote")
    return topics


def _lookup(words: str, found: list[str], topics: set[str], mods: _Modifiers, last: Ask | None) -> Ask:
    """A question about data: what to look up, for which tickers, narrowed how."""
    tickers = list(found)
    compare = bool(_COMPARE.search(words))
    if last is not None and last.is_question:
        if not topics and tickers:
            # "and AMD?": the same question about another ticker.
            if last.kind in ("why", "advice"):
                return replace(last, tickers=tuple(tickers), followup=True, typo=None, **_overrides(mods))
            kept = (
                last.topics - {"portfolio"}
                if last.topics != frozenset({"portfolio"})
                else frozenset({"quote", "history"})
            )
            if "trending" in kept:
                kept = (kept - {"trending"}) | {"sentiment"}
            if not kept & (TICKER_TOPICS | CHAMBERS):
                kept = frozenset({"quote", "history"})
            return replace(
                last,
                kind="lookup",
                topics=frozenset(kept),
                tickers=tuple(tickers),
                followup=True,
                compare=last.compare and len(tickers) > 1,
                typo=None,
                **_overrides(mods),
            )
        if topics and topics <= CHAMBERS:
            # "what about the House?": the same question about the other chamber.
            if last.kind == "lookup" and last.topics & (CHAMBERS | {"portfolio"}):
                kept = (last.topics - CHAMBERS) | topics
                return replace(last, topics=frozenset(kept), followup=True, **_overrides(mods))
            if last.tickers:
                return Ask(
                    kind="lookup",
                    topics=frozenset(topics),
                    tickers=last.tickers,
                    followup=True,
                    limit=mods.limit,
                    days=mods.days or last.days,
                    side=mods.side,
                )
        if topics == {"portfolio"} and last.topics & (CHAMBERS | {"trending"}):
            # "what about my portfolio?" after trades or trends: compare the two.
            kept = (last.topics & (CHAMBERS | {"trending"})) | {"portfolio"}
            return replace(
                last, topics=frozenset(kept), tickers=(), followup=True, compare=True, **_overrides(mods)
            )
        if not tickers and topics & TICKER_TOPICS and last.tickers and "portfolio" not in topics:
            tickers = list(last.tickers)
        if not tickers and topics & CHAMBERS and last.tickers and _PRONOUN.search(words):
            tickers = list(last.tickers)
    if tickers and not topics & (TICKER_TOPICS | CHAMBERS | {"portfolio"}):
        if compare and len(tickers) > 1:
            topics |= {"history", "sentiment"}
        elif _OVERVIEW.search(words) or not _QUOTE.search(words):
            topics |= {"quote", "history"}
        else:
            topics.add("quote")
    if tickers and mods.side and not topics & (CHAMBERS | {"insiders"}) and not topics - {"quote", "history"}:
        # "who bought NVDA?": the people whose trades are disclosed.
        topics = set(CHAMBERS) | {"insiders"}
    if not topics and mods.side:
        topics = set(CHAMBERS)
    if mods.chart and tickers and "quote" in topics:
        topics = (topics - {"quote"}) | {"history"}
    if "portfolio" in topics and topics & (CHAMBERS | {"trending"}):
        compare = True
    return Ask(
        kind="lookup",
        topics=frozenset(topics),
        tickers=tuple(tickers),
        limit=mods.limit,
        days=mods.days,
        side=mods.side,
        chart=mods.chart,
        compare=compare or ("sentiment" in topics and len(tickers) > 1 and "history" in topics),
        followup=last is not None,
    )


def _overrides(mods: _Modifiers) -> dict[str, object]:
    """The filters a follow-up sets; the ones it does not mention stay as they were."""
    changes: dict[str, object] = {}
    if mods.limit is not None:
        changes["limit"] = mods.limit
    if mods.days is not None:
        changes["days"] = mods.days
    if mods.side is not None:
        changes["side"] = mods.side
    if mods.chart:
        changes["chart"] = True
    return changes


def _narrow(last: Ask, mods: _Modifiers) -> Ask:
    """ "only purchases", "last month only", "show that as a chart": the last question, narrowed."""
    narrowed = replace(last, followup=True, **_overrides(mods))
    if mods.chart and "quote" in narrowed.topics:
        # A chart of a quote is its price history, over the period the quote's answer showed.
        narrowed = replace(
            narrowed, topics=(narrowed.topics - {"quote"}) | {"history"}, days=narrowed.days or 30
        )
    if mods.side and narrowed.kind == "lookup" and not narrowed.topics & (CHAMBERS | {"insiders"}):
        narrowed = replace(narrowed, topics=narrowed.topics | CHAMBERS)
    return narrowed


def _action(words: str) -> Literal["buy", "sell", "hold"] | None:
    if _ACTION_SELL.search(words):
        return "sell"
    if _ACTION_BUY.search(words):
        return "buy"
    if _ACTION_HOLD.search(words):
        return "hold"
    return None


def _limit(words: str) -> int | None:
    if _ALL.search(words):
        return 100
    match = _LIMIT.search(words)
    if not match:
        return None
    return max(1, min(int(match.group(1) or match.group(2)), 100))


def _window_days(words: str) -> int | None:
    match = _WINDOW_N.search(words)
    if match:
        unit = match.group(2).lower()[0]
        return max(1, min(1825, int(match.group(1)) * _UNIT_DAYS[unit]))
    match = _WINDOW_WORD.search(words)
    if match:
        return _WORD_DAYS[(match.group(1) or match.group(2)).lower()]
    return None


# --- reading the conversation -----------------------------------------------------------

_SUGGESTION = re.compile(r"[Dd]id you mean \*\*([A-Z][A-Z.\-]{0,9})\*\*")
MENU_MARKER = "Here's what I can look up"
"""The first words of the capabilities list: seen in an earlier answer, it is not shown again."""


def read_context(messages: Sequence[ChatMessage]) -> Context:
    """What the conversation before the current question says: its last question and offers."""
    context = Context()
    pending: Ask | None = None
    calls: list[tuple[str, dict]] = []
    ids: list[str] = []
    outputs: dict[str, str] = {}
    last_answer = ""
    for message in messages:
        if message.role == "user":
            context = _settle(context, pending, calls, [outputs.get(i) for i in ids])
            pending = read_ask(message.content or "", context)
            calls, ids, outputs = [], [], {}
            context = replace(context, suggested=None, asked=(*context.asked, message.content or ""))
        elif message.role == "assistant":
            for call in message.tool_calls:
                calls.append((call.name, arguments_of(call.arguments)))
                ids.append(call.id)
            if message.content:
                last_answer = message.content
                if MENU_MARKER in message.content:
                    context = replace(context, menu_shown=True)
        elif message.role == "tool" and message.tool_call_id:
            outputs[message.tool_call_id] = message.content or ""
    context = _settle(context, pending, calls, [outputs.get(i) for i in ids])
    offered = _SUGGESTION.search(last_answer)
    return replace(context, suggested=offered.group(1) if offered else None)


def _settle(
    context: Context, ask: Ask | None, calls: list[tuple[str, dict]], outputs: Sequence[str | None] = ()
) -> Context:
    """Fold a finished turn into the context: its question, or failing that the tools it used;
    for a change to the holdings, what became of it."""
    if ask is not None and ask.kind == "change" and ask.change is not None:
        turn = [(name, arguments, output) for (name, arguments), output in zip(calls, outputs, strict=False)]
        return replace(context, change=settle(ask.change, turn))
    if ask is not None and ask.kind not in ("greeting", "thanks"):
        context = replace(context, change=None)
    if ask is not None and ask.is_question:
        return replace(context, last=ask)
    if calls:
        from_calls = ask_from_calls(calls)
        if from_calls is not None:
            return replace(context, last=from_calls)
    return context


_TOOL_TOPICS = {
    "get_portfolio": "portfolio",
    "get_reddit_trending_stocks": "trending",
    "get_reddit_ticker_sentiment": "sentiment",
    "compare_reddit_sentiment": "sentiment",
    "get_recent_senate_trades": "senate",
    "get_recent_house_trades": "house",
    "get_recent_insider_trades": "insiders",
    "search_ticker_insider_activity": "insiders",
    "get_portfolio_insider_activity": "insiders",
    "get_stock_quote": "quote",
    "get_price_history": "history",
}


def ask_from_calls(calls: Sequence[tuple[str, dict]]) -> Ask | None:
    """The question a turn answered, as far as its tool calls tell (when its words did not)."""
    topics = {_TOOL_TOPICS[name] for name, _ in calls if name in _TOOL_TOPICS}
    if not topics:
        return None
    symbols: list[str] = []
    for _, arguments in calls:
        for value in [arguments.get("ticker"), *(arguments.get("tickers") or [])]:
            if isinstance(value, str) and value:
                symbols.append(tk.canonical(value))
    if any(name == "get_portfolio_insider_activity" for name, _ in calls):
        topics.add("portfolio")
    return Ask(
        kind="lookup",
        topics=frozenset(topics),
        tickers=tuple(dict.fromkeys(symbols)),
        compare="portfolio" in topics and bool(topics & (CHAMBERS | {"trending"})),
    )
