"""Changes to the user's holdings, as people say them: "I bought 10 NVDA at 120", "sold half my TSLA".

`read_change` reads a message into a `Change` — what happened (a purchase, a sale, a holding to
add, remove or correct), to which ticker, how many shares or which part of the holding, at what
price, on which day — or None when the message is not about changing holdings ("should I sell
NVDA?" and "who bought NVDA?" are questions, "I want to sell" has not happened). A message that
leaves something out still reads as a change, with the `problem` to ask back about, so nothing
is guessed. The next message can fill in what was asked ("10 at 120" after "how many?"), and
after a change it can build on it ("and 5 more", "undo that"): `settle` keeps what a turn asked
and what became of it. Pure functions of text and of the results the conversation holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal

from finch_app.agent.approvals import DENIED_RESULT
from finch_app.models.offline import tickers as tk
from finch_app.models.offline.results import Result, read_result

Action = Literal["buy", "sell", "add", "remove", "set"]
Problem = Literal[
    "ticker",  # no ticker named
    "tickers",  # several tickers or several changes in one message
    "typo",  # a ticker Finch does not know, close to one it does
    "shares",  # how many shares is missing
    "amount",  # only the money spent is known ("$1,000 of NVDA")
    "what",  # a correction that says nothing to correct
    "order",  # "buy 10 NVDA": an order, and Finch does not trade
    "nothing_to_undo",  # "undo that" with no change of Finch's before it
    "not_made",  # "undo that" after a change that was not made
    "already_made",  # "make it 15" after the change was made
    "dropped",  # "never mind" after a question back
]
CHANGE_TOOLS = ("add_holding", "update_holding", "remove_holding", "record_trade")


@dataclass(frozen=True)
class Change:
    """One change to the user's holdings, as asked (what is not known yet is None)."""

    action: Action
    ticker: str | None = None
    shares: float | None = None
    portion: float | None = None
    """A part of the holding sold ("half" → 0.5, "all" → 1); the shares follow from the holdings."""
    portion_words: str = ""
    """How the user said the part: "half", "all"."""
    fewer: float | None = None
    """Shares to take off a holding without a sale ("remove 5 AAPL"): a correction."""
    price: float | None = None
    """Per share: the price paid or received (buy, sell), or the average cost (add, set)."""
    amount: float | None = None
    """The money spent in all, when neither the shares nor the price say it."""
    on: date | None = None
    tickers: tuple[str, ...] = ()
    """Every ticker the message named."""
    typo: tuple[str, str] | None = None
    """(as written, the known ticker it probably means)."""
    problem: Problem | None = None
    undoing: str | None = None
    """What this change reverses ("the purchase of 10 NVDA shares"), for "undo that"."""


Outcome = Literal["asked", "made", "declined", "failed"]


@dataclass(frozen=True)
class Earlier:
    """The change the previous turn was about, and what became of it."""

    change: Change
    outcome: Outcome
    call: tuple[str, dict[str, Any]] | None = None
    """The change tool called, with its arguments."""
    made: dict[str, Any] | None = None
    """The tool's account of the change it made (symbol, action, shares before and after, cost after)."""
    cost_before: float | None = None
    """The holding's average cost before the change, from the holdings that turn read."""
    asked_for: Literal["shares", "price"] = "shares"
    """For a question back: what a bare number in the reply fills in."""


# --- the words ----------------------------------------------------------------------------------

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_NUMBER = re.compile(rf"(?<![\w.$,/])({_NUM})(?![\w/]|[.,]\d)")
_LEAD = r"^(?:(?:please|pls|ok|okay|also|and|now|then|so|oh|ah|hey|sorry|oops|actually|wait|no)[\s,!.]+)*"
_ASKING = r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?(?:please\s+)?"

