"""A visit's finished turns in fixed slots, so no update grows with the length of a visit.

Reflex sends the whole value of every var that changed. A list of the visit's turns, re-sent
at each new turn, would make every later update bigger. Instead each finished turn goes into
one of `SLOTS` vars (a ring), and a small list of positions orders them on the page (CSS
`order`): a new turn changes one slot and the positions, whatever came before. Once the ring
is full, the oldest turn leaves the page (it stays one "Load earlier messages" away).
"""

from __future__ import annotations

from dataclasses import dataclass

SLOTS = 12
"""Finished turns of a visit kept on the page (older ones load on demand)."""


def slot_var(prefix: str, index: int) -> str:
    return f"{prefix}_{index}"


@dataclass(frozen=True)
class Placement:
    slot: int
    """Which slot the turn goes into."""
    position: int
    """Its place on the page (grows with every turn: newer turns sort later)."""
    evicts: bool
    """The slot held an older turn, which leaves the page."""


def place(turns_so_far: int) -> Placement:
    """Where the visit's next finished turn goes."""
    return Placement(slot=turns_so_far % SLOTS, position=turns_so_far, evicts=turns_so_far >= SLOTS)


def newest_slot(turns: int) -> int | None:
    """The slot of the visit's latest turn, if any."""
    return (turns - 1) % SLOTS if turns else None


def oldest_slot(turns: int) -> int | None:
    """The slot of the oldest turn still on the page, if any."""
    if not turns:
        return None
    return turns % SLOTS if turns > SLOTS else 0
