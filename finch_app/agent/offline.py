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
- **List recent congressional trades** — Senate and House disclosures (*"get recent senate trades"*, *"latest house trades"*)
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
        limit = _requested_limit(text)
        calls = []
        for intent in _INTENTS:
            if intent.tool in available and intent.pattern.search(text):
                self._call_counter += 1
                arguments = {"limit": limit} if intent.takes_limit and limit else {}
                calls.append(
                    ToolCallRequest(
                        id=f"call_offline_{self._call_counter}",
                        name=intent.tool,
                        arguments=json.dumps(arguments),
                    )
                )
        return calls

    async def _speak(self, text: str) -> AsyncIterator[TextDelta]:
        """Stream text a few words at a time, like a model does."""
        pieces = re.findall(r"\S+\s*|\s+", text)
        for start in range(0, len(pieces), self.chunk_words):
            yield TextDelta(text="".join(pieces[start : start + self.chunk_words]))
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)


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
        content = message.content or ""
        try:
            value: Any = json.loads(content)
        except json.JSONDecodeError:
            value = content
        results.append((message.name or "", value))
    results.reverse()
    return results


# --- answer writing -------------------------------------------------------------------


def compose_answer(question: str, results: list[tuple[str, Any]]) -> str:
    sections: list[str] = []
    by_tool: dict[str, Any] = {}
    for name, value in results:
        if not isinstance(value, dict):
            sections.append(f"**{name}** failed: {str(value).removeprefix('Error: ')}")
            continue
        by_tool[name] = value
        writer = _WRITERS.get(name)
        if writer:
            sections.append(writer(value))
    overlap = _overlap_section(by_tool)
    if overlap:
        sections.append(overlap)
    notes = sorted({_provenance_line(v) for v in by_tool.values() if _provenance_line(v)})
    if notes:
        sections.append("  \n".join(f"_{n}_" for n in notes))
    if any(not v.get("needs_auth") for v in by_tool.values()):
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


def _provenance_line(result: dict[str, Any]) -> str | None:
    prov = result.get("provenance")
    if not isinstance(prov, dict):
        return None
    as_of = prov.get("as_of", "")
    try:
        when = datetime.fromisoformat(as_of.replace("Z", "+00:00")).strftime("%b %d, %Y")
    except ValueError:
        when = as_of
    if prov.get("mode") == "sample":
        return f"Source: {prov.get('source')} — sample data as of {when}, not live."
    return f"Source: {prov.get('source')}, as of {when}."


def _write_portfolio(result: dict[str, Any]) -> str:
    if result.get("needs_auth"):
        return (
            "### Your portfolio\n\nYou don't have any holdings in Finch yet. "
            "Add your holdings (or connect a brokerage) and ask me again."
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


_WRITERS = {
    "get_portfolio": _write_portfolio,
    "get_reddit_trending_stocks": _write_trending,
    "get_recent_senate_trades": _write_trades,
    "get_recent_house_trades": _write_trades,
}