_QUESTION = re.compile(
    r"^(?:who|whom|whose|what|what's|whats|which|when|where|why|how|should|shall|did|does|do|is|are|was|"
    r"were|will|am|has|have\s+(?:i|you|we)|show|list|tell|give|display|find|get(?!\s+rid)|see|view|look)\b",
    re.I,
)
_HYPOTHETICAL = re.compile(
    r"\b(?:if|suppose|supposing|imagine|would|could|should|might|may)\s+(?:i|we)\b"
    r"|\b(?:want(?:ed)?|plan(?:ning)?|going|thinking|considering|hoping|trying|wanna|gonna|about)\s+"
    r"(?:to\s+|of\s+|on\s+)?(?:buy|sell|add|buying|selling|adding)\b"
    r"|\bshould\s+i\b|\bworth\s+(?:buying|selling)",
    re.I,
)
_NEGATED = re.compile(
    r"\b(?:didn'?t|did\s+not|never|haven'?t|have\s+not|hasn'?t|wasn'?t)\s+(?:\w+\s+)?"
    r"(?:buy|bought|sell|sold|purchase|purchased|add|added)\b",
    re.I,
)
_SUBJECT = (
    r"(?:\b(?:i|we)(?:'ve|\s+have|\s+had|'d)?\s+"
    r"(?:(?:just|also|actually|recently|finally|then|already|now|today|yesterday|only|went\s+and)\s+)*"
    r"|^(?:(?:just|also|and|then|so|ok|okay|today|yesterday|recently|finally|oh|update)[\s,:]+)*)"
)
_BOUGHT = re.compile(_SUBJECT + r"(?:bought|purchased|picked\s+up|grabbed|acquired)\b", re.I)
_SOLD = re.compile(
    _SUBJECT + r"(?:sold|dumped|unloaded|trimmed|offloaded|(?P<exit>got\s+rid\s+of|exited|closed(?:\s+out)?|"
    r"cashed\s+out(?:\s+of)?))\b",
    re.I,
)
_BOUGHT_WORD = re.compile(r"\b(?:bought|purchased|picked\s+up)\b", re.I)
_SOLD_WORD = re.compile(r"\b(?:sold|dumped|unloaded|trimmed)\b", re.I)
_RECORD = re.compile(
    r"\b(?:record|log|enter|note|register|book|add)\s+(?:a|my|the|this|that)?\s*(?:(?P<buy>buy|purchase)|"
    r"(?P<sell>sale|sell))\b",
    re.I,
)
_ADD = re.compile(
    _LEAD + _ASKING + r"add\b|\badd\b.{0,60}\b(?:to|into|in)\s+(?:my\s+)?(?:portfolio|holdings|positions)\b",
    re.I,
)
_REMOVE = re.compile(
    _LEAD + _ASKING + r"(?:remove|delete|erase)\b"
    r"|\b(?:remove|delete|drop|erase|take|get\s+rid\s+of|clear)\b.{0,60}?\b(?:from|out\s+of|off)\s+(?:of\s+)?"
    r"(?:my\s+)?(?:portfolio|holdings|positions|list)\b"
    r"|\b(?:i|we)\s+(?:no\s+longer|don'?t|do\s+not)\s+(?:own|hold|have)\b(?=.*\b(?:any\s*more|no\s+longer)\b)"
    r"|\b(?:i|we)\s+no\s+longer\s+(?:own|hold|have)\b",
    re.I,
)
_HAVE = re.compile(
    r"\b(?:i|we)\s+(?:(?:actually|really|now|only|currently|still|just|in\s+fact)\s+)*(?:have|own|hold)\b"
    r"|\b(?:i|we)(?:'ve|\s+have)\s+(?:(?:actually|really|now|only|still|just)\s+)*got\b",
    re.I,
)
_SET = re.compile(_LEAD + _ASKING + r"(?:change|set|update|correct|fix|adjust|edit)\b", re.I)
_HOLDING_WORDS = re.compile(r"\b(?:holdings?|positions?|shares|cost|basis|stake)\b", re.I)
_LOOKUP_WORDS = re.compile(
    r"\b(?:price|quote|chart|graph|history|reddit|senat\w*|house|congress|insiders?|trending|news|why|compare|"
    r"vs|versus|doing|performance|sentiment|buying|selling)\b",
    re.I,
)
_ORDER = re.compile(_LEAD + _ASKING + r"(?P<side>buy|sell|short)\b", re.I)
_COST = re.compile(
    r"\b(?:(?:average|avg\.?)\s+)?(?:cost(?:\s+basis)?|basis|purchase\s+price|buy(?:ing)?\s+price|entry(?:\s+price)?|"
    r"average\s+price|avg\.?\s+price)(?:\s+per\s+share)?"
    r"(?:\s+(?:for|of|on|in)\s+(?:my\s+|the\s+)?(?P<what>\$?[\w.\-]+)(?:\s+(?:shares|stock|holding|position))?)?"
    r"(?:\s*(?:(?:was|is|of|at|to|should|be|actually|really|more\s+like|per\s+share)\b|[=:]))*"
    rf"\s*\$?\s*(?P<n>{_NUM})(?P<k>\s*k\b)?",
    re.I,
)
_MY = re.compile(r"\bmy\b", re.I)
_PORTFOLIO_WORDS = re.compile(r"\b(?:portfolio|holdings|positions)\b", re.I)
_PAID_EACH = re.compile(
    rf"\bi\s+paid\s+\$?\s*(?P<n>{_NUM})\s*(?:a|per|/)\s*share\s+for\s+(?:all\s+)?my\b|"
    rf"\bi\s+paid\s+\$?\s*(?P<m>{_NUM})\s*each\s+for\s+(?:all\s+)?my\b",
    re.I,
)

