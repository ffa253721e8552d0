"""One markdown section per kind of tool result: a lead sentence, a small table, its source.

Each writer says what the data shows in a sentence first, keeps tables to a few columns
and rows (long text cut), links the full table in Results when the result was saved, and
ends with the source and as-of of the data. Cross-tool reasoning (joins, "why", "should
I") lives in `analysis.py`; this module knows one tool result at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from finch_app.models.offline import tickers as tk
from finch_app.models.offline import words as w
from finch_app.models.offline.intents import Ask
from finch_app.models.offline.plan import RANGE_DAYS, RANGE_WORDS
from finch_app.models.offline.results import Result

TABLE_ROWS = 10


# --- where the data came from -------------------------------------------------------------


def as_of(result: Result) -> date | None:
    """The as-of day of a result's data (the first source's)."""
    for prov in result.provenances():
        when = _stamp(prov.get("as_of"))
        if when is not None:
            return when.date()
    return None


def _stamp(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def tag(prov: dict[str, Any], *, brief: bool = False) -> str:
    """ "Yahoo Finance — bundled sample data as of Nov 20, 2026, not live"; "SEC EDGAR, as of Nov 20, 2026";
    "Couldn't reach SEC EDGAR; showing sample data as of Nov 20, 2026".

    `brief` drops what the answer's other sources already say ("not live"), for bullets.
    """
    source = str(prov.get("source") or "unknown source")
    when = _stamp(prov.get("as_of"))
    stamp = w.day(when.date()) if when else "an unknown date"
    note = str(prov.get("data_note") or "")
    mode = prov.get("mode")
    if mode == "sample":
        note, _, reason = note.partition(" — ")
        detail = note.partition("; ")[2]
        name = source.removesuffix(" (bundled sample)")
        if reason:
            # A failed live source says so first: "Couldn't reach SEC EDGAR; showing sample data as of …".
            text = f"{reason}; showing sample data as of {stamp}"
        else:
            text = (
                f"{name}, sample data as of {stamp}"
                if brief
                else f"{name} — bundled sample data as of {stamp}, not live"
            )
        return text + (f"; {detail}" if detail else "")
    if mode == "cached":
        # "Couldn't reach SEC EDGAR — showing the copy from 2 h ago" names the source itself.
        return note or f"{source}, a saved copy"
    return f"{source}, as of {stamp}" + (f"; {note}" if note and not brief else "")


def tags(results: Iterable[Result], *, brief: bool = False) -> list[str]:
    """Each distinct source of these results, once."""
    return list(dict.fromkeys(tag(p, brief=brief) for r in results for p in r.provenances()))


def source_line(*results: Result) -> str:
    """The italic line under a table or figure that says where it came from and when."""
    found = tags(results)
    return f"_Source: {'; '.join(found)}._" if found else ""


def cite(*results: Result) -> str:
    """A short source in parentheses, for the end of a bullet."""
    found = tags(results, brief=True)
    return f" _({'; '.join(found)})_" if found else ""


def link(result: Result) -> str | None:
    """A markdown link to the result's saved table in Results."""
    if result.resource is None:
        return None
    title, resource_id = result.resource
    return f"[{title}](resource:{resource_id})"


def more_line(result: Result, shown: int, total: int, noun: str = "row") -> str:
    """Where a cut table's rest is: "Showing 10 of 20 trades; all 20 are in [Recent Senate trades](…)"."""
    target = link(result)
    if shown >= total:
        return f"The full table is in Results: {target}." if target else ""
    where = f"; all {total:,} are in {target} in Results" if target else ""
    return f"Showing {shown} of {w.count(total, noun)}{where}."


def paragraphs(*parts: str | None) -> str:
    return "\n\n".join(p for p in parts if p)


