"""What a change to the holdings takes: the calls that make it, and the words around them.

Round one reads the holdings (and, for a purchase without a price, the latest price); round two
decides from them, so the card the user approves says exactly what will happen: a purchase of a
ticker they hold is recorded as a trade, of one they don't is added as a holding; a sale is
checked against the shares held ("half" becomes a number); what does not add up is asked back
instead of called. Once the user has decided, the answer says what changed, before → after, from
the tool's own account — or that nothing did, and why. It never claims a change the result does
not show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from finch_app.agent.approvals import EXPIRED_REASON_START
from finch_app.formatting import shares as count_of
from finch_app.models.offline import tickers as tk
from finch_app.models.offline import words as w
from finch_app.models.offline.changes import CHANGE_TOOLS, Change, denial, held_rows, share_count
from finch_app.models.offline.results import Result

Call = tuple[str, dict[str, Any]]
UNDO_HINT = "Say *undo that* to reverse it."
NOT_HERE = "Holdings can't be changed from the chat on this Finch: use the Portfolio panel instead."
EXAMPLE = '*"I bought 10 NVDA at 120"*'


@dataclass(frozen=True)
class Step:
    """What to do once the holdings are known: make a call, or say something instead."""

    call: Call | None = None
    says: str = ""


# --- the calls ----------------------------------------------------------------------------------


def first_round(change: Change) -> list[Call]:
    """Read what the decision needs: the holdings, and the latest price when none was given."""
    if change.problem is not None or change.ticker is None:
        return []
    calls: list[Call] = [("get_portfolio", {})]
    if change.action in ("buy", "add") and change.price is None:
        calls.append(("get_stock_quote", {"ticker": tk.for_tool(change.ticker, "quote")}))
    return calls


def second_round(change: Change, results: Sequence[Result]) -> list[Call]:
    """The change itself, once the holdings are known (none when something must be asked first)."""
    if change.problem is not None or any(r.tool in CHANGE_TOOLS for r in results):
        return []
    step = decide(change, results)
    return [step.call] if step.call else []


def decide(change: Change, results: Sequence[Result]) -> Step:
    """The call that makes `change` to the holdings in `results`, or what to tell the user instead."""
    symbol = change.ticker or ""
    portfolio = next((r for r in results if r.tool == "get_portfolio"), None)
    if portfolio is not None and portfolio.ok and (portfolio.value or {}).get("source") == "brokerage":
        return Step(
            says="Your holdings come from your linked brokerage and are replaced at each sync, so I can't change "
            "them here: make the change in the brokerage account (or disconnect it on the Portfolio panel first)."
        )
    rows = held_rows(portfolio)
    row = rows.get(tk.canonical(symbol)) if rows is not None else None
    held = float(row.get("shares") or 0) if row else 0.0
    if change.action in ("buy", "add"):
        return _buy(change, symbol, results, known=rows is not None, held=row is not None)
    if change.action == "sell":
        return _sell(change, symbol, rows is not None, row is not None, held)
    if change.action == "remove":
        if rows is not None and row is None:
            return Step(says=f"**{symbol}** isn't one of your holdings, so there's nothing to remove.")
        return Step(call=("remove_holding", {"ticker": symbol}))
    return _correct(change, symbol, rows is not None, row)


def _buy(change: Change, symbol: str, results: Sequence[Result], *, known: bool, held: bool) -> Step:
    price = change.price if change.price is not None else latest_price(results, symbol)
    if price is None:
        return Step(
            says=f"I have no price for **{symbol}** to use as what you paid — what did you pay per share?"
        )
    if held or not known:
        arguments: dict[str, Any] = {"ticker": symbol, "side": "buy", "shares": change.shares, "price": price}
        if change.on:
            arguments["traded_on"] = change.on.isoformat()
        return Step(call=("record_trade", arguments))
    arguments = {"ticker": symbol, "shares": change.shares, "cost_basis": price}
    if change.on:
        arguments["bought_on"] = change.on.isoformat()
    return Step(call=("add_holding", arguments))


def _sell(change: Change, symbol: str, known: bool, is_held: bool, held: float) -> Step:
    if known and not is_held:
        if change.portion == 1:
            nothing = "there's nothing to sell"
        elif change.portion is not None:
            nothing = f"there's no {change.portion_words} of it to sell"
        else:
            nothing = "there's no sale to record"
        return Step(
            says=f"You don't hold **{symbol}**, so {nothing} and I haven't changed anything. Which holding did you sell?"
        )
    shares = change.shares
    if shares is None:
        part = change.portion or 1.0
        if not known:
            return Step(
                says=f"I couldn't read your holdings, so I can't tell how many shares {change.portion_words} of your "
                f"{symbol} is. How many did you sell?"
            )
        exact = held * part
        if part < 1 and held.is_integer() and abs(exact - round(exact)) > 1e-9:
            return Step(
                says=f"{change.portion_words.capitalize()} of your {count_of(held)} {symbol} shares is "
                f"{count_of(round(exact, 4))} — how many did you sell?"
            )
        shares = round(exact, 4)
    if known and shares > held + 1e-9:
        return Step(
            says=f"You hold {share_count(held)} of **{symbol}** — fewer than the {count_of(shares)} you said you "
            f"sold — so I haven't recorded anything. How many did you sell? (All {count_of(held)}?)"
        )
    arguments: dict[str, Any] = {"ticker": symbol, "side": "sell", "shares": shares}
    if change.price is not None:
        arguments["price"] = change.price
    if change.on:
        arguments["traded_on"] = change.on.isoformat()
    return Step(call=("record_trade", arguments))


def _correct(change: Change, symbol: str, known: bool, row: dict[str, Any] | None) -> Step:
    held = float(row.get("shares") or 0) if row else 0.0
    shares = change.shares
    if change.fewer is not None:
        if not known:
            return Step(
                says=f"I couldn't read your holdings, so I can't tell what would be left of your {symbol}. "
                "How many shares do you hold now?"
            )
        if row is None:
            return Step(says=f"**{symbol}** isn't one of your holdings, so there's nothing to take off.")
        if change.fewer > held + 1e-9:
            return Step(
                says=f"You hold only {share_count(held)} of **{symbol}**. To take it off your holdings "
                f"entirely, say *remove {symbol}*."
            )
        if abs(change.fewer - held) <= 1e-9:
            return Step(call=("remove_holding", {"ticker": symbol}))
        shares = round(held - change.fewer, 4)
    if known and row is None:
        if shares:
            arguments: dict[str, Any] = {"ticker": symbol, "shares": shares}
            if change.price is not None:
                arguments["cost_basis"] = change.price
            return Step(call=("add_holding", arguments))
        return Step(
            says=f"You don't hold **{symbol}**, so there's no average cost to change. If you bought it, tell me "
            f'how many shares and the price — e.g. *"I bought 10 {symbol} at {_plain_price(change.price)}"*.'
        )
    arguments = {"ticker": symbol}
    if row is not None:
        cost = float(row.get("cost_basis") or 0)
        if shares is not None and abs(shares - held) > 1e-9:
            arguments["shares"] = shares
        if change.price is not None and abs(change.price - cost) >= 0.005:
            arguments["cost_basis"] = change.price
        if len(arguments) == 1:
            return Step(
                says=f"Your **{symbol}** holding is already {share_count(held)} at an average cost of "
                f"{w.price(cost)} — nothing to change."
            )
        return Step(call=("update_holding", arguments))
    if shares is not None:
        arguments["shares"] = shares
    if change.price is not None:
        arguments["cost_basis"] = change.price
    return Step(call=("update_holding", arguments))


def latest_price(results: Sequence[Result], symbol: str) -> float | None:
    """The latest price of `symbol` among this turn's quotes."""
    for result in results:
        if result.tool == "get_stock_quote" and result.ok and tk.same(result.ticker, symbol):
            price = (result.value or {}).get("price")
            return float(price) if isinstance(price, int | float) else None
    return None