_PER = r"(?:\s*(?:a|per|/)\s*(?:share|sh)\b|\s*each\b|\s*apiece\b|\s*a\s+piece\b|\s*a\s+pop\b)"
_MONEY = rf"(?P<n>{_NUM})(?![\d,]|\.\d)(?P<k>\s*k\b)?(?:\s*(?:dollars|usd|bucks)\b)?"
_PRICES: list[tuple[str, re.Pattern[str]]] = [
    (
        "per",
        re.compile(
            r"(?:\bat|@)\s*(?:a\s+price\s+of\s+|an?\s+(?:average\s+)?(?:cost|price)\s+of\s+|(?:average|avg\.?)\s+)?"
            rf"\$?\s*{_MONEY}(?!\s*(?:am|pm)\b|:\d)(?:{_PER})?",
            re.I,
        ),
    ),
    ("per", re.compile(rf"\bfor\s+\$?\s*{_MONEY}{_PER}", re.I)),
    (
        "total",
        re.compile(
            rf"\bfor\s+(?:a\s+total\s+of\s+|total\s+)?\$\s*{_MONEY}(?:\s*(?:total|in\s+total|all\s+in)\b)?",
            re.I,
        ),
    ),
    (
        "total",
        re.compile(
            rf"\bfor\s+(?:a\s+total\s+of\s+)?(?P<n>{_NUM})(?P<k>\s*k\b)?\s*(?:dollars|usd|bucks|total|in\s+total)\b",
            re.I,
        ),
    ),
    ("per", re.compile(rf"\$\s*{_MONEY}{_PER}", re.I)),
    ("amount", re.compile(rf"\$\s*{_MONEY}\s*(?:worth\s+)?(?:of|in)\b", re.I)),
    ("total", re.compile(rf"(?:\btotal(?:ing)?|\bin\s+total|\baltogether)\s*(?:of\s+)?\$?\s*{_MONEY}", re.I)),
    ("total", re.compile(rf"\$\s*{_MONEY}\s*(?:total|in\s+total|altogether)\b", re.I)),
    ("per", re.compile(rf"\$\s*{_MONEY}", re.I)),
]
_AT_MARKET = re.compile(r"\bat\s+(?:the\s+)?(?:market|current|latest|last)(?:\s+price)?\b", re.I)
_BROKERS = re.compile(
    r"\b(?:on|via|through|with|using|in|at)\s+(?:my\s+)?(?:robinhood|schwab|fidelity|vanguard|e\*?trade|webull|ibkr|"
    r"interactive\s+brokers|merrill|etoro|public)(?:\s+(?:account|app))?\b(?!\s*s&p)",
    re.I,
)
_NOT_N = re.compile(
    rf"[,;]?\s*\b(?:not|instead\s+of|rather\s+than)\s+(?:the\s+)?\$?(?:{_NUM})(?:\s+shares?)?", re.I
)
_PORTIONS: list[tuple[re.Pattern[str], float | None, str]] = [
    (re.compile(r"\btwo[\s-]thirds\b", re.I), 2 / 3, "two thirds"),
    (re.compile(r"\bthree[\s-]quarters\b", re.I), 0.75, "three quarters"),
    (re.compile(r"\b(?:a|one)[\s-]third\b", re.I), 1 / 3, "a third"),
    (re.compile(r"\b(?:a|one)[\s-](?:quarter|fourth)\b", re.I), 0.25, "a quarter"),
    (re.compile(r"\b(?:a\s+|one\s+)?half\b", re.I), 0.5, "half"),
    (re.compile(rf"\b(?P<pct>{_NUM})\s*(?:%|percent\b)", re.I), None, ""),
    (
        re.compile(
            r"\b(?:all|everything|every\s+share|the\s+rest|the\s+whole\s+(?:lot|position|thing|holding)|"
            r"(?:my|the)\s+(?:entire|whole)\s+(?:position|holding|stake))\b",
            re.I,
        ),
        1.0,
        "all",
    ),
]
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "a hundred": 100, "one hundred": 100, "a dozen": 12, "a single": 1, "a": 1, "an": 1,
}  # fmt: skip
_WORD_COUNT = re.compile(
    r"\b(a hundred|one hundred|a dozen|a single|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"fifteen|twenty|thirty|forty|fifty|an?)(?=\s+(?:more\s+|additional\s+|extra\s+)?(?:shares?|stocks?)\b)",
    re.I,
)
_WORD_COUNT_LOOSE = re.compile(
    r"\b(a hundred|a dozen|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty)\b(?!\s*(?:third|quarter|half|fourth))",
    re.I,
)
_SHARE_WORD = re.compile(
    r"\s*(?:x\s*)?(?:(?:more|additional|extra|new)\b(?:\s+(?:shares?|stocks?|units?)\b)?|(?:shares?|stocks?|units?)\b)",
    re.I,
)
_TO_TICKER = re.compile(r"\s*(?:x\s*)?(?:(?:more|additional|extra|new|of|my)\s+)*$", re.I)
_TO_N = re.compile(rf"\bto\s+(?P<n>{_NUM})\b(?!\s*(?:%|percent))", re.I)

