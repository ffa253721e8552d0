"""A saved result's rows as a table: filter, sort, CSV that is safe to open in a spreadsheet, and Markdown.

Pure functions over rows (lists of dicts); the Results panel, the API's CSV download and the
conversation export use them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None or value == "":
        return (2, "")
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    return (1, str(value).lower())


def query_rows(
    rows: list[dict[str, Any]],
    *,
    filter_text: str = "",
    sort_key: str = "",
    descending: bool = False,
) -> list[dict[str, Any]]:
    """Rows matching `filter_text` (in any column), sorted by one column; blanks sort last."""
    needle = filter_text.strip().lower()
    selected = [
        r for r in rows if not needle or any(needle in str(v).lower() for v in r.values() if v is not None)
    ]
    if sort_key:
        present = [r for r in selected if r.get(sort_key) not in (None, "")]
        blank = [r for r in selected if r.get(sort_key) in (None, "")]
        present.sort(key=lambda r: _sort_key(r.get(sort_key)), reverse=descending)
        selected = present + blank
    return selected


def _safe_cell(value: Any) -> str:
    """A cell a spreadsheet will show as text: a leading =, +, -, @ would start a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(columns: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """The rows as CSV (a header row of labels), safe to open in a spreadsheet."""
    columns = columns or [{"key": k, "label": k} for k in (rows[0] if rows else {})]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_safe_cell(c.get("label", c["key"])) for c in columns])
    for row in rows:
        writer.writerow([_safe_cell(row.get(c["key"])) for c in columns])
    return out.getvalue()


def _markdown_cell(text: str) -> str:
    """A cell's text on one line, with the pipes that would end the cell escaped."""
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|") or " "


_RIGHT_ALIGNED = ("money", "number", "int", "percent", "share")


def to_markdown(
    columns: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    *,
    cell: Callable[[Any, str], str] = lambda value, _type: "" if value is None else str(value),
) -> str:
    """The rows as a Markdown table (a header row of labels, numbers right-aligned).

    Args:
        cell: Text of one value given its column type (e.g. money as "$1,234.50").
    """
    columns = columns or [{"key": k, "label": k} for k in (rows[0] if rows else {})]
    types = [str(c.get("type", "text")) for c in columns]
    lines = [
        "| " + " | ".join(_markdown_cell(str(c.get("label", c["key"]))) for c in columns) + " |",
        "|" + "|".join("--:" if t in _RIGHT_ALIGNED else ":--" for t in types) + "|",
    ]
    for row in rows:
        values = [_markdown_cell(cell(row.get(c["key"]), t)) for c, t in zip(columns, types, strict=True)]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines)
