"""The offline model: a deterministic stand-in for an LLM, so Finch works with no key.

It speaks the same `ChatModel` protocol as the OpenAI model: from the user's words it
picks tools (keyword rules covering the common questions and their combinations),
and once the tool results are back it writes a real markdown answer from them. It
only reads tool results as JSON, so it depends on their field names, not their code.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from finch_app.agent.model import ChatMessage, ModelOutput, TextDelta, ToolCallRequest
from finch_app.agent.resources import split_resource_note

OFFLINE_LABEL = "Offline model"


@dataclass(frozen=True)
class _Intent:
    tool: str
    pattern: re.Pattern[str]
    takes_limit: bool = True


_INTENTS = (
    _Intent(
        "get_portfolio",
        re.compile(r"portfolio|holding|position|my (stocks|shares|investments|account)|net worth|allocation", re.I),
        takes_limit=False,
    ),
    _Intent(
        "get_reddit_trending_stocks",
        re.compile(r"reddit|trending|wsb|wallstreetbets|buzz|hype|meme|popular|mentions|retail sentiment", re.I),
    ),
    _Intent("get_recent_senate_trades", re.compile(r"senat|congress|politician|lawmaker|capitol", re.I)),
    _Intent(
        "get_recent_house_trades",
        re.compile(r"\bhouse\b|representative|congressm|congresswom|congress|politician|lawmaker|capitol", re.I),
    ),
)
_LIMIT = re.compile(r"\b(?:top|last|latest|recent|first)\s+(\d{1,3})\b|\b(\d{1,3})\s+(?:trades|tickers|stocks|names)\b", re.I)

HELP_TEXT = """I'm Finch's **offline model**: I run without an API key or internet, using bundled sample data. I can:

- **Review your portfolio** — holdings, value, gains and weights (*"review my portfolio"*)
- **Show what's trending on Reddit** — most-mentioned tickers and their 24 h change (*"what's trending on reddit?"*)
- **Check Reddit sentiment for tickers** — *"how is TSLA doing on reddit?"*, *"compare AMD vs NVDA"*
- **List recent congressional trades** — Senate and House disclosures (*"get recent senate trades"*, *"latest house trades"*)
- **Look up insider (Form 4) trades** — the latest filings, one ticker, or your whole portfolio (*"latest insider trades"*, *"insider trades at NVDA"*, *"insider trades in my portfolio"*)
- **Quote and chart tickers** — *"price of AAPL and MSFT"*, *"NVDA over the last 6 months"*
- **Combine them** — e.g. *"compare my portfolio with recent senate trades"*