_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_DATES = [
    re.compile(r"\b(?:on\s+)?(?P<year>\d{4})-(?P<mnum>\d{1,2})-(?P<day>\d{1,2})\b"),
    re.compile(
        rf"\b(?:on\s+)?{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{{4}}))?\b", re.I
    ),
    re.compile(
        rf"\b(?:on\s+)?(?:the\s+)?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(?P<year>\d{{4}}))?\b",
        re.I,
    ),
    re.compile(r"\bon\s+(?P<mnum>\d{1,2})/(?P<day>\d{1,2})(?:/(?P<year>\d{4}|\d{2}))?\b"),
]
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_RELATIVE = re.compile(
    r"\b(?:(?P<today>(?:earlier\s+)?today|this\s+(?:morning|afternoon))|(?P<before>the\s+day\s+before\s+yesterday)|"
    r"(?P<yesterday>yesterday)|(?P<ago>\d{1,3})\s+days?\s+ago|(?P<week>a\s+week\s+ago)|"
    r"(?P<last>last\s+|this\s+past\s+|on\s+)(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
    re.I,
)
_YES = re.compile(
    r"^(?:yes|yeah|yep|yup|sure|ok(?:ay)?|correct|right|that one|y)\b[\s!.,]*(?:please|thanks)?[\s!.]*$", re.I
)
_NO = re.compile(
    r"^(?:no|nope|nah|never\s*mind|nevermind|forget\s+it|cancel|skip\s+it|don'?t)\b[\s!.,]*(?:thanks)?[\s!.]*$",
    re.I,
)
_UNDO = re.compile(
    _LEAD + _ASKING + r"(?:undo|revert|reverse|roll\s*back|take\s+back)\b"
    r"(?:\s+(?:that|it|this|the\s+(?:last\s+)?(?:change|trade|purchase|sale|one)))?[\s!.,]*(?:please)?[\s!.]*$",
    re.I,
)
_MORE = re.compile(
    rf"^(?:(?:and|also|plus|then|oh|ok|okay)[\s,]+)*(?:another\s+(?P<a>{_NUM})|(?P<b>{_NUM})\s+more)\b", re.I
)
_AND_N = re.compile(rf"^(?:and|also|plus)[\s,]+(?P<n>{_NUM})\b", re.I)
_MAKE_IT = re.compile(
    _LEAD
    + rf"(?:make\s+(?:it|that)|(?:it|that)\s+(?:was|should\s+be|is)|change\s+(?:it|that)\s+to|i\s+meant)\s+"
    rf"(?P<n>{_NUM})\b",
    re.I,
)


