"""Answers that reason across tool results: joins, comparisons, "why did it move", "should I".

Holdings × Congress trades are joined on the ticker and summed up in one sentence ("7 of
your 8 holdings were traded by senators between Sep 1 and Nov 17: …") before a small
table, biggest positions first. "Why" and "should I" put the price move, insiders,
Congress and Reddit side by side, each with its source, and say what Finch cannot know.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

from finch_app.models.offline import sections as s
from finch_app.models.offline import tickers as tk
from finch_app.models.offline import words as w
from finch_app.models.offline.intents import Ask
from finch_app.models.offline.plan import RANGE_WORDS
from finch_app.models.offline.results import Result

JOIN_ROWS = 10


# --- holdings × Congress --------------------------------------------------------------------


def held_symbols(portfolio: Result) -> list[str]:
    """The holdings' tickers, largest position first (the tool sorts them by value)."""
    return [h["symbol"] for h in (portfolio.value or {}).get("holdings") or []]


def join_summary(portfolio: Result, trades: Result, ask: Ask) -> str:
    """The one sentence that answers "which of my holdings did they trade": how many, which, when."""
    held = held_symbols(portfolio)
    considered = s.filtered_trades(trades, ask, tickers=())
    hits = _hits(held, considered)
    who = s.chamber_people(trades)
    verb = {"purchase": "bought", "sale": "sold"}.get(ask.side or "", "traded")
    noun = {"purchase": "purchase", "sale": "sale"}.get(ask.side or "", "trade")
    window = s.dated_span(considered)
    when = (
        f" between {w.span(*window).replace(' – ', ' and ')}"
        if window and window[0] != window[1]
        else (f" on {w.day(window[0], year_of=window[0])}" if window else "")
    )
    ranked = sorted(hits, key=lambda t: (-len(hits[t]), held.index(t)))
    listed = w.join_and(
        f"{t} ({w.count(len(hits[t]), noun)})" if i == 0 else f"{t} ({len(hits[t])})"
        for i, t in enumerate(ranked)
    )
    total = len(held)
    if not hits:
        were = "was" if total == 1 else "were"
        return f"**None of your {w.count(total, 'holding')} {were} {verb} by {who}**{when}."
    if len(hits) == total:
        if total == 1:
            return f"**Your only holding, {held[0]}, was {verb} by {who}**{when}: {listed}."
        return f"**All {total} of your holdings were {verb} by {who}**{when}: {listed}."
    rest = [t for t in held if t not in hits]
    return (
        f"**{len(hits)} of your {total} holdings {'was' if len(hits) == 1 else 'were'} {verb} by {who}**"
        f"{when}: {listed}. "
        f"Not {verb}: {w.join_and(rest)}."
    )