For open-ended questions, set `OPENAI_API_KEY` (and optionally `OPENAI_BASE_URL` and `FINCH_MODEL`) and restart Finch to use a real model."""


class OfflineChatModel:
    """Rule-based `ChatModel`: picks tools from keywords, writes answers from results."""

    def __init__(self, *, token_delay_s: float = 0.01, chunk_words: int = 3) -> None:
        self.token_delay_s = token_delay_s
        self.chunk_words = chunk_words
        self._call_counter = 0

    @property
    def label(self) -> str:
        return OFFLINE_LABEL

    async def stream(self, messages: list[ChatMessage], tools: list[dict[str, Any]]) -> AsyncIterator[ModelOutput]:
        available = {t["function"]["name"] for t in tools}
        last = messages[-1]
        if last.role == "user":
            calls = self._plan(last.content or "", available)
            if calls:
                for call in calls:
                    yield call
                return
            async for delta in self._speak(HELP_TEXT):
                yield delta
            return
        results = _results_of_last_round(messages)
        question = next((m.content or "" for m in reversed(messages) if m.role == "user"), "")
        async for delta in self._speak(compose_answer(question, results)):
            yield delta

    def _plan(self, text: str, available: set[str]) -> list[ToolCallRequest]:
        planned = [(name, args) for name, args in plan_tools(text) if name in available]
        calls = []
        for name, arguments in planned:
            self._call_counter += 1
            calls.append(
                ToolCallRequest(id=f"call_offline_{self._call_counter}", name=name, arguments=json.dumps(arguments))
            )
        return calls

    async def _speak(self, text: str) -> AsyncIterator[TextDelta]:
        """Stream text a few words at a time, like a model does."""
        pieces = re.findall(r"\S+\s*|\s+", text)
        for start in range(0, len(pieces), self.chunk_words):
            yield TextDelta(text="".join(pieces[start : start + self.chunk_words]))
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)


_TICKER_WORD = re.compile(r"\$[A-Za-z]{1,5}(?:\.[A-Za-z])?\b|\b[A-Z]{1,5}(?:\.[A-Z])?\b")
_NOT_TICKERS = frozenset(
    "I A AN AND OR THE ETF ETFS CEO CFO CTO USD US USA UK EU OK IPO EPS PE AI IS IT MY ME VS DO TO OF IN ON AT BY "
    "FOR WSB SEC FMP NYSE API GDP CPI FED EV YTD TTM EOD ATH IRA LLC INC CO HOW WHAT WHO WHY ANY ALL RSS PM AM ET "
    "Q1 Q2 Q3 Q4 FAQ LOL DD YOLO FOMO HODL".split()
)
_COMPANY_NAMES = {
    "apple": "AAPL", "microsoft": "MSFT", "nvidia": "NVDA", "tesla": "TSLA", "amazon": "AMZN",
    "google": "GOOGL", "alphabet": "GOOGL", "meta": "META", "facebook": "META", "netflix": "NFLX",
    "palantir": "PLTR", "gamestop": "GME", "exxon": "XOM", "jpmorgan": "JPM", "berkshire": "BRK.B",
}
_COMPARE = re.compile(r"\bcompare\b|\bvs\.?\b|\bversus\b|side by side", re.I)
_INSIDER = re.compile(r"insider|form 4|executives?|directors?", re.I)
_HISTORY = re.compile(r"histor|chart|over the (last|past)|past \d+|last \d+|since|trend|performance of|perform", re.I)
_QUOTE = re.compile(r"price|quote|trading at|worth|how (is|are|'s)|doing|cost", re.I)
_REDDIT = re.compile(r"reddit|wsb|wallstreetbets|buzz|hype|mentions|retail sentiment", re.I)
_WINDOW = re.compile(r"(\d{1,4})\s*(day|week|month|year)s?", re.I)


def mentioned_tickers(text: str) -> list[str]:
    """Tickers in the user's words: $-prefixed or all-caps symbols, and well-known company names."""
    found: list[str] = []
    for match in _TICKER_WORD.finditer(text):
        word = match.group(0)
        symbol = word.lstrip("$").upper()
        if word.startswith("$") or symbol not in _NOT_TICKERS:
            found.append(symbol)
    lowered = text.lower()
    for name, symbol in _COMPANY_NAMES.items():
        if re.search(rf"\b{name}\b", lowered):
            found.append(symbol)
    return list(dict.fromkeys(found))


def _window_days(text: str) -> int:
    match = _WINDOW.search(text)
    if not match:
        return 365 if re.search(r"\byear\b|12 months", text, re.I) else 90
    count, unit = int(match.group(1)), match.group(2).lower()
    return max(5, min(1825, count * {"day": 1, "week": 7, "month": 30, "year": 365}[unit]))


_PORTFOLIO_WORDS = re.compile(r"portfolio|my holdings|my stocks|my positions|i own|i hold", re.I)
_BROKERAGE = re.compile(r"connect|link", re.I)
_BROKER_WORDS = re.compile(r"broker|account|schwab|fidelity|robinhood|vanguard|e\*?trade", re.I)


def _price_range(text: str) -> str:
    days = _window_days(text)
    return next(r for r, d in (("5d", 7), ("1mo", 31), ("3mo", 92), ("6mo", 183), ("1y", 366), ("2y", 731), ("5y", 1827)) if days <= d)