# --- reading a message ---------------------------------------------------------------------------


def read_change(
    text: str, earlier: Earlier | None = None, suggested: str | None = None, today: date | None = None
) -> Change | None:
    """The change to the holdings `text` asks for (or reports), given the change before it; None if none."""
    words = " ".join(text.split())
    today = today or date.today()
    if _UNDO.match(words):
        return _undo(earlier)
    if earlier is not None:
        follow = _follow_up(words, earlier, suggested, today)
        if follow is not None:
            return follow
    if _QUESTION.match(words) or _HYPOTHETICAL.search(words) or _NEGATED.search(words):
        return None
    action, exit_all = _action(words)
    if action is None:
        return None
    if action == "several":
        return Change(action="buy", problem="tickers")  # "I sold 3 MSFT and bought 5 AAPL"
    if action == "order":
        return Change(action="buy", problem="order", tickers=tuple(tk.find(words)))
    change = _parse(words, action, today)
    if earlier is not None and earlier.change.ticker and not change.tickers and change.typo is None:
        # "I sold 3" after a change of NVDA: the same ticker, and the one number is the shares.
        loose = _parse(words, action, today, loose=True) if change.shares is None else change
        change = replace(
            change, ticker=earlier.change.ticker, tickers=(earlier.change.ticker,), shares=loose.shares
        )
    if change.action == "sell" and exit_all and change.shares is None and change.portion is None:
        change = replace(change, portion=1.0, portion_words="all")
    if change.action == "set" and _HAVE.search(words) and change.shares is None and change.price is None:
        return None  # "I have NVDA": a statement about holdings, not a correction
    return _checked(change)


def _action(words: str) -> tuple[Action | Literal["several", "order"] | None, bool]:
    """Which kind of change the words describe, and whether a sale is of the whole holding ("exited")."""
    bought, sold, recorded = _BOUGHT.search(words), _SOLD.search(words), _RECORD.search(words)
    if (
        _REMOVE.search(words)
        and not bought
        and not sold
        and (tk.find(words) or _PORTFOLIO_WORDS.search(words))
    ):
        return "remove", False
    if (bought or sold) and _BOUGHT_WORD.search(words) and _SOLD_WORD.search(words):
        return "several", False
    if sold or (recorded and recorded.group("sell")):
        return "sell", bool(sold and sold.group("exit"))
    if bought or (recorded and recorded.group("buy")):
        return "buy", False
    if _ADD.search(words) and (
        _NUMBER.search(words) or _WORD_COUNT.search(words) or _PORTFOLIO_WORDS.search(words)
    ):
        return "add", False
    if _PAID_EACH.search(words) or (
        _SET.search(words) and (_NUMBER.search(words) or _HOLDING_WORDS.search(words))
    ):
        return "set", False
    if _HAVE.search(words) or (_COST.search(words) and _MY.search(words)):
        return "set", False
    order = _ORDER.match(words)
    if order and tk.find(words) and not re.search(r"\bor\b|\?\s*$", words):
        return "order", False
    return None, False