def _plain_price(price: float | None) -> str:
    return count_of(price) if price else "150"


# --- asking back ---------------------------------------------------------------------------------


def ask_back(change: Change) -> str:
    """The question (or the short reply) for a change that cannot be proposed as it was said."""
    symbol = change.ticker or ""
    verb = {"buy": "buy", "sell": "sell", "add": "add", "remove": "remove", "set": "change"}[change.action]
    match change.problem:
        case "typo":
            written, meant = change.typo or ("", "")
            return f'I don\'t recognise "{written}" — did you mean {tk.labelled(meant)}? Say *yes*, or type the ticker.'
        case "tickers":
            names = w.join_and(change.tickers, "or")
            which = f"Which one did you {verb} — {names}?" if names else "Which change should I make first?"
            return f"{which} I record one change at a time — e.g. {EXAMPLE}."
        case "ticker":
            return _which_stock(change)
        case "shares":
            if change.action == "sell":
                return f"How many shares of **{symbol}** did you sell? You can also say *all* or *half*."
            price = f" at {w.price(change.price)}" if change.price is not None else ", and at what price"
            if change.action == "add":
                return f"How many shares of **{symbol}** should I add{price}?"
            return f"How many shares of **{symbol}** did you buy{price}?"
        case "amount":
            return (
                f"How many shares of **{symbol}** did {w.money(change.amount)} buy? Or tell me the price per share "
                "and I'll work it out."
            )
        case "what":
            return (
                f"What should I change about your **{symbol}** holding — the number of shares, the average cost, or "
                f'both? E.g. *"I have 12 {symbol}"* or *"my {symbol} cost was 150"*.'
            )
        case "order":
            return (
                "I can't place trades — Finch keeps the record of your holdings, it doesn't trade. If you've already "
                f"made the trade, tell me and I'll record it — e.g. {EXAMPLE}."
            )
        case "nothing_to_undo":
            return "There's no change of mine to undo here: I can undo a change to your holdings I just made."
        case "not_made":
            return f"There's nothing to undo: {change.undoing or 'the last change'} wasn't made."
        case "already_made":
            return (
                "That change is already made. Say *undo that* to reverse it, then tell me the right figures."
            )
        case "dropped":
            return "OK — I've left your holdings as they are."
    return NOT_HERE


