"""Numbers and times as people read them: the one place money, shares and durations get their text.

Pure functions with no imports from the app, so the tools, the views, the states and the
offline model all say "$1,234.50" the same way.
"""

from __future__ import annotations

from datetime import date

EMPTY = "—"
"""What a missing value reads as."""


def money(value: float | None, *, cents: bool = True) -> str:
    """`-$1,234.50` (or `-$1,235` without cents); `—` for no value."""
    if value is None:
        return EMPTY
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}" if cents else f"{sign}${abs(value):,.0f}"


def compact_money(value: float | None) -> str:
    """An amount as an analyst writes it: cents below $1,000, whole dollars below $1M, then
    "$14.2M" / "$1.3B"."""
    if value is None:
        return EMPTY
    size = abs(value)
    if size >= 1e9:
        return f"{'-' if value < 0 else ''}${size / 1e9:,.1f}B"
    if size >= 1e6:
        return f"{'-' if value < 0 else ''}${size / 1e6:,.1f}M"
    return money(value, cents=size < 1000)


def signed_pct(value: float | None, digits: int = 1) -> str:
    """A change: "+3.8%", "-13.9%", "0.0%"; "—" when unknown."""
    if value is None:
        return EMPTY
    rounded = round(value, digits)
    if rounded == 0:
        return f"{0:.{digits}f}%"
    return f"{rounded:+.{digits}f}%"


def share_pct(value: float | None, digits: int = 1) -> str:
    """A part of a whole: "12.5%"."""
    return EMPTY if value is None else f"{value:.{digits}f}%"


def shares(value: float) -> str:
    """`1,234.5` shares: up to four decimals, no trailing zeros."""
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def seconds(duration_ms: int | None) -> str:
    """`0.4 s`, `12 s`, `3 min 5 s`; "" when there is no duration."""
    if duration_ms is None:
        return ""
    if duration_ms < 10_000:
        return f"{duration_ms / 1000:.1f} s"
    if duration_ms < 120_000:
        return f"{duration_ms / 1000:.0f} s"
    return f"{duration_ms // 60_000} min {duration_ms % 60_000 // 1000} s"


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
    """`1 row`, `2 rows`, `1,024 rows`, "1 open-market purchase"."""
    return f"{n:,} {plural(word, n)}"


def date_span(first: date, last: date) -> str:
    """A range of days: "Aug 28 – Nov 20, 2026", "Dec 15, 2025 – Jan 9, 2026", "Nov 20, 2026"."""
    if first > last:
        first, last = last, first
    if first == last:
        return f"{last:%b} {last.day}, {last.year}"
    head = f"{first:%b} {first.day}" + (f", {first.year}" if first.year != last.year else "")
    return f"{head} – {last:%b} {last.day}, {last.year}"