def _hits(held: Sequence[str], trades: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    hits: dict[str, list[dict[str, Any]]] = {}
    for symbol in held:
        matched = [t for t in trades if tk.same(t.get("ticker"), symbol)]
        if matched:
            hits[symbol] = matched
    return hits


def _leaning(hits: dict[str, list[dict[str, Any]]], who: str) -> str:
    """Which held tickers saw more buying than selling, and the other way round."""
    buying, selling = [], []
    for symbol, trades in hits.items():
        sides = Counter(s.side_of(t) for t in trades)
        if sides["purchase"] > sides["sale"]:
            buying.append(symbol)
        elif sides["sale"] > sides["purchase"]:
            selling.append(symbol)
    parts = []
    if buying:
        parts.append(f"more purchases than sales in {w.join_and(buying)}")
    if selling:
        parts.append(f"more sales than purchases in {w.join_and(selling)}")
    if not parts:
        return ""
    text = "; ".join(parts)
    return f"{who.capitalize()} made {text}."


def _relevant_rows(
    held: Sequence[str], hits: dict[str, list[dict[str, Any]]], limit: int
) -> list[dict[str, Any]]:
    """Each holding's latest trades, biggest position first: the latest of each, then the next, until full."""
    queues = {
        t: sorted(hits[t], key=lambda r: r.get("transaction_date") or "", reverse=True)
        for t in held
        if t in hits
    }
    chosen: list[tuple[int, int, dict[str, Any]]] = []
    depth = 0
    while len(chosen) < limit and any(len(q) > depth for q in queues.values()):
        for position, symbol in enumerate(held):
            queue = queues.get(symbol, [])
            if depth < len(queue) and len(chosen) < limit:
                chosen.append((position, depth, queue[depth]))
        depth += 1
    chosen.sort(key=lambda item: (item[0], item[1]))
    return [row for _, _, row in chosen]


def portfolio_vs_trades(portfolio: Result, chamber_results: Sequence[Result], ask: Ask) -> str:
    """Holdings joined with each chamber's trades: the summary sentence, then the most relevant trades."""
    if portfolio.needs_auth:
        return s.paragraphs("### Your portfolio vs congressional trades", s.needs_holdings(portfolio))
    held = held_symbols(portfolio)
    blocks = []
    per_table = JOIN_ROWS if len(chamber_results) == 1 else JOIN_ROWS // 2
    for trades in chamber_results:
        noun = {"purchase": "purchases", "sale": "sales"}.get(ask.side or "", "trades")
        heading = f"### Your portfolio vs {s.chamber_name(trades)} {noun}"
        if not trades.ok:
            blocks.append(s.paragraphs(heading, s.failure(trades)))
            continue
        considered = s.filtered_trades(trades, ask, tickers=())
        hits = _hits(held, considered)
        lead = join_summary(portfolio, trades, ask)
        if hits and not ask.side:
            lead += " " + _leaning(hits, s.chamber_people(trades))
        end = s.as_of(trades)
        rows = _relevant_rows(held, hits, per_table)
        body = [
            [
                f"**{t['ticker']}**",
                s.member(t),
                s.buy_sell(t),
                w.day(t.get("transaction_date"), year_of=end),
                w.amount_short(t.get("amount")),
            ]
            for t in rows
        ]
        matched = sum(len(v) for v in hits.values())
        links = [x for x in (s.link(trades), s.link(portfolio)) if x]
        note = ""
        if rows:
            note = (
                f"All {w.count(matched, 'matching trade')}, largest position first."
                if len(rows) == matched
                else f"Each holding's latest {'trade' if len(rows) <= len(hits) else 'trades'}, "
                "largest position first "
                f"({len(rows)} of the {w.count(matched, 'matching trade')})."
            )
        if links:
            note += f" Everything is in Results: {w.join_and(links)}."
        blocks.append(
            s.paragraphs(
                heading,
                lead,
                s.table(["Ticker", "Who", "Buy/Sell", "Date", "Amount"], "llllr", body) if body else "",
                note.strip(),
                s.source_line(trades, portfolio),
            )
        )
    return "\n\n".join(blocks)


def portfolio_vs_reddit(portfolio: Result, trending: Result) -> str:
    """Which holdings Reddit is talking about, with their rank and your weight in them."""
    heading = "### Your portfolio on Reddit"
    if portfolio.needs_auth:
        return s.paragraphs(heading, s.needs_holdings(portfolio))
    holdings = (portfolio.value or {}).get("holdings") or []
    ranked = (trending.value or {}).get("tickers") or []
    by_symbol = {tk.canonical(r["ticker"]): r for r in ranked}
    hits = [
        (h, by_symbol[tk.canonical(h["symbol"])]) for h in holdings if tk.canonical(h["symbol"]) in by_symbol
    ]
    hits.sort(key=lambda pair: pair[1]["rank"])
    total = len(holdings)
    size = f"the {len(ranked)} most-discussed tickers on Reddit"
    if not hits:
        are = "is" if total == 1 else "are"
        lead = f"**None of your {w.count(total, 'holding')} {are} among {size}** right now."
    else:
        listed = w.join_and(f"{h['symbol']} (#{r['rank']})" for h, r in hits)
        if len(hits) == total and total > 1:
            lead = f"**All {total} of your holdings are among {size}**: {listed}."
        elif len(hits) == total:
            lead = f"**Your only holding is among {size}**: {listed}."
        else:
            are = "is" if len(hits) == 1 else "are"
            lead = f"**{len(hits)} of your {total} holdings {are} among {size}**: {listed}."
        rest = [h["symbol"] for h in holdings if all(h is not x for x, _ in hits)]
        if rest and len(hits) < total:
            lead += f" Little or no chatter about {w.join_and(rest)}."
    body = [
        [
            f"**{h['symbol']}**",
            f"#{r['rank']}",
            w.number(r["mentions"]),
            w.signed_pct(r.get("mentions_change_pct")),
            w.share_pct(h.get("weight_pct")),
        ]
        for h, r in hits[:JOIN_ROWS]
    ]
    links = [x for x in (s.link(trending), s.link(portfolio)) if x]
    return s.paragraphs(
        heading,
        lead,
        s.table(["Ticker", "Rank", "Mentions (24 h)", "Change", "Your weight"], "lrrrr", body)
        if body
        else "",
        f"Everything is in Results: {w.join_and(links)}." if links else "",
        s.source_line(trending, portfolio),
    )


# --- tickers side by side -------------------------------------------------------------------


def compare_tickers(histories: Sequence[Result], sentiment: Result | None) -> str:
    """Two or more tickers: their move over the same period and their Reddit attention, in one table."""
    facts = {tk.canonical(r.value["symbol"]): s.history_facts(r.value) for r in histories if r.ok and r.value}
    buzz: dict[str, dict[str, Any]] = {}
    if sentiment is not None and sentiment.ok:
        for row in (sentiment.value or {}).get("tickers") or []:
            buzz[tk.canonical(row["ticker"])] = row
    symbols = list(dict.fromkeys([*facts, *buzz]))
    heading = "### " + " vs ".join(symbols)
    moves = []
    period = ""
    for symbol in symbols:
        f = facts.get(symbol)
        if f and f["change"] is not None:
            verb = "rose" if f["change"] > 0 else "fell" if f["change"] < 0 else "was flat"
            amount = f" {abs(f['change']):.1f}%" if verb != "was flat" else ""
            moves.append(f"**{symbol}** {verb}{amount}")
            period = period or w.span(f["first"]["date"], f["last"]["date"])
    lead = f"Over {period}, {w.join_and(moves)}." if moves else ""
    ranked = [(sym, b) for sym, b in buzz.items() if b.get("found")]
    if len(ranked) >= 2:
        ranked.sort(key=lambda pair: -(pair[1].get("mentions") or 0))
        top, second = ranked[0], ranked[1]
        lead += (
            f" Reddit talks more about **{top[0]}** ({w.number(top[1].get('mentions'))} mentions in 24 h vs "
            f"{w.number(second[1].get('mentions'))} for {second[0]})."
        )
    elif len(ranked) == 1:
        lead += f" Of these, only **{ranked[0][0]}** is among the tickers Reddit is ranking."
    label = ""
    rows = []
    for symbol in symbols:
        f = facts.get(symbol)
        b = buzz.get(symbol, {})
        if f and not label:
            # The column says the period the change is over: the days covered when shorter than asked.
            short = s.short_of_range({"range": f["range"], "points": f["points"]})
            label = f"since {w.day(f['first']['date'])}" if short else RANGE_WORDS.get(str(f["range"]), "")
        rows.append(
            [
                f"**{symbol}**",
                w.price(f["last"]["close"]) if f else "—",
                w.signed_pct(f["change"]) if f else "—",
                f"#{b['rank']}" if b.get("found") else "not ranked" if b else "—",
                w.number(b.get("mentions")) if b.get("found") else "—",
            ]
        )
    change_label = f"Change ({label})" if label else "Change"
    used = [r for r in [*histories, sentiment] if r is not None and r.ok]
    links = [x for x in (s.link(r) for r in used) if x]
    return s.paragraphs(
        heading,
        lead.strip(),
        s.table(["Ticker", "Last close", change_label, "Reddit rank", "Mentions (24 h)"], "lrrrr", rows),
        f"Charts and tables in Results: {w.join_and(links)}." if links else "",
        s.source_line(*used),
    )


# --- "why did it move" and "should I" -------------------------------------------------------


def _by_ticker(results: Sequence[Result], tool: str, symbol: str) -> Result | None:
    for r in results:
        if r.tool != tool:
            continue
        subject = (
            r.ticker
            or (r.value or {}).get("ticker")
            or (r.value or {}).get("symbol")
            or (r.value or {}).get("scope")
        )
        if tk.same(subject, symbol):
            return r
    return None


def _first(results: Sequence[Result], tool: str) -> Result | None:
    return next((r for r in results if r.tool == tool), None)


MOVE_PCT = 1.0
"""A slide or climb smaller than this (from the high or low to the last close) is no move at all."""


def _off_high(facts: dict[str, Any]) -> float:
    return (facts["last"]["close"] / facts["high"]["close"] - 1) * 100


def _off_low(facts: dict[str, Any]) -> float:
    return (facts["last"]["close"] / facts["low"]["close"] - 1) * 100


def move_window(facts: dict[str, Any], direction: str | None) -> tuple[str, date, date]:
    """The stretch of the move the user asks about, as (how to say it, first day, last day)."""
    last = facts["last"]
    if direction == "down" and _off_high(facts) <= -MOVE_PCT:
        return "the slide", w.as_date(facts["high"]["date"]), w.as_date(last["date"])
    if direction == "up" and _off_low(facts) >= MOVE_PCT:
        return "the climb", w.as_date(facts["low"]["date"]), w.as_date(last["date"])
    return "this period", w.as_date(facts["first"]["date"]), w.as_date(last["date"])


def price_story(facts: dict[str, Any], direction: str | None) -> str:
    """The move with dates and figures, checked against what the user assumed."""
    symbol, first, last, high, low = (
        facts["symbol"],
        facts["first"],
        facts["last"],
        facts["high"],
        facts["low"],
    )
    end = w.as_date(last["date"])
    change = facts["change"] or 0.0
    period = w.span(first["date"], last["date"])
    week = (
        f" Over the last 5 trading days: {w.signed_pct(facts['week_change'])}."
        if facts.get("week_change") is not None
        else ""
    )
    whole = f"Over {period} it is {w.signed_pct(change)}."
    if direction == "down":
        drop = _off_high(facts)
        if drop > -MOVE_PCT:
            return (
                f"**{symbol} didn't drop** over {period}: it closed at {w.price(last['close'])} on "
                f"{w.day(last['date'], year_of=end)}, at or near its high for the period "
                f"({w.signed_pct(change)} overall).{week}"
            )
        return (
            f"**{symbol} is down {abs(drop):.1f}% from its {w.day(high['date'], year_of=end)} high** — "
            f"{w.price(high['close'])} then, {w.price(last['close'])} at the "
            f"{w.day(last['date'], year_of=end)} close "
            f"(low: {w.price(low['close'])} on {w.day(low['date'], year_of=end)}). {whole}{week}"
        )
    if direction == "up":
        rise = _off_low(facts)
        if rise < MOVE_PCT:
            return (
                f"**{symbol} didn't rise** over {period}: it closed at {w.price(last['close'])} on "
                f"{w.day(last['date'], year_of=end)}, at or near its low for the period "
                f"({w.signed_pct(change)} overall).{week}"
            )
        return (
            f"**{symbol} is up {rise:.1f}% from its {w.day(low['date'], year_of=end)} low** — "
            f"{w.price(low['close'])} then, {w.price(last['close'])} at the "
            f"{w.day(last['date'], year_of=end)} close "
            f"(high: {w.price(high['close'])} on {w.day(high['date'], year_of=end)}). {whole}{week}"
        )
    return (
        f"**{symbol} closed at {w.price(last['close'])} on {w.day(last['date'])}**, "
        f"{w.signed_pct(change)} over {period}, "
        f"between a high of {w.price(high['close'])} ({w.day(high['date'], year_of=end)}) and a low of "
        f"{w.price(low['close'])} ({w.day(low['date'], year_of=end)}).{week}"
    )


def insider_bullet(
    result: Result | None, symbol: str, start: date | None, stop: date | None, label: str
) -> str:
    if result is None:
        return ""
    if not result.ok:
        return f"- **Insiders** — {s.failure(result)}"
    rows = (result.value or {}).get("trades") or []
    end = s.as_of(result)
    inside = [
        r
        for r in rows
        if start is None
        or ((d := w.as_date(r.get("transaction_date"))) is not None and start <= d <= (stop or d))
    ]
    if not rows:
        return f"- **Insiders** — no recent Form 4 filings for {symbol}.{s.cite(result)}"
    when = f"during {label} ({w.span(start, stop)})" if start else f"in {label}"
    if not inside:
        latest = rows[0]
        return (
            f"- **Insiders** — no Form 4 transactions {when}; the latest was {_a(s.action_word(latest))} on "
            f"{w.day(latest.get('transaction_date'), year_of=end)}.{s.cite(result)}"
        )
    text = f"- **Insiders** — {w.count(len(inside), 'Form 4 transaction')} {when}: {s.action_counts(inside)}."
    highlights = s.insider_highlights(inside, end)
    if highlights:
        text += " " + "; ".join(highlights) + "."
    return text + s.cite(result)


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def congress_bullet(
    chambers: Sequence[Result], symbol: str, start: date | None, stop: date | None, label: str
) -> str:
    if not chambers:
        return ""
    parts, largest, failed = [], [], []
    for result in chambers:
        if not result.ok:
            failed.append(s.failure(result))
            continue
        trades = [
            t
            for t in (result.value or {}).get("trades") or []
            if tk.same(t.get("ticker"), symbol)
            and (
                start is None
                or ((d := w.as_date(t.get("transaction_date"))) is not None and start <= d <= (stop or d))
            )
        ]
        if trades:
            parts.append(
                f"{s.chamber_people(result)} traded it {s.times(len(trades))} ({s.side_counts(trades)})"
            )
            largest += [(t, s.chamber_name(result), s.as_of(result)) for t in trades]
    ok = [r for r in chambers if r.ok]
    when = f"during {label} ({w.span(start, stop)})" if start else f"in {label}"
    if not parts:
        text = f"- **Congress** — no disclosed trades of {symbol} by senators or House members {when}."
    else:
        text = f"- **Congress** — {when}, {'; '.join(parts)}."
        big = max(
            largest,
            key=lambda item: (w.amount_floor(item[0].get("amount")), item[0].get("transaction_date") or ""),
        )
        trade, chamber, end = big
        text += (
            f" Largest: {trade.get('member')} ({chamber}) {s.past_tense(trade)} "
            f"{w.amount_range(trade.get('amount'))} on {w.day(trade.get('transaction_date'), year_of=end)}."
        )
    if failed:
        text += " " + " ".join(failed)
    return text + s.cite(*ok)


def reddit_bullet(result: Result | None) -> str:
    if result is None:
        return ""
    if not result.ok:
        return f"- **Reddit** — {s.failure(result)}"
    value = result.value or {}
    if not value.get("found"):
        return f"- **Reddit** — not among the tickers Reddit is ranking right now.{s.cite(result)}"
    change = value.get("mentions_change_pct")
    change_text = f", {w.signed_pct(change)} vs the day before" if change is not None else ""
    mentions = f"{w.number(value.get('mentions'))} in 24 h{change_text}"
    return f"- **Reddit** — #{value['rank']} by mentions right now ({mentions}).{s.cite(result)}"


NO_NEWS = (
    "**What Finch can't tell you:** it has no news source, so it can't say *why* {symbol} moved — "
    "earnings, guidance, analyst calls and macro news aren't in its data. These are the facts around "
    "the move, not its cause."
)


def why(ask: Ask, results: Sequence[Result]) -> str:
    """ "Why did X drop?": the move with dates and figures, what happened around it, what Finch can't know."""
    chambers = [r for r in results if r.tool in ("get_recent_senate_trades", "get_recent_house_trades")]
    blocks = []
    for symbol in ask.tickers[:3]:
        hist = _by_ticker(results, "get_price_history", symbol)
        facts = s.history_facts(hist.value) if hist is not None and hist.ok and hist.value else None
        label = move_window(facts, ask.direction)[0] if facts is not None else ""
        noun = {"the slide": "the drop", "the climb": "the rise"}.get(label, "the move")
        heading = f"### {symbol}: {noun}, and what happened around it"
        if facts is None:
            price = (
                s.failure(hist)
                if hist is not None and not hist.ok
                else f"Finch has no price history for **{symbol}**."
            )
            label, start, stop = "recent weeks", None, None
        else:
            price = price_story(facts, ask.direction) + s.cite(hist)
            label, start, stop = move_window(facts, ask.direction)
        bullets = [
            insider_bullet(
                _by_ticker(results, "search_ticker_insider_activity", symbol), symbol, start, stop, label
            ),
            congress_bullet(chambers, symbol, start, stop, label),
            reddit_bullet(_by_ticker(results, "get_reddit_ticker_sentiment", symbol)),
        ]
        links = _links_for(symbol, results, chambers)
        blocks.append(
            s.paragraphs(
                heading,
                price,
                "What happened around it:\n\n" + "\n".join(b for b in bullets if b),
                NO_NEWS.format(symbol=symbol),
                _links_line(links),
            )
        )
    return "\n\n".join(blocks)


def advice(ask: Ask, results: Sequence[Result]) -> str:
    """ "Should I buy/sell X?": no advice, but the facts a person would weigh, each with its source."""
    if not ask.tickers:
        return _where_attention_goes(results)
    portfolio = _first(results, "get_portfolio")
    chambers = [r for r in results if r.tool in ("get_recent_senate_trades", "get_recent_house_trades")]
    blocks = []
    for symbol in ask.tickers[:3]:
        doing = {"buy": "buying", "sell": "selling", "hold": "holding on"}.get(ask.action or "", "")
        heading = f"### {symbol}: what to weigh" + (
            f" before {doing}" if doing and doing != "holding on" else ""
        )
        verb = {"buy": "buy", "sell": "sell", "hold": "hold"}.get(ask.action or "", "buy or sell")
        intro = (
            f"I can't tell you whether to {verb} {symbol} — that depends on your goals, your time "
            "horizon, taxes and the rest of your portfolio. Here is what Finch's data shows:"
        )
        bullets = [_position_bullet(portfolio, symbol)]
        hist = _by_ticker(results, "get_price_history", symbol)
        facts = s.history_facts(hist.value) if hist is not None and hist.ok and hist.value else None
        if facts is not None:
            end = w.as_date(facts["last"]["date"])
            off_high = _off_high(facts)
            bullets.append(
                f"- **Price** — {w.price(facts['last']['close'])} on "
                f"{w.day(facts['last']['date'], year_of=end)}; "
                f"{w.signed_pct(facts['change'])} over "
                f"{w.span(facts['first']['date'], facts['last']['date'])}, "
                + (
                    f"{abs(off_high):.1f}% below its {w.day(facts['high']['date'], year_of=end)} high of "
                    f"{w.price(facts['high']['close'])}"
                    if off_high <= -MOVE_PCT
                    else "at or near its high for the period"
                )
                + f"; last 5 trading days {w.signed_pct(facts['week_change'])}.{s.cite(hist)}"
            )
        elif hist is not None:
            bullets.append(f"- **Price** — {s.failure(hist)}")
        start = w.as_date(facts["first"]["date"]) if facts else None
        stop = w.as_date(facts["last"]["date"]) if facts else None
        bullets += [
            insider_bullet(
                _by_ticker(results, "search_ticker_insider_activity", symbol),
                symbol,
                start,
                stop,
                "this period",
            ),
            congress_bullet(chambers, symbol, start, stop, "this period"),
            reddit_bullet(_by_ticker(results, "get_reddit_ticker_sentiment", symbol)),
        ]
        blocks.append(
            s.paragraphs(
                heading,
                intro,
                "\n".join(b for b in bullets if b),
                "**Not in Finch's data:** news, earnings, valuation and analysts' views — worth "
                "checking before you decide.",
                _links_line(_links_for(symbol, results, chambers, portfolio)),
            )
        )
    return "\n\n".join(blocks)


def _links_for(
    symbol: str, results: Sequence[Result], chambers: Sequence[Result], *extra: Result | None
) -> list[str]:
    """Links to the saved tables behind a ticker's answer: its own results, Congress, and `extra`."""
    used = [r for r in results if r.ok and (tk.same(r.ticker, symbol) or r in chambers or r in extra)]
    return [x for x in (s.link(r) for r in used) if x]


def _links_line(links: list[str]) -> str:
    return f"Tables and charts in Results: {w.join_and(links)}." if links else ""


def _position_bullet(portfolio: Result | None, symbol: str) -> str:
    if portfolio is None:
        return ""
    if not portfolio.ok:
        return f"- **Your position** — {s.failure(portfolio)}"
    if portfolio.needs_auth:
        return (
            "- **Your position** — Finch doesn't have your holdings yet; add them to see your position here."
        )
    sentence = s.position_sentence(portfolio.value or {}, symbol)
    return f"- **Your position** — {sentence[0].lower() + sentence[1:]}{s.cite(portfolio)}"


def _where_attention_goes(results: Sequence[Result]) -> str:
    """ "What should I buy?": no picks, but where Congress's money and Reddit's attention went."""
    lines = []
    for result in results:
        if result.tool in ("get_recent_senate_trades", "get_recent_house_trades") and result.ok:
            bought = [
                t
                for t in (result.value or {}).get("trades") or []
                if s.side_of(t) == "purchase" and t.get("ticker")
            ]
            counts = Counter(tk.canonical(t["ticker"]) for t in bought)
            top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
            window = s.dated_span(bought)
            if top:
                lines.append(
                    f"- **{s.chamber_people(result).capitalize()}' most-bought tickers** "
                    f"({w.span(*window) if window else 'recently'}): "
                    + w.join_and(
                        f"{k} ({w.count(v, 'purchase')})" if i == 0 else f"{k} ({v})"
                        for i, (k, v) in enumerate(top)
                    )
                    + f".{s.cite(result)}"
                )
        elif result.tool == "get_reddit_trending_stocks" and result.ok:
            top = ((result.value or {}).get("tickers") or [])[:3]
            if top:
                lines.append(
                    "- **Most discussed on Reddit right now**: "
                    + w.join_and(f"{t['ticker']} ({w.number(t['mentions'])} mentions)" for t in top)
                    + f".{s.cite(result)}"
                )
        elif not result.ok:
            lines.append(f"- {s.failure(result)}")
    return s.paragraphs(
        "### Where money and attention are going",
        "I can't pick stocks for you — that depends on your goals, horizon and the rest of your portfolio. "
        "Here is where members of Congress and Reddit have been putting their money and attention:",
        "\n".join(lines),
        "Attention isn't a recommendation: popular tickers can be crowded, and disclosures arrive weeks "
        "after the trade. "
        'Ask *"should I buy NVDA?"* to see the facts for one ticker.',
    )


def no_price(ask: Ask, results: Sequence[Result]) -> str:
    """A ticker with no price data (the second round looked further): say so, then what Finch does have."""
    chambers = [r for r in results if r.tool in ("get_recent_senate_trades", "get_recent_house_trades")]
    blocks = []
    for symbol in ask.tickers[:3]:
        priced = [
            r
            for r in results
            if r.tool in ("get_stock_quote", "get_price_history") and tk.same(r.ticker, symbol)
        ]
        if any(r.ok for r in priced):
            continue
        missing = s.failure(priced[0]) if priced else f"Finch found no price data for **{symbol}**."
        bullets = [
            congress_bullet(chambers, symbol, None, None, "the recent disclosures"),
            reddit_bullet(_by_ticker(results, "get_reddit_ticker_sentiment", symbol)),
        ]
        blocks.append(
            s.paragraphs(
                f"### {symbol}",
                f"{missing} Here is what else Finch has on it:",
                "\n".join(b for b in bullets if b),
            )
        )
    return "\n\n".join(blocks)