def _which_stock(change: Change) -> str:
    if change.action == "buy":
        what = "Which stock did you buy" + (", and how many shares" if not change.shares else "")
    elif change.action == "sell":
        what = "Which stock did you sell" + (
            ", and how many shares" if not change.shares and not change.portion else ""
        )
    elif change.action == "add":
        what = "Which stock should I add to your holdings"
    elif change.action == "remove":
        what = "Which holding should I remove"
    else:
        what = "Which holding should I change"
    return f"{what}? Give me its ticker or the company name — e.g. {EXAMPLE}."


# --- after the decision -------------------------------------------------------------------------


def answer(change: Change, results: Sequence[Result]) -> str:
    """What happened: the change with before → after figures, or that nothing changed and why."""
    made = next((r for r in results if r.tool in CHANGE_TOOLS), None)
    if made is None:
        step = decide(change, results)
        return step.says if step.call is None else NOT_HERE
    portfolio = next((r for r in results if r.tool == "get_portfolio"), None)
    rows = held_rows(portfolio)
    symbol = str(made.arguments.get("ticker") or change.ticker or "")
    row = rows.get(tk.canonical(symbol)) if rows is not None else None
    if made.ok and made.value is not None and "shares_after" in made.value:
        return _done(change, made, row, results)
    what = describe(made.tool, made.arguments)
    reason = denial(made)
    if reason is None:
        error = (made.error or "the tool failed").rstrip(".")
        return f"I couldn't make that change: {error}. Nothing changed."
    still = _still(symbol, row, known=rows is not None)
    if reason.startswith(EXPIRED_REASON_START):
        within = reason.removeprefix(EXPIRED_REASON_START).strip().rstrip(".")
        return f"Nothing changed: nobody approved {what} within {within}, so it expired. {still}".strip()
    if reason:
        return f"Nothing changed: you turned down {what} — your reason: “{reason}”. {still}".strip()
    return f"Nothing changed: you didn't approve {what}. {still}".strip()


