"""Numbers, dates and counts written the way a careful analyst writes them.

Pure functions, no knowledge of tools: "1 row", "3 rows", "+3.8%", "$187.90", "$14.2M",
"Nov 17", "Aug 28 – Nov 20".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

_IRREGULAR = {"person": "people", "is": "are", "was": "were", "has": "have", "this": "these"}


def plural(word: str, n: int) -> str:
    """`word` for a count of `n`: "purchase"/"purchases", "company"/"companies"."""
    if n == 1:
        return word
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    head, _, last = word.rpartition(" ")
    if head:
        return f"{head} {plural(last, n)}"
    if word.endswith("y") and word[-2:-1] not in set("aeiou"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def count(n: int, word: str) -> str:
    """ "1 open-market purchase", "2 open-market purchases", "1,204 rows"."""
    return f"{n:,} {plural(word, n)}"


def signed_pct(value: float | None, digits: int = 1) -> str:
    """A change: "+3.8%", "-13.9%", "0.0%"; "—" when unknown."""
    if value is None:
        return "—"
    rounded = round(value, digits)
    if rounded == 0:
        return f"{0:.{digits}f}%"
    return f"{rounded:+.{digits}f}%"


def share_pct(value: float | None, digits: int = 1) -> str:
    """A part of a whole: "12.5%"."""
    return "—" if value is None else f"{value:.{digits}f}%"


def price(value: float | None) -> str:
    """A share price, always to the cent: "$187.90", "$1,234.50"."""
    if value is None:
        return "—"
    return f"{'-' if value < 0 else ''}${abs(value):,.2f}"


def money(value: float | None) -> str:
    """An amount: cents below $1,000, whole dollars below $1M, then "$14.2M" / "$1.3B"."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    size = abs(value)
    if size >= 1e9:
        return f"{sign}${size / 1e9:,.1f}B"
    if size >= 1e6:
        return f"{sign}${size / 1e6:,.1f}M"
    if size >= 1000:
        return f"{sign}${size:,.0f}"
    return f"{sign}${size:,.2f}"


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
