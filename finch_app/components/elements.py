"""Plain elements with event triggers Reflex's own `div` lacks, declared the Reflex way (an event
trigger and the values it carries from the DOM event): no script of our own. The page then
decides in the browser whether an event is worth sending to the server."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex_base.event import key_event
from reflex_base.vars.base import Var
from reflex_base.vars.object import ObjectVar


@dataclasses.dataclass(frozen=True)
class _ScrollBox:
    scrollTop: float = 0  # noqa: N815 - the DOM's names
    scrollHeight: float = 0  # noqa: N815
    clientHeight: float = 0  # noqa: N815


@dataclasses.dataclass(frozen=True)
class _ScrollEvent:
    target: _ScrollBox = _ScrollBox()


def scroll_position(e: ObjectVar[_ScrollEvent]) -> tuple[Var[float], Var[float], Var[float]]:
    """(scrollTop, scrollHeight, clientHeight) of the scrolled element."""
    return (e.target.scrollTop, e.target.scrollHeight, e.target.clientHeight)


class ScrollArea(rx.el.Div):
    """A scrolling `div` whose scroll events carry the position (Reflex's own `on_scroll` carries nothing)."""

    on_scroll: rx.EventHandler[scroll_position]


class KeyArea(rx.el.Div):
    """A `div` that hears the keys pressed inside it (e.g. Escape to cancel a confirmation)."""

    on_key_down: rx.EventHandler[key_event]
