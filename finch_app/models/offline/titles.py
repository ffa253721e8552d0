"""A conversation's title from its first question: "Portfolio vs Senate trades", "Why NVDA dropped".

Built from the understood question, not its wording, so it is short and reads the same
however the question was put; anything else falls back to the question itself, tidied.
"""

from __future__ import annotations

from finch_app.models.offline import words as w
from finch_app.models.offline.intents import Ask, read_ask
from finch_app.models.offline.plan import RANGE_WORDS, price_range

MAX_TITLE = 60


def title_for(question: str) -> str:
    """A short title for a conversation that starts with `question`."""
    ask = read_ask(question)
    title = _from_ask(ask) or _tidy(question)
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"


def topic_title(question: str) -> str:
    """A title only when the question names a topic ("Portfolio review"); "" for "hello"."""
    title = _from_ask(read_ask(question)) or ""
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"


def _names(ask: Ask) -> str:
    return w.join_and(ask.tickers[:3]) + (" and others" if len(ask.tickers) > 3 else "")


def _chambers(ask: Ask) -> str:
    chambers = ask.chambers
    if chambers == {"senate", "house"}:
        return "Congress"
    return "Senate" if "senate" in chambers else "House"


def _period(days: int | None) -> str:
    if not days:
        return ""
    return f" over {RANGE_WORDS[price_range(days)]}"


_CHANGE_TITLES = {"buy": "Bought", "sell": "Sold", "add": "Add", "remove": "Remove", "set": "Update"}


def _change(ask: Ask) -> str | None:
    """ "Bought NVDA", "Sold half of TSLA", "Remove TSLA", "Update AAPL"; None when no ticker is known."""
    change = ask.change
    if change is None or change.ticker is None or change.problem in ("order", "tickers"):
        return None
    verb = _CHANGE_TITLES[change.action]
    if change.action == "sell" and change.portion is not None and change.shares is None:
        return f"Sold {change.portion_words} of {change.ticker}"
    return f"{verb} {change.ticker}"


def _from_ask(ask: Ask) -> str | None:
    if ask.kind == "change":
        return _change(ask)
    names = _names(ask)
    side = {"purchase": "purchases", "sale": "sales"}.get(ask.side or "", "trades")
    if ask.kind == "why":
        if not ask.tickers:
            return None
        verb = {"down": "dropped", "up": "rose"}.get(ask.direction or "", "moved")
        return f"Why {names} {verb}"
    if ask.kind == "advice":
        if not ask.tickers:
            return "What to buy: Congress and Reddit"
        action = {"buy": "Buy", "sell": "Sell", "hold": "Hold"}.get(ask.action or "", "Buy or sell")
        return f"{action} {names}? The facts"
    if ask.kind != "lookup":
        return None
    topics = ask.topics
    if "brokerage" in topics:
        return "Connect a brokerage"
    if "portfolio" in topics and ask.chambers:
        return f"Portfolio vs {_chambers(ask)} {side}"
    if "portfolio" in topics and "trending" in topics:
        return "Portfolio vs Reddit trends"
    if "portfolio" in topics and "insiders" in topics and not ask.tickers:
        return "Insider trades in my holdings"
    if "insiders" in topics:
        return f"Insider trades at {names}" if ask.tickers else "Latest insider trades"
    if ask.compare and len(ask.tickers) > 1:
        return " vs ".join(ask.tickers[:4])
    if "portfolio" in topics:
        return f"{names} in my portfolio" if ask.tickers else "Portfolio review"
    if ask.chambers:
        who = _chambers(ask)
        if ask.tickers:
            return f"{who} {side} of {names}"
        return f"Recent {who} {side}" if who != "Congress" else f"Congressional {side}"
    if "sentiment" in topics:
        return f"{names} on Reddit"
    if "trending" in topics:
        return "Trending on Reddit"
    if ask.market:
        return "The market today"
    if "history" in topics and "quote" not in topics:
        return f"{names}{_period(ask.days) or ' price history'}"
    if "quote" in topics:
        return f"{names} price" + ("s" if len(ask.tickers) > 1 else "")
    return None


def _tidy(question: str) -> str:
    text = " ".join(question.split()).strip(" ?!.")
    if not text:
        return "New conversation"
    return text[0].upper() + text[1:]
