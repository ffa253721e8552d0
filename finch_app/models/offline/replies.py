"""Replies that need no tools: hello, thanks, help, "which one?", and questions Finch can't look up.

Short and warm; the list of what Finch can do is shown once per conversation, and a
question outside it gets one line and two suggestions instead.
"""

from __future__ import annotations

from finch_app.models.offline import ledger
from finch_app.models.offline import tickers as tk
from finch_app.models.offline.intents import MENU_MARKER, Ask, Context

MENU = f"""{MENU_MARKER} (I'm Finch's offline model: no API key needed):

- **Your portfolio** — value, gains and weights: *"review my portfolio"*
- **Prices** — quotes and price history: *"NVDA over the last 3 months"*
- **Reddit** — what's trending, or the chatter about a ticker: *"how is TSLA doing on Reddit?"*
- **Congress** — Senate and House trades: *"what are senators buying?"*
- **Insiders** — Form 4 filings: *"insider trades at Apple"*
- **Putting them together** — *"compare my portfolio with recent Senate trades"*, *"why did NVDA drop?"*,
  *"should I sell NVDA?"*

Follow-ups work too: *"and AMD?"*, *"what about the House?"*, *"only purchases"*, *"show that as a chart"*.

_For open-ended questions, set `OPENAI_API_KEY` and restart Finch to use a full language model._"""

_GENERAL = (
    "what's trending on Reddit?",
    "compare my portfolio with recent Senate trades",
    "why did NVDA drop?",
    "insider trades in my portfolio",
    "review my portfolio",
)


def suggestions(context: Context, n: int = 2) -> list[str]:
    """Questions worth asking next, built on the conversation so far and not asked already."""
    asked = {q.strip().lower().rstrip("?!. ") for q in context.asked}
    ideas: list[str] = []
    last = context.last
    if last is not None and last.tickers:
        symbol = last.tickers[0]
        if last.kind != "advice":
            ideas.append(f"should I sell {symbol}?")
        if "insiders" not in last.topics:
            ideas.append(f"insider trades at {symbol}")
        if last.kind != "why":
            ideas.append(f"why did {symbol} move?")
    if last is not None and last.chambers:
        ideas += ["only purchases", "compare my portfolio with recent Senate trades"]
    ideas += list(_GENERAL)
    fresh = [i for i in dict.fromkeys(ideas) if i.lower().rstrip("?!. ") not in asked]
    return fresh[:n]


def _offer(context: Context) -> str:
    picks = suggestions(context)
    return " or ".join(f'*"{p}"*' for p in picks)


def reply(ask: Ask, context: Context) -> str:
    """The answer to a message that takes no tools."""
    if ask.kind == "change" and ask.change is not None:
        return ledger.ask_back(ask.change)
    if ask.kind == "greeting":
        if context.asked:
            return f"Hi again! What shall I look up next? You could try {_offer(context)}."
        return (
            "Hi! I'm Finch. I can look up your portfolio, prices, what Reddit is talking about, and what "
            "members of "
            f"Congress and company insiders are trading. Try {_offer(context)}."
        )
    if ask.kind == "thanks":
        return f"You're welcome! Happy to dig further — {_offer(context)}, for example."
    if ask.kind == "help":
        if context.menu_shown:
            topics = "your portfolio, prices, Reddit, and Senate, House and insider trades"
            return f"As above: {topics}. Try {_offer(context)}."
        return MENU
    if ask.kind == "clarify":
        return _clarify(ask, context)
    if ask.kind == "off_topic":
        reason = (
            " — Finch has prices, Reddit mentions and Senate, House and insider trades, but no news, "
            "forecasts or economic data"
            if ask.market
            else ""
        )
        return f"That's outside what I can look up{reason}. You could ask {_offer(context)}."
    return "I can't look that up here: the tools it needs aren't available in this Finch."


def _clarify(ask: Ask, context: Context) -> str:
    if ask.typo:
        written, meant = ask.typo
        question = {
            "why": " and I'll show you how it moved",
            "advice": " and I'll lay out the facts to weigh",
        }.get(ask.wanted or "", "")
        return (
            f'I don\'t recognise "{written}" — did you mean {tk.labelled(meant)}? '
            f"Say *yes*{question}, or type the ticker."
        )
    if ask.wanted == "why":
        return (
            "Which stock? Finch has no news source, but for a ticker it can show the move with dates and "
            "figures and "
            'what insiders, Congress and Reddit did around it — e.g. *"why did NVDA drop?"*.'
        )
    if ask.wanted == "advice":
        return 'Which stock? Name one — e.g. *"should I sell NVDA?"* — and I\'ll lay out the facts to weigh.'
    return f"I need a little more to go on — what should I narrow? You could ask {_offer(context)}."