def _parse(words: str, action: Action, today: date, *, loose: bool = False) -> Change:
    """The details of a change: ticker, shares or part of the holding, price, date.

    `loose` (a reply to a question back) also takes a bare number as the shares.
    """
    text, on = _take_date(words, today)
    text = _BROKERS.sub(" ", text)
    text = _AT_MARKET.sub(" ", text)
    price: float | None = None
    if action == "set":
        cost = _PAID_EACH.search(text) or _COST.search(text)
        if cost:
            figure = cost.group("n") or cost.groupdict().get("m") or "0"
            price = _money(figure, _thousands(cost))
            named = cost.groupdict().get("what") or ""
            text = f"{text[: cost.start()]} {named} {text[cost.end() :]}"
    text, per_share, total, amount = _take_price(text)
    price = price if price is not None else per_share
    text = _NOT_N.sub(" ", text)
    text = _WORD_COUNT.sub(lambda m: str(_NUMBER_WORDS[m.group(1).lower()]), text)
    if loose:
        text = _WORD_COUNT_LOOSE.sub(lambda m: str(_NUMBER_WORDS[m.group(1).lower()]), text)
    portion, portion_words = None, ""
    if action == "sell" or loose:
        text, portion, portion_words = _take_portion(text)
    mentions = tk.mentions(text)
    symbols = list(dict.fromkeys(m.symbol for m in mentions))
    shares = _count(text, mentions)
    if shares is None and action == "set":
        to = _TO_N.search(text)
        if to:
            shares = _number(to.group("n"))
    if shares is None and loose:
        bare = [m for m in _NUMBER.finditer(text)]
        if len(bare) == 1:
            shares = _number(bare[0].group(1))
    if total is not None:
        if shares:
            price = price if price is not None else round(total / shares, 4)
        else:
            amount = total
    if amount is not None and shares is None and price:
        shares = round(amount / price, 4)
    typo = None
    if not symbols:
        typo = tk.typo_in(text)
    elif len(symbols) == 1 and symbols[0] not in tk.KNOWN:
        meant = tk.suggest(symbols[0])
        if meant and meant != symbols[0]:
            typo = (symbols[0], meant)
    fewer = None
    if action == "remove" and shares is not None:
        action, fewer, shares = "set", shares, None
    return Change(
        action=action,
        ticker=symbols[0] if len(symbols) == 1 and typo is None else None,
        shares=shares,
        portion=portion,
        portion_words=portion_words,
        fewer=fewer,
        price=price,
        amount=amount if shares is None else None,
        on=on,
        tickers=tuple(symbols),
        typo=typo,
    )


def _thousands(match: re.Match[str]) -> bool:
    """Whether an amount was written in thousands ("$1.2k")."""
    return bool(match.groupdict().get("k"))


def _checked(change: Change) -> Change:
    """The change with the first thing to ask back about, if anything is missing or unclear."""
    problem: Problem | None = None
    if len(change.tickers) > 1:
        problem = "tickers"
    elif change.typo is not None:
        problem = "typo"
    elif change.ticker is None:
        problem = "ticker"
    elif change.action in ("buy", "add") and not change.shares:
        problem = "amount" if change.amount else "shares"
    elif change.action == "sell" and not change.shares and change.portion is None:
        problem = "shares"
    elif change.action == "set" and not change.shares and change.price is None and change.fewer is None:
        problem = "what"
    return replace(change, problem=problem)


def _count(text: str, mentions: Sequence[tk.Mention]) -> float | None:
    """The number of shares: a number written next to "shares" or to the ticker ("10 NVDA")."""
    found: list[float] = []
    for match in _NUMBER.finditer(text):
        after = text[match.end() :]
        next_ticker = next((m for m in mentions if m.at >= match.end()), None)
        if _SHARE_WORD.match(after) or (
            next_ticker is not None and _TO_TICKER.match(text[match.end() : next_ticker.at])
        ):
            found.append(_number(match.group(1)))
    distinct = list(dict.fromkeys(found))
    return distinct[0] if len(distinct) == 1 else None


def _take_price(text: str) -> tuple[str, float | None, float | None, float | None]:
    """(the text without them, the price per share, the total paid, the money spent): each said at most once."""
    found: dict[str, float] = {}
    for kind, pattern in _PRICES:
        if kind in found or (kind == "per" and "total" in found):
            continue
        match = pattern.search(text)
        if match is None:
            continue
        text = text[: match.start()] + " " + text[match.end() :]
        value = _money(match.group("n"), _thousands(match))
        if value > 0:
            found[kind] = value
    return text, found.get("per"), found.get("total"), found.get("amount")


def _take_portion(text: str) -> tuple[str, float | None, str]:
    for pattern, fraction, said in _PORTIONS:
        match = pattern.search(text)
        if match is None:
            continue
        if fraction is None:
            pct = _number(match.group("pct"))
            if not 0 < pct <= 100:
                continue
            fraction, said = pct / 100, f"{match.group('pct')}%"
        return text[: match.start()] + " " + text[match.end() :], fraction, said
    return text, None, ""