def table(header: Sequence[str], align: str, rows: Iterable[Sequence[str]]) -> str:
    """A markdown table; `align` has one letter per column: l(eft) or r(ight)."""
    marks = {"l": ":--", "r": "--:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --- the portfolio ------------------------------------------------------------------------


def needs_holdings(result: Result) -> str:
    """The user has no holdings: say how to add them (no figures, nobody else's data)."""
    way = (
        "Add your holdings (or connect a brokerage) and ask me again."
        if result.value and result.value.get("brokerage_available")
        else "Add your holdings, import a broker CSV or load the demo portfolio, and ask me again."
    )
    return f"You don't have any holdings in Finch yet. {way}"


def portfolio(result: Result, ask: Ask) -> str:
    """The holdings: total, gain, best and worst, concentration; or the positions asked about."""
    value = result.value or {}
    if result.needs_auth:
        return paragraphs("### Your portfolio", needs_holdings(result))
    holdings = value.get("holdings") or []
    if ask.tickers:
        return paragraphs(
            "### Your portfolio", *[position_sentence(value, t) for t in ask.tickers], source_line(result)
        )
    total, gain, cost = (
        value.get("total_value") or 0,
        value.get("total_gain") or 0,
        value.get("total_cost") or 0,
    )
    lead = (
        f"Your {w.count(len(holdings), 'holding')} {'is' if len(holdings) == 1 else 'are'} worth "
        f"**{w.money(total)}**, {'up' if gain >= 0 else 'down'} **{w.money(abs(gain))}** "
        f"({w.signed_pct(value.get('total_gain_pct'))}) "
        f"on the {w.money(cost)} you paid."
    )
    priced = [h for h in holdings if h.get("gain_pct") is not None]
    if len(priced) > 1:
        best = max(priced, key=lambda h: h["gain_pct"])
        worst = min(priced, key=lambda h: h["gain_pct"])
        top = max(priced, key=lambda h: h.get("weight_pct") or 0)
        lead += (
            f" **{best['symbol']}** has gained the most ({w.signed_pct(best['gain_pct'])}) and "
            f"**{worst['symbol']}** "
            f"the least ({w.signed_pct(worst['gain_pct'])}); **{top['symbol']}** is your largest position at "
            f"{w.share_pct(top.get('weight_pct'))} of the total"
            + (" — a concentration worth keeping an eye on." if (top.get("weight_pct") or 0) > 25 else ".")
        )
    unpriced = [h["symbol"] for h in holdings if h.get("value") is None]
    if unpriced:
        they = "it is" if len(unpriced) == 1 else "they are"
        lead += f" No price was found for {w.join_and(unpriced)}, so {they} left out of the totals."
    shown = holdings[:TABLE_ROWS]
    rows = [
        [
            f"**{h['symbol']}**",
            w.money(h.get("value")),
            w.signed_pct(h.get("gain_pct")),
            w.share_pct(h.get("weight_pct")),
        ]
        for h in shown
    ]
    rows.append(["**Total**", f"**{w.money(total)}**", w.signed_pct(value.get("total_gain_pct")), "100%"])
    notes = []
    if value.get("source") == "brokerage":
        notes.append("Positions synced from your brokerage (SnapTrade).")
    if value.get("message"):
        notes.append(f"_Note: {value['message']}_")
    target = link(result)
    chart = (
        f"The full table (shares, cost, today's change) and an allocation chart are in Results: {target}."
        if target
        else ""
    )
    more = (
        f"Showing your {len(shown)} largest of {len(holdings)} holdings. "
        if len(holdings) > len(shown)
        else ""
    )
    return paragraphs(
        "### Your portfolio",
        lead,
        table(["Symbol", "Value", "Gain", "Weight"], "lrrr", rows),
        " ".join(notes),
        (more + chart).strip(),
        source_line(result),
    )


def holding(portfolio_value: dict[str, Any], symbol: str) -> dict[str, Any] | None:
    return next((h for h in portfolio_value.get("holdings") or [] if tk.same(h.get("symbol"), symbol)), None)


def position_sentence(portfolio_value: dict[str, Any], symbol: str) -> str:
    """ "You hold 55 shares of NVDA …" or "You don't hold TSLA."."""
    found = holding(portfolio_value, symbol)
    if found is None:
        held = [h["symbol"] for h in portfolio_value.get("holdings") or []]
        others = (
            f" — your holdings are {w.join_and(held[:8])}{' and others' if len(held) > 8 else ''}"
            if held
            else ""
        )
        return f"You don't hold **{symbol}**{others}."
    shares = f"{w.number(found['shares'])} {'share' if found['shares'] == 1 else 'shares'}"
    text = (
        f"You hold **{shares} of {found['symbol']}** at an average cost of {w.price(found.get('cost_basis'))}"
    )
    if found.get("value") is None:
        return text + "; Finch found no current price for it."
    gain = found.get("gain") or 0
    return (
        text
        + f", worth **{w.money(found['value'])}** — {'up' if gain >= 0 else 'down'} {w.money(abs(gain))} "
        f"({w.signed_pct(found.get('gain_pct'))}) — {w.share_pct(found.get('weight_pct'))} of your portfolio."
    )


# --- Reddit ---------------------------------------------------------------------------------


def trending(result: Result, ask: Ask) -> str:
    rows_all = (result.value or {}).get("tickers") or []
    if not rows_all:
        return paragraphs("### Trending on Reddit", "No tickers are trending right now.", source_line(result))
    top = rows_all[:3]
    mentions = w.number(top[0]["mentions"])
    lead = f"**{top[0]['ticker']}** is the most-mentioned ticker ({mentions} mentions in 24 h)"
    if len(top) > 1:
        lead += ", then " + w.join_and(f"**{t['ticker']}** ({w.number(t['mentions'])})" for t in top[1:])
    lead += "."
    movers = [t for t in rows_all if t.get("mentions_change_pct") is not None]
    if movers:
        riser = max(movers, key=lambda t: t["mentions_change_pct"])
        jump = w.signed_pct(riser["mentions_change_pct"])
        lead += f" Biggest jump in chatter: **{riser['ticker']}** ({jump} vs the day before)."
    shown = rows_all[: min(ask.limit or TABLE_ROWS, TABLE_ROWS)]
    rows = [
        [
            str(t["rank"]),
            f"**{t['ticker']}**",
            w.cell(t.get("name")),
            w.number(t["mentions"]),
            w.signed_pct(t.get("mentions_change_pct")),
        ]
        for t in shown
    ]
    return paragraphs(
        "### Trending on Reddit",
        lead,
        table(["#", "Ticker", "Name", "Mentions (24 h)", "Change"], "rllrr", rows),
        more_line(result, len(shown), len(rows_all), "ticker"),
        source_line(result),
    )


def sentiment_sentence(value: dict[str, Any]) -> str:
    """One ticker's Reddit attention in a sentence."""
    symbol = value.get("ticker", "?")
    if not value.get("found"):
        return f"**{symbol}** isn't among the tickers Reddit is ranking right now — little or no chatter."
    before = (
        f"; it was #{value['rank_24h_ago']} a day earlier"
        if value.get("rank_24h_ago")
        else "; it is new to the ranking"
    )
    change = value.get("mentions_change_pct")
    change_text = f" ({w.signed_pct(change)} vs the day before)" if change is not None else ""
    return (
        f"**{symbol}** is **#{value['rank']}** on Reddit with {w.number(value.get('mentions'))} mentions "
        "in the last 24 h"
        f"{change_text} and {w.number(value.get('upvotes'))} upvotes{before}."
    )


def sentiment(results: Sequence[Result]) -> str:
    ok = [r for r in results if r.ok]
    if not ok:
        return ""
    if len(ok) == 1:
        return paragraphs(
            "### Reddit sentiment",
            sentiment_sentence(ok[0].value or {}),
            link_line(ok[0]),
            source_line(ok[0]),
        )
    return sentiment_table([r.value or {} for r in ok], ok)


def sentiment_table(
    values: Sequence[dict[str, Any]], results: Sequence[Result], heading: str = "### Reddit sentiment"
) -> str:
    rows = []
    for v in values:
        if v.get("found"):
            rows.append(
                [
                    f"**{v['ticker']}**",
                    f"#{v['rank']}",
                    w.number(v.get("mentions")),
                    w.signed_pct(v.get("mentions_change_pct")),
                ]
            )
        else:
            rows.append([f"**{v.get('ticker')}**", "—", "—", "not ranked"])
    ranked = [v for v in values if v.get("found")]
    lead = ""
    if ranked:
        top = max(ranked, key=lambda v: v.get("mentions") or 0)
        lead = f"Most discussed: **{top['ticker']}** ({w.number(top.get('mentions'))} mentions in 24 h)."
    missing = [v.get("ticker") for v in values if not v.get("found")]
    if missing:
        names = w.join_and(f"**{m}**" for m in missing)
        lead += f" {names} {'is' if len(missing) == 1 else 'are'} not among the tickers Reddit is ranking."
    return paragraphs(
        heading,
        lead.strip(),
        table(["Ticker", "Rank", "Mentions (24 h)", "Change"], "lrrr", rows),
        *[link_line(r) for r in results],
        source_line(*results),
    )


def comparison_sentiment(result: Result) -> str:
    value = result.value or {}
    return sentiment_table(value.get("tickers") or [], [result], "### Reddit sentiment, side by side")


def link_line(result: Result, what: str = "The table") -> str:
    target = link(result)
    return f"{what} is in Results: {target}." if target else ""


# --- prices -----------------------------------------------------------------------------------


def quote_sentence(value: dict[str, Any]) -> str:
    change = value.get("change_pct")
    move = ""
    if change is not None:
        direction = "up" if change > 0 else "down" if change < 0 else "flat"
        move = (
            f", {direction} {w.signed_pct(abs(change)).lstrip('+')} on the day"
            if direction != "flat"
            else ", unchanged on the day"
        )
        if value.get("previous_close") is not None:
            move += f" (previous close {w.price(value['previous_close'])})"
    closed = f"**{w.price(value.get('price'))}** on {w.day(value.get('as_of'))}"
    return f"**{value['symbol']}** last closed at {closed}{move}."


def quotes(results: Sequence[Result]) -> str:
    ok = [r for r in results if r.ok]
    if not ok:
        return ""
    if len(ok) == 1:
        return paragraphs(
            f"### {ok[0].value['symbol']}", quote_sentence(ok[0].value or {}), source_line(ok[0])
        )
    rows = [
        [
            f"**{v['symbol']}**",
            w.price(v.get("price")),
            w.signed_pct(v.get("change_pct")),
            w.day(v.get("as_of")),
        ]
        for v in (r.value or {} for r in ok)
    ]
    return paragraphs(
        "### Quotes", table(["Ticker", "Price", "Change", "As of"], "lrrl", rows), source_line(*ok)
    )


def history_facts(value: dict[str, Any]) -> dict[str, Any] | None:
    """The figures of a price history: first/last/high/low closes with their days."""
    points = [p for p in value.get("points") or [] if p.get("close") is not None]
    if not points:
        return None
    high = max(points, key=lambda p: p["close"])
    low = min(points, key=lambda p: p["close"])
    first, last = points[0], points[-1]
    week = points[-6] if len(points) >= 6 else first
    return {
        "symbol": value.get("symbol"),
        "range": value.get("range"),
        "points": points,
        "first": first,
        "last": last,
        "high": high,
        "low": low,
        "week": week,
        "change": (last["close"] / first["close"] - 1) * 100 if first["close"] else None,
        "week_change": (last["close"] / week["close"] - 1) * 100 if week["close"] else None,
    }


def history_sentence(value: dict[str, Any]) -> str:
    facts = history_facts(value)
    if facts is None:
        return f"No closing prices for **{value.get('symbol')}** in this period."
    first, last, high, low = facts["first"], facts["last"], facts["high"], facts["low"]
    change = facts["change"] or 0
    verb = "up" if change > 0 else "down" if change < 0 else "flat"
    text = (
        f"**{facts['symbol']}** closed at **{w.price(last['close'])}** on {w.day(last['date'])}, "
        f"{verb} {w.signed_pct(abs(change)).lstrip('+')} from {w.price(first['close'])} on "
        f"{w.day(first['date'], year_of=w.as_date(last['date']))}. "
        f"High {w.price(high['close'])} on {w.day(high['date'], year_of=w.as_date(last['date']))}, "
        f"low {w.price(low['close'])} on {w.day(low['date'], year_of=w.as_date(last['date']))}."
    )
    if short_of_range(value):
        start, end = w.as_date(first["date"]), w.as_date(last["date"])
        asked = RANGE_WORDS.get(str(facts["range"]), str(facts["range"]))
        text = (
            f"The data covers only {coverage(value)}, less than the {asked} you asked for, so the change "
            f"is measured from {w.day(start, year_of=end)}. " + text
        )
    return text


def short_of_range(value: dict[str, Any]) -> bool:
    """Whether a price history covers less than the period asked for (the tool says so; older
    results, replayed from history, are measured here)."""
    if "short_of_range" in value:
        return bool(value["short_of_range"])
    facts = [p for p in value.get("points") or [] if p.get("date")]
    covered = RANGE_DAYS.get(str(value.get("range")))
    start, end = (w.as_date(facts[0]["date"]), w.as_date(facts[-1]["date"])) if facts else (None, None)
    return bool(covered and start and end and (end - start).days + 10 < covered)


def coverage(value: dict[str, Any]) -> str:
    """The days a price history covers: "Aug 28 – Nov 20, 2026"."""
    if value.get("covers"):
        return str(value["covers"])
    points = [p for p in value.get("points") or [] if p.get("date")]
    return w.span(points[0]["date"], points[-1]["date"]) if points else "no days"


def history_heading(value: dict[str, Any]) -> str:
    """ "### NVDA over 3 months"; the days covered instead when the data is shorter than asked."""
    if short_of_range(value):
        return f"### {value.get('symbol')}, {coverage(value)}"
    label = RANGE_WORDS.get(str(value.get("range")), str(value.get("range")))
    return f"### {value.get('symbol')} over {label}"


def history(result: Result, ask: Ask) -> str:
    value = result.value or {}
    heading = history_heading(value)
    facts = history_facts(value)
    target = link(result)
    if ask.chart or facts is None:
        chart = f"{target} opens it as a chart in Results." if target else ""
        return paragraphs(heading, history_sentence(value), chart, source_line(result))
    points = facts["points"]
    step = max(1, -(-len(points) // 8))
    sampled = points[::step]
    if sampled[-1] is not points[-1]:
        sampled.append(points[-1])
    end = w.as_date(points[-1]["date"])
    rows = [[w.day(p["date"], year_of=end), w.price(p["close"])] for p in sampled]
    more = f"Every close and the chart: {target}." if target else ""
    return paragraphs(
        heading, history_sentence(value), table(["Date", "Close"], "lr", rows), more, source_line(result)
    )


def overview(quote: Result | None, hist: Result | None) -> str:
    """A ticker at a glance: its last close and the recent move, with a link to the chart."""
    symbol = (quote.value if quote and quote.ok else hist.value if hist and hist.ok else {}).get("symbol", "")
    parts = []
    if quote is not None and quote.ok:
        parts.append(quote_sentence(quote.value or {}))
    if hist is not None and hist.ok:
        facts = history_facts(hist.value or {})
        if facts:
            label = RANGE_WORDS.get(str(facts["range"]), str(facts["range"]))
            end = w.as_date(facts["last"]["date"])
            period = (
                f"Over {coverage(hist.value or {})} (all the data has; you asked for {label})"
                if short_of_range(hist.value or {})
                else f"Over the past {label} ({w.span(facts['first']['date'], facts['last']['date'])})"
            )
            parts.append(
                f"{period} it is "
                f"{w.signed_pct(facts['change'])}, between a low of {w.price(facts['low']['close'])} "
                f"({w.day(facts['low']['date'], year_of=end)}) and a high of "
                f"{w.price(facts['high']['close'])} "
                f"({w.day(facts['high']['date'], year_of=end)})."
            )
            target = link(hist)
            if target:
                parts.append(f"Chart and every close: {target}.")
    used = [r for r in (quote, hist) if r is not None and r.ok]
    return paragraphs(f"### {symbol}", " ".join(parts[:2]), *parts[2:], source_line(*used))


# --- Congress -------------------------------------------------------------------------------


def side_of(trade: dict[str, Any]) -> str:
    """ "purchase", "sale" or "other" for a disclosed trade type ("Sale (Partial)" is a sale)."""
    kind = str(trade.get("type") or "").lower()
    if kind.startswith("purchase"):
        return "purchase"
    if kind.startswith("sale"):
        return "sale"
    return "other"


def buy_sell(trade: dict[str, Any]) -> str:
    return {"purchase": "Buy", "sale": "Sell"}.get(side_of(trade), w.short(trade.get("type"), 14) or "—")


def past_tense(trade: dict[str, Any]) -> str:
    return {"purchase": "bought", "sale": "sold"}.get(side_of(trade), "traded")


def times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n:,} times")


def member(trade: dict[str, Any], chamber: str | None = None) -> str:
    name = str(trade.get("member") or "—")
    if trade.get("district"):
        name += f" ({trade['district']})"
    if chamber:
        name += f", {chamber}"
    return w.cell(name)


def chamber_name(result: Result) -> str:
    return "Senate" if (result.value or {}).get("chamber") == "senate" or "senate" in result.tool else "House"


def chamber_people(result: Result) -> str:
    return "senators" if chamber_name(result) == "Senate" else "House members"


def window_start(result: Result, days: int | None) -> date | None:
    """The first day of "the last N days", counted back from the data's as-of day."""
    end = as_of(result)
    return end - timedelta(days=days) if end and days else None


def filtered_trades(
    result: Result, ask: Ask, *, tickers: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The trades of a result that match the ask's tickers, side and period."""
    trades = list((result.value or {}).get("trades") or [])
    wanted = ask.tickers if tickers is None else tickers
    if wanted:
        trades = [t for t in trades if any(tk.same(t.get("ticker"), s) for s in wanted)]
    if ask.side:
        trades = [t for t in trades if side_of(t) == ask.side]
    since = window_start(result, ask.days)
    if since:
        trades = [t for t in trades if (d := w.as_date(t.get("transaction_date"))) is not None and d >= since]
    return trades


def dated_span(trades: Iterable[dict[str, Any]]) -> tuple[date, date] | None:
    days = [d for d in (w.as_date(t.get("transaction_date")) for t in trades) if d is not None]
    return (min(days), max(days)) if days else None


def side_counts(trades: Sequence[dict[str, Any]]) -> str:
    """ "12 purchases and 8 sales" (and "1 other" when there are exchanges)."""
    sides = Counter(side_of(t) for t in trades)
    parts = [w.count(sides[side], side) for side in ("purchase", "sale") if sides[side]]
    if sides["other"]:
        parts.append(
            f"{sides['other']} other ({'an exchange' if sides['other'] == 1 else 'exchanges and the like'})"
        )
    return w.join_and(parts)


def trades_heading(result: Result, ask: Ask) -> str:
    chamber = chamber_name(result)
    if not (ask.tickers or ask.side or ask.days):
        return f"### Recent {chamber} trades"
    noun = {"purchase": "purchases", "sale": "sales"}.get(ask.side or "", "trades")
    text = f"### {chamber} {noun}"
    if ask.tickers:
        text += " of " + w.join_and(ask.tickers)
    if ask.days:
        text += f", last {_period(ask.days)}"
    return text


def _period(days: int) -> str:
    for size, name in ((365, "year"), (30, "month"), (7, "week")):
        if days % size == 0 or (name == "month" and days in (30, 31)):
            n = max(1, round(days / size))
            return name if n == 1 else f"{n} {name}s"
    return w.count(days, "day")


def trades(result: Result, ask: Ask) -> str:
    """A chamber's disclosed trades, narrowed as asked, summarised then tabled."""
    everything = (result.value or {}).get("trades") or []
    chosen = filtered_trades(result, ask)
    heading = trades_heading(result, ask)
    end = as_of(result)
    window = dated_span(everything)
    scope = (
        f"the {len(everything)} most recent disclosures ({w.span(*window)})"
        if window
        else "the recent disclosures"
    )
    if not everything:
        return paragraphs(heading, "No trades were disclosed in this period.", source_line(result))
    if not chosen:
        what = trades_heading(result, ask).removeprefix("### ")
        return paragraphs(
            heading, f"No {what} in {scope}.", link_line(result, "Everything disclosed"), source_line(result)
        )
    span_ = dated_span(chosen)
    narrowed = len(chosen) != len(everything)
    lead = f"{w.count(len(chosen), 'trade')}"
    if ask.side:
        lead = f"{w.count(len(chosen), ask.side)}"
    lead += f" made {w.span(*span_)}" if span_ else ""
    lead += f", out of {scope}" if narrowed else ""
    lead += f": {side_counts(chosen)}." if not ask.side else "."
    counts = Counter(tk.canonical(t["ticker"]) for t in chosen if t.get("ticker"))
    if len(ask.tickers) != 1 and counts:
        popular = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        word = {"purchase": "Most bought", "sale": "Most sold"}.get(ask.side or "", "Most traded")
        lead += f" {word}: " + w.join_and(f"**{k}** ({v})" for k, v in popular) + "."
    biggest = max(chosen, key=lambda t: w.amount_floor(t.get("amount")))
    if w.amount_floor(biggest.get("amount")) >= 50_001:
        lead += (
            f" Largest: {biggest.get('member')} {past_tense(biggest)} "
            f"{biggest.get('ticker') or w.short(biggest.get('asset'), 24)} "
            f"for {w.amount_range(biggest.get('amount'))} "
            f"on {w.day(biggest.get('transaction_date'), year_of=end)}."
        )
    limit = min(ask.limit or TABLE_ROWS, TABLE_ROWS)
    shown = chosen[:limit]
    rows = [
        [
            w.day(t.get("transaction_date"), year_of=end),
            member(t),
            f"**{t['ticker']}**" if t.get("ticker") else w.cell(t.get("asset")),
            buy_sell(t),
            w.amount_short(t.get("amount")),
        ]
        for t in shown
    ]
    target = link(result)
    if narrowed:
        more = (
            f"All {len(everything)} disclosures are in {target} in Results (filter them there)."
            if target
            else ""
        )
        if len(shown) < len(chosen):
            more = f"Showing {len(shown)} of {len(chosen)}. " + more
    else:
        more = more_line(result, len(shown), len(chosen), "trade")
    if ask.chart and target:
        return paragraphs(
            heading,
            lead,
            f"{target} opens in Results with a chart of trades per week.",
            source_line(result),
        )
    return paragraphs(
        heading,
        lead,
        table(["Date", "Member", "Ticker", "Type", "Amount"], "llllr", rows),
        more.strip(),
        source_line(result),
    )


def both_chambers(senate: Result, house: Result, ask: Ask) -> str:
    """The tickers traded in both chambers, when the user looked at both."""
    in_senate = {tk.canonical(t["ticker"]) for t in filtered_trades(senate, ask) if t.get("ticker")}
    in_house = {tk.canonical(t["ticker"]) for t in filtered_trades(house, ask) if t.get("ticker")}
    both = sorted(in_senate & in_house)
    if not both:
        return ""
    verb = {"purchase": "Bought", "sale": "Sold"}.get(ask.side or "", "Traded")
    return (
        f"{verb} in both chambers: "
        + w.join_and(f"**{t}**" for t in both[:12])
        + ("…" if len(both) > 12 else "")
        + "."
    )


# --- insiders -------------------------------------------------------------------------------

_ACTION_WORDS = {
    "P": "open-market purchase",
    "S": "open-market sale",
    "A": "award",
    "M": "option exercise",
    "X": "option exercise",
    "O": "option exercise",
    "C": "conversion",
    "F": "tax withholding",
    "G": "gift",
    "D": "disposition to the issuer",
}


def action_word(row: dict[str, Any]) -> str:
    code = str(row.get("code") or "")
    return _ACTION_WORDS.get(code, str(row.get("action") or "other").lower())


def role(row: dict[str, Any]) -> str:
    """The insider's role in a few words: "President and CEO", "Director"."""
    text = str(row.get("relationship") or "")
    if "officer:" in text.lower():
        after = text[text.lower().index("officer:") + len("officer:") :]
        kept = []
        for part in after.split(","):
            if part.strip().lower().startswith(("director", "10%", "trust", "other", "officer")):
                break
            kept.append(part.strip())
        return w.cell(", ".join(kept))
    if "director" in text.lower():
        return "Director"
    if "10%" in text:
        return "10% owner"
    return w.cell(text) or "—"


def action_counts(rows: Sequence[dict[str, Any]]) -> str:
    counts = Counter(action_word(r) for r in rows)
    order = sorted(
        counts.items(),
        key=lambda kv: (kv[0] not in ("open-market purchase", "open-market sale"), -kv[1], kv[0]),
    )
    return w.join_and(w.count(n, word) for word, n in order)


def insider_filter(rows: list[dict[str, Any]], ask: Ask, result: Result) -> list[dict[str, Any]]:
    if ask.side:
        rows = [r for r in rows if r.get("code") == ("P" if ask.side == "purchase" else "S")]
    since = window_start(result, ask.days)
    if since and not result.tool == "get_portfolio_insider_activity":
        rows = [r for r in rows if (d := w.as_date(r.get("transaction_date"))) is None or d >= since]
    return rows


def insiders(result: Result, ask: Ask) -> str:
    value = result.value or {}
    scope = value.get("scope") or "market"
    title = {"market": "Latest insider trades", "portfolio": "Insider trades in your holdings"}.get(
        scope, f"Insider trades at {scope.replace('-', '.')}"
    )
    heading = f"### {title}"
    if result.needs_auth:
        return paragraphs(heading, "Add your holdings first, then I can check insider trades across them.")
    everything = value.get("trades") or []
    rows = insider_filter(list(everything), ask, result)
    if not rows:
        what = {"purchase": "open-market purchases", "sale": "open-market sales"}.get(
            ask.side or "", "Form 4 transactions"
        )
        where = f" in the last {_period(ask.days)}" if ask.days and scope != "portfolio" else ""
        other = (
            f" The {w.count(len(everything), 'recent filing line')}: {action_counts(everything)}."
            if everything
            else ""
        )
        return paragraphs(
            heading,
            f"No recent {what}{where}.{other}",
            link_line(result, "Every filing line"),
            source_line(result),
        )
    end = as_of(result)
    span_ = dated_span(rows)
    lead = (
        f"{w.count(len(rows), 'Form 4 transaction')}"
        + (f", {w.span(*span_)}" if span_ else "")
        + f": {action_counts(rows)}."
    )
    if scope == "portfolio":
        companies = sorted({r["ticker"] for r in rows})
        held = value.get("tickers") or []
        lead = (
            f"Insiders filed at {len(companies)} of your {w.count(len(held), 'holding')} "
            f"({w.join_and(companies)}). " + lead
        )
    lead += (
        " Open-market purchases are the stronger signal; awards, option exercises and tax withholding "
        "are routine pay."
    )
    one_company = scope not in ("market", "portfolio")
    shown = rows[: min(ask.limit or TABLE_ROWS, TABLE_ROWS)]
    header = (
        ["Date", "Insider", "Role", "Action", "Value"]
        if one_company
        else ["Date", "Ticker", "Insider", "Action", "Value"]
    )
    body = []
    for r in shown:
        who = w.cell(w.person(r.get("insider")))
        what = w.cell(action_word(r).capitalize())
        cell = [w.day(r.get("transaction_date"), year_of=end)]
        cell += [who, role(r)] if one_company else [f"**{r['ticker']}**", who]
        cell += [what, w.money(r.get("value")) if r.get("value") else "—"]
        body.append(cell)
    return paragraphs(
        heading,
        lead,
        table(header, "llllr", body),
        more_line(result, len(shown), len(rows), "transaction")
        if len(rows) == len(everything)
        else link_line(result, "Every filing line"),
        source_line(result),
    )


def insider_highlights(rows: Sequence[dict[str, Any]], end: date | None, limit: int = 3) -> list[str]:
    """The open-market purchases and sales in words: who, what role, how many shares, for how much, when."""
    notable = [r for r in rows if r.get("code") in ("P", "S")]
    lines = []
    for r in notable[:limit]:
        verb = "bought" if r.get("code") == "P" else "sold"
        shares = f"{w.number(r.get('shares'))} shares" if r.get("shares") else "shares"
        worth = f" for {w.money(r['value'])}" if r.get("value") else ""
        lines.append(
            f"{w.person(r.get('insider'))} ({role(r)}) {verb} {shares}{worth} on "
            f"{w.day(r.get('transaction_date'), year_of=end)}"
        )
    return lines


# --- other results --------------------------------------------------------------------------


def brokerage(result: Result) -> str:
    available = (result.value or {}).get("brokerage_available")
    text = (
        "You can connect a brokerage account (it opens SnapTrade), or add holdings by hand or import a "
        "broker CSV from the portfolio panel."
        if available
        else "Brokerage linking isn't set up on this Finch, but you can add holdings by hand, import a "
        "broker CSV export, or load the demo portfolio from the portfolio panel."
    )
    return paragraphs("### Connect your portfolio", text)


_TOOL_WORDS = {
    "get_portfolio": "Your portfolio",
    "get_reddit_trending_stocks": "Reddit's trending list",
    "get_reddit_ticker_sentiment": "Reddit sentiment",
    "compare_reddit_sentiment": "The Reddit comparison",
    "get_recent_senate_trades": "Senate trades",
    "get_recent_house_trades": "House trades",
    "get_recent_insider_trades": "The latest insider trades",
    "search_ticker_insider_activity": "Insider trades",
    "get_portfolio_insider_activity": "Insider trades in your holdings",
    "get_stock_quote": "The quote",
    "get_price_history": "The price history",
    "request_brokerage_connection": "The brokerage link",
}


def failure(result: Result) -> str:
    """A failed tool in plain words; for an unknown ticker, the known one it probably meant."""
    symbol = result.ticker
    error = result.error or "it failed"
    if symbol and "not found" in error.lower():
        shown = tk.canonical(symbol)
        where = error.split(": ", 1)[1].split(" has no", 1)[0] if ": " in error else "the data source"
        guess = tk.suggest(shown)
        if guess and guess != shown:
            return f"I couldn't find **{shown}** in {where} — did you mean {tk.labelled(guess)}?"
        name = tk.name_of(shown)
        about = f" ({name})" if name else ""
        return f"{where} has no price data for **{shown}**{about}."
    what = _TOOL_WORDS.get(result.tool, result.tool)
    subject = f" for **{tk.canonical(symbol)}**" if symbol else ""
    return f"{what}{subject} couldn't be loaded: {error.rstrip('.')}."