def plan_tools(text: str) -> list[tuple[str, dict[str, Any]]]:
    """The tool calls a careful assistant would make for these words (deterministic rules)."""
    tickers = mentioned_tickers(text)
    limit = _requested_limit(text)
    with_limit = {"limit": limit} if limit else {}
    planned: list[tuple[str, dict[str, Any]]] = []
    if _BROKERAGE.search(text) and _BROKER_WORDS.search(text):
        return [("request_brokerage_connection", {})]
    if _COMPARE.search(text) and len(tickers) >= 2:
        planned.append(("compare_reddit_sentiment", {"tickers": tickers[:10]}))
    insiders = bool(_INSIDER.search(text))
    portfolio_insiders = insiders and not tickers and bool(_PORTFOLIO_WORDS.search(text))
    if insiders:
        if tickers:
            planned += [("search_ticker_insider_activity", {"ticker": t}) for t in tickers[:3]]
        elif portfolio_insiders:
            planned.append(("get_portfolio_insider_activity", {"days_back": _window_days(text)} if _WINDOW.search(text) else {}))
        else:
            planned.append(("get_recent_insider_trades", with_limit))
    if tickers and _HISTORY.search(text) and not planned:
        planned += [("get_price_history", {"ticker": t, "range": _price_range(text)}) for t in tickers[:3]]
    if tickers and _REDDIT.search(text) and not any(n == "compare_reddit_sentiment" for n, _ in planned):
        planned += [("get_reddit_ticker_sentiment", {"ticker": t}) for t in tickers[:3]]
    if tickers and not planned and (_QUOTE.search(text) or len(text.split()) <= 4):
        planned += [("get_stock_quote", {"ticker": t}) for t in tickers[:5]]
    has_sentiment = any(n in {"get_reddit_ticker_sentiment", "compare_reddit_sentiment"} for n, _ in planned)
    for intent in _INTENTS:
        if not intent.pattern.search(text):
            continue
        if intent.tool == "get_reddit_trending_stocks" and has_sentiment:
            continue
        if intent.tool == "get_portfolio" and portfolio_insiders:
            continue
        if intent.tool in {"get_recent_senate_trades", "get_recent_house_trades"} and insiders and not re.search(
            r"senat|house|congress", text, re.I
        ):
            continue
        planned.append((intent.tool, with_limit if intent.takes_limit else {}))
    return planned


def _requested_limit(text: str) -> int | None:
    match = _LIMIT.search(text)
    if not match:
        return None
    value = int(match.group(1) or match.group(2))
    return max(1, min(value, 100))


def _results_of_last_round(messages: list[ChatMessage]) -> list[tuple[str, Any]]:
    """(tool name, decoded result or error text) for the tool messages at the end."""
    results: list[tuple[str, Any]] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        content, saved = split_resource_note(message.content or "")
        try:
            value: Any = json.loads(content)
        except json.JSONDecodeError:
            value = content
        if saved and isinstance(value, dict):
            value["_resource"] = {"title": saved[0], "id": saved[1]}
        results.append((message.name or "", value))
    results.reverse()
    return results


# --- answer writing -------------------------------------------------------------------


def compose_answer(question: str, results: list[tuple[str, Any]]) -> str:
    sections: list[str] = []
    grouped: dict[str, list[dict[str, Any]]] = {}
    for name, value in results:
        if not isinstance(value, dict):
            sections.append(f"**{name}** failed: {str(value).removeprefix('Error: ')}")
            continue
        grouped.setdefault(name, []).append(value)
    for name, values in grouped.items():
        if name in _GROUP_WRITERS:
            sections.append(_GROUP_WRITERS[name](values))
        elif name in _WRITERS:
            sections += [_WRITERS[name](v) for v in values]
    by_tool = {name: values[0] for name, values in grouped.items()}
    overlap = _overlap_section(by_tool)
    if overlap:
        sections.append(overlap)
    saved = [v["_resource"] for values in grouped.values() for v in values if "_resource" in v]
    if saved:
        links = ", ".join(f"[{r['title']}](resource:{r['id']})" for r in saved)
        sections.append(f"📊 Tables and charts: {links} — also in the Results panel.")
    notes = sorted({line for values in grouped.values() for v in values for line in _provenance_lines(v)})
    if notes:
        sections.append("  \n".join(f"_{n}_" for n in notes))
    if any(not v.get("needs_auth") for values in grouped.values() for v in values):
        sections.append("_This is information, not financial advice._")
    return "\n\n".join(s for s in sections if s).strip() or "The tools returned nothing to report."


