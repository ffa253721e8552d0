"""Tool names across servers: `<server>__<tool>`, within what OpenAI accepts (`^[a-zA-Z0-9_-]{1,64}$`).

Server names never contain `__` (config.SERVER_NAME), so the first `__` of a name splits it.
"""

from __future__ import annotations

import hashlib
import re

SEPARATOR = "__"
MAX_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def namespaced(server: str, tool: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """The model's name for `server`'s tool `tool`: unsafe characters become `_`; a name too long,
    or one another tool of the server already took, ends in a short hash of the original."""
    prefix = f"{server}{SEPARATOR}"
    name = prefix + (_UNSAFE.sub("_", tool) or "tool")
    if len(name) <= MAX_NAME and name not in taken:
        return name
    digest = hashlib.sha1(tool.encode()).hexdigest()[:8]
    room = MAX_NAME - len(prefix) - len(digest) - 1
    return f"{prefix}{_UNSAFE.sub('_', tool)[:room]}_{digest}"


def split_name(name: str) -> tuple[str, str] | None:
    """(server, tool) of a namespaced name; None for one of Finch's own tools."""
    server, separator, tool = name.partition(SEPARATOR)
    if not separator or not server or not tool:
        return None
    return server, tool


def display_name(name: str) -> str:
    """What a person reads on a card: "research · lookup", or the tool's own name."""
    parts = split_name(name)
    return f"{parts[0]} · {parts[1]}" if parts else name