def _take_date(text: str, today: date) -> tuple[str, date | None]:
    """(the text without the date, the day of the trade): "on Nov 3", "11/3", "yesterday", "last Friday"."""
    for pattern in _DATES:
        match = pattern.search(text)
        if match is None:
            continue
        parts = match.groupdict()
        month = _MONTHS[parts["month"][:3].lower()] if parts.get("month") else int(parts["mnum"])
        year = int(parts["year"]) if parts.get("year") else None
        if year is not None and year < 100:
            year += 2000
        try:
            when = date(year or today.year, month, int(parts["day"]))
            if year is None and when > today:
                when = date(today.year - 1, month, int(parts["day"]))
        except ValueError:
            continue
        return text[: match.start()] + " " + text[match.end() :], when
    match = _RELATIVE.search(text)
    if match is None:
        return text, None
    rest = text[: match.start()] + " " + text[match.end() :]
    if match.group("today"):
        return rest, today
    if match.group("before"):
        return rest, today - timedelta(days=2)
    if match.group("yesterday"):
        return rest, today - timedelta(days=1)
    if match.group("ago"):
        return rest, today - timedelta(days=int(match.group("ago")))
    if match.group("week"):
        return rest, today - timedelta(days=7)
    back = (today.weekday() - _WEEKDAYS.index(match.group("weekday").lower())) % 7
    if back == 0 and match.group("last").strip().lower() != "on":
        back = 7
    return rest, today - timedelta(days=back)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _money(text: str, thousands: bool) -> float:
    return round(_number(text) * (1000 if thousands else 1), 4)


# --- following up -------------------------------------------------------------------------------


def _follow_up(words: str, earlier: Earlier, suggested: str | None, today: date) -> Change | None:
    """A message that builds on the change before it, or None when it stands on its own."""
    base = earlier.change
    if earlier.outcome == "asked":
        return _fill_in(words, earlier, suggested, today)
    make = _MAKE_IT.match(words)
    if make:
        if earlier.outcome == "made":
            return replace(base, problem="already_made")
        rest = _parse(words[make.end() :], base.action, today)
        return _checked(
            replace(base, shares=_number(make.group("n")), portion=None, portion_words="", fewer=None,
                    price=rest.price if rest.price is not None else base.price, on=rest.on or base.on)
        )  # fmt: skip
    more = _MORE.match(words) or _AND_N.match(words)
    if more is None or base.action not in ("buy", "sell", "add") or _action(words)[0] is not None:
        return None
    rest = _parse(words, base.action, today, loose=True)
    count = next(g for g in (more.groupdict().get(k) for k in ("a", "b", "n")) if g)
    ticker = rest.ticker or base.ticker
    if rest.tickers and rest.ticker is None:
        return _checked(rest)
    if _MORE.match(words) is None and not rest.tickers:
        return None  # "and 5" names neither "more" nor a ticker
    return _checked(
        Change(
            action="buy" if base.action == "add" else base.action,
            ticker=ticker,
            tickers=(ticker,) if ticker else (),
            shares=_number(count),
            price=rest.price,
            on=rest.on,
        )
    )


def _fill_in(words: str, earlier: Earlier, suggested: str | None, today: date) -> Change | None:
    """The reply to a question back: the piece that was missing, or "never mind"."""
    base = earlier.change
    if _NO.match(words):
        return replace(base, problem="dropped")
    if base.problem == "typo" and suggested and _YES.match(words):
        return _checked(replace(base, ticker=suggested, tickers=(suggested,), typo=None))
    fresh_action = _action(words)[0]
    if _QUESTION.match(words) or _LOOKUP_WORDS.search(words) or len(words.split()) > 14:
        return None
    if fresh_action is not None and fresh_action != base.action:
        return None
    given = _parse(words, base.action, today, loose=True)
    if (
        given.ticker is None
        and given.typo is None
        and given.shares is None
        and given.price is None
        and given.portion is None
        and given.amount is None
        and given.on is None
    ):
        return None
    shares, price = given.shares, given.price
    if earlier.asked_for == "price" and shares is not None and price is None and base.shares is not None:
        shares, price = None, shares  # "what did you pay?" → "120"
    merged = replace(
        base,
        ticker=given.ticker or base.ticker if given.typo is None else None,
        tickers=given.tickers or base.tickers,
        typo=given.typo,
        shares=shares if shares is not None else (base.shares if given.portion is None else None),
        portion=given.portion if given.portion is not None else (base.portion if shares is None else None),
        portion_words=given.portion_words or (base.portion_words if shares is None else ""),
        price=price if price is not None else base.price,
        amount=given.amount if given.amount is not None else base.amount,
        on=given.on or base.on,
    )
    if merged.tickers and merged.ticker and len(merged.tickers) > 1:
        merged = replace(merged, tickers=(merged.ticker,))
    return _checked(merged)