def _money(value: float | None, cents: bool = False) -> str:
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}" if cents else f"{sign}${abs(value):,.0f}"


def _pct(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "—"
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


def _day(value: str | None) -> str:
    if not value:
        return "—"
    try:
        return date.fromisoformat(value[:10]).strftime("%b %d, %Y")
    except ValueError:
        return value


def _provenance_lines(result: dict[str, Any]) -> list[str]:
    provenance = result.get("provenance")
    items = provenance if isinstance(provenance, list) else [provenance] if isinstance(provenance, dict) else []
    return [_provenance_line(p) for p in items if isinstance(p, dict)]


def _provenance_line(prov: dict[str, Any]) -> str:
    as_of = prov.get("as_of", "")
    try:
        when = datetime.fromisoformat(as_of.replace("Z", "+00:00")).strftime("%b %d, %Y")
    except ValueError:
        when = as_of
    note = prov.get("data_note")
    if prov.get("mode") == "sample":
        reason = f" ({note.split(' — ', 1)[1]})" if note and " — " in note else ""
        return f"Source: {prov.get('source')} — sample data as of {when}, not live{reason}."
    if prov.get("mode") == "cached":
        return f"Source: {prov.get('source')} — {note or 'cached copy'}."
    return f"Source: {prov.get('source')}, as of {when}." + (f" {note}." if note else "")


def _write_portfolio(result: dict[str, Any]) -> str:
    if result.get("needs_auth"):
        return (
            "### Your portfolio\n\nYou don't have any holdings in Finch yet. "
            + ("Add your holdings (or connect a brokerage) and ask me again." if result.get("brokerage_available")
               else "Add your holdings, import a broker CSV or load the demo portfolio, and ask me again.")
        )
    holdings = result.get("holdings", [])
    lines = [
        "### Your portfolio",
        "",
        f"Total value **{_money(result.get('total_value'))}** across {len(holdings)} holdings — "
        f"{'up' if result.get('total_gain', 0) >= 0 else 'down'} "
        f"**{_money(abs(result.get('total_gain', 0)))}** ({_pct(result.get('total_gain_pct'))}) on a cost of "
        f"{_money(result.get('total_cost'))}.",
        "",
        "| Symbol | Shares | Price | Value | Gain | Weight |",
        "|:--|--:|--:|--:|--:|--:|",
    ]
    for h in holdings:
        lines.append(
            f"| **{h['symbol']}** | {h['shares']:g} | {_money(h.get('price'), cents=True)} | "
            f"{_money(h.get('value'))} | {_pct(h.get('gain_pct'))} | {_pct(h.get('weight_pct'), signed=False)} |"
        )
    lines.append(
        f"| **Total** | | | **{_money(result.get('total_value'))}** | {_pct(result.get('total_gain_pct'))} | 100% |"
    )
    if result.get("source") == "brokerage":
        lines += ["", "Positions synced from your brokerage (SnapTrade)."]
    if result.get("message"):
        lines += ["", f"_Note: {result['message']}_"]
    priced = [h for h in holdings if h.get("gain_pct") is not None]
    if priced:
        best = max(priced, key=lambda h: h["gain_pct"])
        worst = min(priced, key=lambda h: h["gain_pct"])
        top = max(holdings, key=lambda h: h.get("weight_pct") or 0)
        lines += [
            "",
            f"- Best performer: **{best['symbol']}** ({_pct(best['gain_pct'])}); "
            f"weakest: **{worst['symbol']}** ({_pct(worst['gain_pct'])}).",
            f"- Largest position: **{top['symbol']}** at {_pct(top.get('weight_pct'), signed=False)} of the portfolio"
            + (" — a concentration worth keeping an eye on." if (top.get("weight_pct") or 0) > 25 else "."),
        ]
    return "\n".join(lines)


def _write_trending(result: dict[str, Any]) -> str:
    tickers = result.get("tickers", [])
    if not tickers:
        return "### Trending on Reddit\n\nNo tickers are trending right now."
    lines = [
        "### Trending on Reddit",
        "",
        "| # | Ticker | Name | Mentions (24 h) | Change | Upvotes |",
        "|--:|:--|:--|--:|--:|--:|",
    ]
    for t in tickers:
        lines.append(
            f"| {t['rank']} | **{t['ticker']}** | {t['name']} | {t['mentions']:,} | "
            f"{_pct(t.get('mentions_change_pct'))} | {t['upvotes']:,} |"
        )
    movers = [t for t in tickers if t.get("mentions_change_pct") is not None]
    if movers:
        riser = max(movers, key=lambda t: t["mentions_change_pct"])
        lines += ["", f"Biggest jump in chatter: **{riser['ticker']}** ({_pct(riser['mentions_change_pct'])} mentions vs. a day earlier)."]
    return "\n".join(lines)


def _write_trades(result: dict[str, Any]) -> str:
    chamber = "Senate" if result.get("chamber") == "senate" else "House"
    trades = result.get("trades", [])
    if not trades:
        return f"### Recent {chamber} trades\n\nNo trades were disclosed in this period."
    lines = [
        f"### Recent {chamber} trades",
        "",
        "| Date | Member | Ticker | Type | Amount |",
        "|:--|:--|:--|:--|:--|",
    ]
    for t in trades:
        ticker = f"**{t['ticker']}**" if t.get("ticker") else _short(t.get("asset", ""))
        member = t["member"] + (f" ({t['district']})" if t.get("district") else "")
        lines.append(f"| {_day(t.get('transaction_date'))} | {member} | {ticker} | {t['type']} | {t['amount']} |")
    buys = sum(1 for t in trades if str(t.get("type", "")).lower().startswith("purchase"))
    sells = sum(1 for t in trades if str(t.get("type", "")).lower().startswith("sale"))
    counts: dict[str, int] = {}
    for t in trades:
        if t.get("ticker"):
            counts[t["ticker"]] = counts.get(t["ticker"], 0) + 1
    popular = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    summary = f"{buys} purchases and {sells} sales"
    if popular:
        summary += "; most traded: " + ", ".join(f"**{k}** ({v})" for k, v in popular)
    lines += ["", summary + "."]
    return "\n".join(lines)


def _short(text: str, limit: int = 32) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _overlap_section(by_tool: dict[str, Any]) -> str | None:
    portfolio = by_tool.get("get_portfolio")
    if not portfolio or portfolio.get("needs_auth"):
        return None
    held = {h["symbol"] for h in portfolio.get("holdings", [])}
    found: list[str] = []
    for name in ("get_recent_senate_trades", "get_recent_house_trades"):
        result = by_tool.get(name)
        if not result:
            continue
        chamber = "senators" if name.endswith("senate_trades") else "representatives"
        hits: dict[str, list[str]] = {}
        for t in result.get("trades", []):
            if t.get("ticker") in held:
                hits.setdefault(t["ticker"], []).append(f"{t['member']} ({t['type'].lower()})")
        for ticker, who in sorted(hits.items()):
            found.append(f"- **{ticker}** — traded by {chamber}: " + "; ".join(who[:3]) + (" …" if len(who) > 3 else ""))
    trending = by_tool.get("get_reddit_trending_stocks")
    if trending:
        buzz = [t["ticker"] for t in trending.get("tickers", []) if t["ticker"] in held]
        if buzz:
            found.append("- Trending on Reddit and in your portfolio: " + ", ".join(f"**{t}**" for t in buzz))
    if len(by_tool) < 2:
        return None
    if not found:
        return "### How this relates to your portfolio\n\nNone of your holdings appear in these results."
    return "### How this relates to your portfolio\n\n" + "\n".join(found)


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _write_quotes(results: list[dict[str, Any]]) -> str:
    lines = ["### Quotes", "", "| Ticker | Price | Change | As of |", "|:--|--:|--:|:--|"]
    lines += [
        f"| **{q['symbol']}** | {_money(q['price'], cents=True)} | {_pct(q.get('change_pct'))} | {_day(q.get('as_of'))} |"
        for q in results
    ]
    return "\n".join(lines)


def _write_history(result: dict[str, Any]) -> str:
    symbol, points = result.get("symbol"), result.get("points", [])
    first, last = points[0], points[-1]
    lines = [
        f"### {symbol} over {result.get('range')}",
        "",
        f"**{_money(result.get('last_close'), cents=True)}** on {_day(last['date'])}, "
        f"{_pct(result.get('change_pct'))} from {_money(result.get('first_close'), cents=True)} on {_day(first['date'])}. "
        f"Range {_money(result.get('low'), cents=True)} – {_money(result.get('high'), cents=True)}.",
        "",
        "| Date | Close |",
        "|:--|--:|",
    ]
    step = max(1, len(points) // 8)
    sampled = points[::step]
    if sampled[-1] is not last:
        sampled.append(last)
    lines += [f"| {_day(p['date'])} | {_money(p['close'], cents=True)} |" for p in sampled]
    return "\n".join(lines)


def _sentiment_line(r: dict[str, Any]) -> str:
    if not r.get("found"):
        return f"| **{r['ticker']}** | — | — | — | not ranked |"
    previous = f"#{r['rank_24h_ago']}" if r.get("rank_24h_ago") else "new"
    return (
        f"| **{r['ticker']}** | #{r['rank']} | {_num(r.get('mentions'))} | {_pct(r.get('mentions_change_pct'))} | "
        f"{_num(r.get('upvotes'))} upvotes, was {previous} |"
    )


def _write_sentiment(results: list[dict[str, Any]]) -> str:
    header = ["### Reddit sentiment", "", "| Ticker | Rank | Mentions (24 h) | Change | Notes |", "|:--|--:|--:|--:|:--|"]
    lines = header + [_sentiment_line(r) for r in results]
    missing = [r["ticker"] for r in results if not r.get("found")]
    if missing:
        lines += ["", ", ".join(f"**{m}**" for m in missing) + " is not among the tickers Reddit is ranking — little chatter."]
    return "\n".join(lines)


def _write_comparison(result: dict[str, Any]) -> str:
    text = _write_sentiment(result.get("tickers", [])).replace("### Reddit sentiment", "### Reddit sentiment, side by side")
    if result.get("most_discussed"):
        text += f"\n\nMost discussed: **{result['most_discussed']}**."
    return text


def _write_insiders(result: dict[str, Any]) -> str:
    scope = result.get("scope")
    title = {"market": "Latest insider trades", "portfolio": "Insider trades in your holdings"}.get(
        scope, f"Insider trades at {scope}"
    )
    if result.get("needs_auth"):
        return f"### {title}\n\nAdd your holdings first, then I can check insider trades across them."
    trades = result.get("trades", [])
    if not trades:
        return f"### {title}\n\nNo recent Form 4 filings."
    lines = [
        f"### {title}",
        "",
        "| Date | Ticker | Insider | Role | Action | Shares | Price | Value |",
        "|:--|:--|:--|:--|:--|--:|--:|--:|",
    ]
    for t in trades[:25]:
        lines.append(
            f"| {_day(t.get('transaction_date'))} | **{t['ticker']}** | {_short(t['insider'], 28)} | "
            f"{_short(t.get('relationship') or '', 24)} | {t['action']} | {_num(t.get('shares'))} | "
            f"{_money(t.get('price'), cents=True)} | {_money(t.get('value'))} |"
        )
    more = f" (showing 25 of {len(trades)})" if len(trades) > 25 else ""
    lines += ["", f"{result.get('buys', 0)} open-market purchases and {result.get('sells', 0)} open-market sales{more}; "
              "awards and option exercises are routine pay, purchases are the stronger signal."]
    return "\n".join(lines)


def _write_brokerage(result: dict[str, Any]) -> str:
    return "### Connect your portfolio\n\n" + result.get("message", "")


_WRITERS = {
    "get_portfolio": _write_portfolio,
    "request_brokerage_connection": _write_brokerage,
    "get_reddit_trending_stocks": _write_trending,
    "compare_reddit_sentiment": _write_comparison,
    "get_recent_senate_trades": _write_trades,
    "get_recent_house_trades": _write_trades,
    "get_recent_insider_trades": _write_insiders,
    "search_ticker_insider_activity": _write_insiders,
    "get_portfolio_insider_activity": _write_insiders,
    "get_price_history": _write_history,
}
_GROUP_WRITERS = {
    "get_stock_quote": _write_quotes,
    "get_reddit_ticker_sentiment": _write_sentiment,
}
