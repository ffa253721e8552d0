"""Numbers and times as people read them: the one place money, shares and durations get their text.

Pure functions with no imports from the app, so the tools, the views, the states and the
offline model all say "$1,234.50" the same way.
"""

from __future__ import annotations

EMPTY = "—"
"""What a missing value reads as."""


def money(value: float | None, *, cents: bool = True) -> str:
    """`-$1,234.50` (or `-$1,235` without cents); `—` for no value."""
    if value is None:
        return EMPTY
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}" if cents else f"{sign}${abs(value):,.0f}"


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


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 row`, `2 rows`, `1,024 rows`."""
    word = noun if count == 1 else (nouns or noun + "s")
    return f"{count:,} {word}"
