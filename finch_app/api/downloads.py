"""How a download names its file, whatever the title's alphabet."""

from __future__ import annotations

import re
from urllib.parse import quote

_NOT_PLAIN = re.compile(r"[^A-Za-z0-9 ._-]+")


def attachment(filename: str, *, fallback: str = "finch-download") -> dict[str, str]:
    """The `Content-Disposition` header of a download called `filename`: the name itself for every
    browser (RFC 6266's `filename*`), and a plain-ASCII one for clients that only read `filename`
    (a header is Latin-1: a title in Greek or with an emoji must not make the download fail)."""
    stem, dot, extension = filename.rpartition(".")
    plain = _NOT_PLAIN.sub("", stem if dot else filename).strip(" ._-") or fallback
    ascii_name = f"{plain}.{_NOT_PLAIN.sub('', extension)}" if dot else plain
    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    }
