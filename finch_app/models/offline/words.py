"""Numbers, dates and counts written the way a careful analyst writes them.

Pure functions, no knowledge of tools: "1 row", "3 rows", "+3.8%", "$187.90", "$14.2M",
"Nov 17", "Aug 28 – Nov 20".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

from finch_app import formatting
from finch_app.formatting import compact_money, count, plural, share_pct, signed_pct

__all__ = ["count", "plural", "share_pct", "signed_pct"]

# The app's one vocabulary for numbers and counts (finch_app/formatting.py), under the names
# the offline model's writers use.
money = compact_money
"""An amount: "$187.90", "$68,301", "$14.2M"."""
price = formatting.money
"""A share price, always to the cent: "$187.90"."""


def number(value: float | None) -> str:
    """A count of things (shares, mentions): "18,000", "2.5"."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")


def as_date(value: date | str | None) -> date | None:
    """A date from an ISO string or datetime; None when there is none or it does not parse."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def day(value: date | str | None, *, year_of: date | None = None) -> str:
    """ "Nov 17"; with the year when it differs from `year_of`'s (or when there is no `year_of`)."""
    when = as_date(value)
    if when is None:
        return "—"
    text = f"{when:%b} {when.day}"
    if year_of is None or year_of.year != when.year:
        text += f", {when.year}"
    return text


def span(first: date | str | None, last: date | str | None) -> str:
    """A date range: "Aug 28 – Nov 20"; one day when both ends are the same."""
    a, b = as_date(first), as_date(last)
    if a is None or b is None:
        return day(a or b)
    if a > b:
        a, b = b, a
    if a == b:
        return day(a, year_of=a)
    if a.year != b.year:
        return f"{day(a)} – {day(b)}"
    return f"{day(a, year_of=a)} – {day(b, year_of=b)}"


def join_and(items: Iterable[str], conjunction: str = "and") -> str:
    """ "a", "a and b", "a, b and c"."""
    parts = [p for p in items if p]
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} {conjunction} {parts[-1]}"


_MARKDOWN = re.compile(r"([\\`*_\[\]<>#!~])")


def plain(text: object) -> str:
    """Text with markdown's control characters escaped, so it reads as written.

    Names and descriptions come from data sources: they must never become a link, emphasis
    or markup in an answer.
    """
    return _MARKDOWN.sub(r"\\\1", str(text or ""))


def cell(text: str | None, limit: int = 80) -> str:
    """Text for a table cell: one line, no pipes; whole up to a generous `limit` (the page cuts a
    long cell to the column's width and shows it all on hover or tap)."""
    return short(text, limit)


def short(text: str | None, limit: int = 28) -> str:
    """One line of at most `limit` characters, cut with an ellipsis; safe inside a table cell."""
    clean = " ".join(str(text or "").split()).replace("|", "/")
    return clean if len(clean) <= limit else clean[: limit - 1].rstrip().rstrip("\\") + "…"


def amount_range(text: str | None) -> str:
    """A disclosed amount: "$1,001 – $15,000" (the filings' ranges) or an exact "$3,416.75"."""
    if not text:
        return "—"
    low, sep, high = str(text).partition(" - ")
    return f"{low.strip()} – {high.strip()}" if sep else str(text).strip()


def _round_amount(value: float) -> str:
    """The bound of a disclosed range as people say it: $1K, $15K, $250K, $1M, $5M, $50M."""
    for size, suffix in ((1e6, "M"), (1e3, "K")):
        if value >= size:
            figure = value / size
            whole = figure >= 10 or figure.is_integer()
            return f"${figure:,.0f}{suffix}" if whole else f"${figure:,.1f}{suffix}"
    return f"${value:,.0f}"


def amount_short(text: str | None) -> str:
    """A disclosed amount for a narrow table: "$1K–$15K" (the range "$1,001 - $15,000"), "$50M+",
    or an exact amount as "$3,417"; the exact text is in Results."""
    if not text:
        return "—"
    low, sep, high = str(text).partition(" - ")

    def value(part: str) -> float | None:
        try:
            return float(part.replace("$", "").replace(",", "").strip().rstrip("+"))
        except ValueError:
            return None

    a, b = value(low), value(high) if sep else None
    if a is None or (sep and b is None):
        return amount_range(text)
    if not sep:
        open_ended = str(text).strip().endswith("+") or "over" in str(text).lower()
        return f"{_round_amount(a)}+" if open_ended else money(a)
    return f"{_round_amount(round(a, -1) if a > 1000 else a)}–{_round_amount(b)}"


def amount_floor(text: str | None) -> float:
    """The lower bound of a disclosed amount, for ordering by size (0 when unreadable)."""
    head = str(text or "").partition(" - ")[0].replace("$", "").replace(",", "").strip()
    try:
        return float(head)
    except ValueError:
        return 0.0


def person(name: str | None) -> str:
    """A filer's name as people write it: SEC's "TANAKA-ROSS KENJI" becomes "Kenji Tanaka-Ross"."""
    first_filer = str(name or "").split(";")[0].strip()
    if not first_filer:
        return "—"
    if first_filer != first_filer.upper():
        return first_filer
    words = [w.capitalize() if len(w) > 1 else w for w in first_filer.split()]
    words = ["-".join(p.capitalize() for p in w.split("-")) for w in words]
    if len(words) >= 2:
        words = words[1:] + words[:1]  # SEC lists the last name first
    return " ".join(words)