def _undo(earlier: Earlier | None) -> Change:
    """ "undo that": the change that puts the holding back as it was before the last change."""
    if earlier is None or earlier.outcome == "asked":
        return Change(action="set", problem="nothing_to_undo")
    if earlier.outcome != "made" or earlier.made is None:
        return Change(action="set", problem="not_made", ticker=earlier.change.ticker, undoing=_what(earlier))
    made = earlier.made
    symbol = str(made.get("symbol") or "")
    before = float(made.get("shares_before") or 0)
    after = float(made.get("shares_after") or 0)
    what = _what(earlier)
    common = {"ticker": symbol, "tickers": (symbol,), "undoing": what}
    if before == 0:
        return Change(action="remove", **common)
    if after == 0:
        return Change(action="add", shares=before, price=earlier.cost_before, **common)
    if made.get("action") == "sold":
        return Change(action="set", shares=before, **common)
    return Change(action="set", shares=before, price=earlier.cost_before, **common)


def _what(earlier: Earlier) -> str:
    """The earlier change in a few words: "the purchase of 10 NVDA shares"."""
    name, arguments = earlier.call or ("", {})
    symbol = arguments.get("ticker") or earlier.change.ticker or "the holding"
    shares = arguments.get("shares")
    count = share_count(shares, symbol) if isinstance(shares, int | float) else f"{symbol} shares"
    if name == "record_trade":
        return f"the {'purchase' if arguments.get('side') == 'buy' else 'sale'} of {count}"
    if name == "add_holding":
        return f"the addition of {count}"
    if name == "remove_holding":
        return f"the removal of {symbol}"
    return f"the change to your {symbol} holding"


def share_count(value: float, symbol: str = "") -> str:
    """ "10 NVDA shares", "1 NVDA share", "2.5 shares"."""
    amount = f"{value:,.4f}".rstrip("0").rstrip(".")
    return f"{amount} {symbol + ' ' if symbol else ''}share{'' if value == 1 else 's'}"


# --- what a turn left behind --------------------------------------------------------------------


def settle(change: Change, turn: Sequence[tuple[str, dict[str, Any], str | None]]) -> Earlier:
    """What became of a turn's change, from its calls and their results: (tool, arguments, result text)."""
    results = [read_result(name, arguments, text or "") for name, arguments, text in turn]
    made = next((r for r in results if r.tool in CHANGE_TOOLS), None)
    if made is None:
        no_price = any(r.tool == "get_stock_quote" and not r.ok for r in results)
        asked_for: Literal["shares", "price"] = (
            "price" if no_price and change.action in ("buy", "add") and change.shares else "shares"
        )
        return Earlier(change=change, outcome="asked", asked_for=asked_for)
    call = (made.tool, dict(made.arguments))
    if made.ok and made.value is not None and "shares_after" in made.value:
        symbol = str(made.value.get("symbol") or "")
        held = next((text for name, _, text in turn if name == "get_portfolio" and text), "")
        return Earlier(
            change=change, outcome="made", call=call, made=made.value, cost_before=holding_cost(held, symbol)
        )
    outcome: Outcome = "declined" if denial(made) is not None else "failed"
    return Earlier(change=change, outcome=outcome, call=call)


def denial(result: Result) -> str | None:
    """The user's reason when `result` says they turned the change down ("" for none); None if they did not."""
    error = result.error or ""
    if not error.startswith(DENIED_RESULT):
        return None
    return error[len(DENIED_RESULT) :].strip().removeprefix("Their reason:").strip()


def holding_cost(portfolio_text: str, symbol: str) -> float | None:
    """A holding's average cost, read from the portfolio tool's JSON (even when it was shortened)."""
    found = re.search(
        rf'\{{"symbol":\s*"{re.escape(symbol)}"[^{{}}]*?"cost_basis":\s*({_NUM})', portfolio_text
    )
    return float(found.group(1)) if found else None


def held_rows(portfolio: Result | None) -> dict[str, dict[str, Any]] | None:
    """The holdings a portfolio result lists, by ticker; None when it was not read."""
    if portfolio is None or not portfolio.ok or portfolio.value is None:
        return None
    rows = portfolio.value.get("holdings") or []
    return {tk.canonical(str(r.get("symbol") or "")): r for r in rows if isinstance(r, dict)}