def describe(tool: str, arguments: dict[str, Any]) -> str:
    """A proposed change in a few words: "the purchase of 10 NVDA shares at $120.00"."""
    symbol = str(arguments.get("ticker") or "")
    shares = arguments.get("shares")
    count = share_count(shares, symbol) if isinstance(shares, int | float) else f"{symbol} shares"
    price = arguments.get("price") if tool == "record_trade" else arguments.get("cost_basis")
    at = f" at {w.price(price)}" if isinstance(price, int | float) else ""
    when = _on(arguments.get("traded_on") or arguments.get("bought_on"))
    if tool == "record_trade":
        return (
            f"recording the {'purchase' if arguments.get('side') == 'buy' else 'sale'} of {count}{at}{when}"
        )
    if tool == "add_holding":
        return f"adding {count}{at}{when} to your holdings"
    if tool == "remove_holding":
        return f"removing {symbol} from your holdings"
    parts = [
        share_count(shares) if isinstance(shares, int | float) else "",
        f"an average cost of {w.price(price)}" if isinstance(price, int | float) else "",
    ]
    return f"changing your {symbol} holding to " + " and ".join(p for p in parts if p)


def _done(change: Change, made: Result, row: dict[str, Any] | None, results: Sequence[Result]) -> str:
    value = made.value or {}
    arguments = made.arguments
    symbol = str(value.get("symbol") or arguments.get("ticker") or "")
    before = float(value.get("shares_before") or 0)
    after = float(value.get("shares_after") or 0)
    cost_after = value.get("cost_basis_after")
    cost_before = float(row["cost_basis"]) if row and isinstance(row.get("cost_basis"), int | float) else None
    action = value.get("action")
    price = arguments.get("price") if made.tool == "record_trade" else arguments.get("cost_basis")
    if price is None and action == "added":
        price = cost_after  # the tool took the latest price
    at = f" at {w.price(price)}" if isinstance(price, int | float) else ""
    when = _on(arguments.get("traded_on") or arguments.get("bought_on"))
    latest = (
        " — the latest price, as you didn't say what you paid"
        if change.price is None and action in ("added", "bought") and isinstance(price, int | float)
        else ""
    )
    traded = share_count(abs(after - before), f"**{symbol}**")
    if change.undoing:
        lead = f"Reversed {change.undoing}."
    elif action == "added":
        lead = f"Added **{symbol}** to your holdings: {share_count(after)}{at}{when}{latest}."
    elif action == "bought":
        lead = f"Recorded your purchase of {traded}{at}{when}{latest}."
    elif action == "sold" and change.portion is not None and change.shares is None:
        lead = (
            f"Recorded the sale of all {count_of(before)} of your **{symbol}** shares{at}{when}."
            if after == 0
            else f"Recorded the sale of {change.portion_words} of your **{symbol}**: {count_of(before - after)} of "
            f"your {share_count(before)}{at}{when}."
        )
    elif action == "sold":
        lead = f"Recorded your sale of {traded}{at}{when}."
    elif action == "removed":
        lead = f"Removed **{symbol}** from your holdings."
    else:
        lead = f"Updated your **{symbol}** holding."
    figures = (
        f"**{symbol}: {share_count(after)}**"
        if before == after
        else f"**{symbol}: {count_of(before)} → {share_count(after)}**"
    )
    if after == 0:
        figures += " — it's no longer one of your holdings."
    elif isinstance(cost_after, int | float) and cost_before is not None and before > 0:
        if abs(cost_after - cost_before) >= 0.005:
            figures += f", average cost {w.price(cost_before)} → {w.price(cost_after)}."
        else:
            figures += f", average cost {w.price(cost_after)} (unchanged)."
    elif isinstance(cost_after, int | float):
        figures += f", average cost {w.price(cost_after)}."
    else:
        figures += "."
    return f"{lead}\n\n{figures}" + ("" if change.undoing else f" {UNDO_HINT}")


def _still(symbol: str, row: dict[str, Any] | None, *, known: bool) -> str:
    if row is not None:
        return f"You still hold {share_count(float(row.get('shares') or 0))} of {symbol}."
    return f"{symbol} is still not one of your holdings." if known else ""


def _on(value: object) -> str:
    when = w.as_date(value if isinstance(value, str | date) else None)
    return f" on {w.day(when, year_of=date.today())}" if when else ""
