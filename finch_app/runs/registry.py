"""Which runs are live: the one source of truth, for this worker and every other.

A run is live from the moment it is claimed (before its question is saved) until its owner
releases it (after its rows are final). The claim is atomic: one run per conversation and at
most `max_per_user` runs per user, checked and taken in one step, so parallel requests cannot
slip past the limits. `LocalRegistry` is that for one process; `runs.redis.RedisRegistry` adds
leases, cross-worker Stop and following over Redis for several workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from finch_app.agent.events import AgentEvent
from finch_app.agent.status import RunStatus


@dataclass(frozen=True)
class RunClaim:
    run_id: str
    user_id: str
    conversation_id: str


class Refusal(StrEnum):
    """Why a claim was refused."""

    CONVERSATION_BUSY = "conversation_busy"
    USER_LIMIT = "user_limit"


@dataclass(frozen=True)
class StopRequest:
    """Another worker asks this one to stop a run it owns."""

    run_id: str


@dataclass(frozen=True)
class ShareRequest:
    """A follower on another worker asks for a run's events: the backlog, then each new one."""

    run_id: str


ControlRequest = StopRequest | ShareRequest


class RunRegistry(Protocol):
    """The live runs of every worker, and the way to reach a run that lives elsewhere."""

    async def claim(self, claim: RunClaim, *, max_per_user: int) -> Refusal | None:
        """Take the run's place, or say why not (nothing is taken then)."""
        ...

    async def release(self, run_id: str, *, events: Sequence[AgentEvent] = ()) -> None:
        """The run is over: its conversation and its user's place are free again. Its `events`
        (its whole life) stay for a while where other workers can replay them (`ended_events`)."""
        ...

    async def ended_events(self, run_id: str) -> list[AgentEvent]:
        """The events of a run that ended lately on another worker (none if there is no such run)."""
        ...

    async def run_for(self, conversation_id: str) -> str | None:
        """The live run answering in the conversation, on any worker."""
        ...

    async def live_among(self, run_ids: Iterable[str]) -> set[str]:
        """The runs among `run_ids` that are live on some worker."""
        ...

    async def request_stop(self, run_id: str) -> bool:
        """Ask the worker owning a run elsewhere to stop it; False if no worker runs it."""
        ...

    def publish(self, run_id: str, event: AgentEvent) -> None:
        """An event of a run this worker owns (sent on only when a follower elsewhere asked)."""
        ...

    def share(self, run_id: str, backlog: list[AgentEvent]) -> None:
        """Answer a `ShareRequest`: the run's events so far; later ones follow via `publish`."""
        ...

    def follow(self, run_id: str) -> AsyncIterator[AgentEvent]:
        """Every event of a run owned by another worker; ends at its end or when its worker is gone."""
        ...

    def requests(self) -> AsyncIterator[ControlRequest]:
        """What other workers ask of this one's runs."""
        ...

    async def announce_end(self, run_id: str, status: RunStatus) -> None:
        """Tell followers a run is over that its own worker can no longer end (it died)."""
        ...

    async def aclose(self) -> None: ...


class LocalRegistry:
    """The live runs of this process; no other worker exists."""

    def __init__(self) -> None:
        self._claims: dict[str, RunClaim] = {}
        self._closed = asyncio.Event()

    async def claim(self, claim: RunClaim, *, max_per_user: int) -> Refusal | None:
        # No await between the checks and the write: atomic on the event loop.
        if any(c.conversation_id == claim.conversation_id for c in self._claims.values()):
            return Refusal.CONVERSATION_BUSY
        if sum(c.user_id == claim.user_id for c in self._claims.values()) >= max_per_user:
            return Refusal.USER_LIMIT
        self._claims[claim.run_id] = claim
        return None

    async def release(self, run_id: str, *, events: Sequence[AgentEvent] = ()) -> None:
        self._claims.pop(run_id, None)  # the service keeps its own ended runs' events

    async def ended_events(self, run_id: str) -> list[AgentEvent]:
        return []

    async def run_for(self, conversation_id: str) -> str | None:
        return next((c.run_id for c in self._claims.values() if c.conversation_id == conversation_id), None)

    async def live_among(self, run_ids: Iterable[str]) -> set[str]:
        return {run_id for run_id in run_ids if run_id in self._claims}

    async def request_stop(self, run_id: str) -> bool:
        return False

    def publish(self, run_id: str, event: AgentEvent) -> None:
        return None

    def share(self, run_id: str, backlog: list[AgentEvent]) -> None:
        return None

    async def follow(self, run_id: str) -> AsyncIterator[AgentEvent]:
        return
        yield  # an async generator that has nothing: no run lives elsewhere

    async def requests(self) -> AsyncIterator[ControlRequest]:
        await self._closed.wait()
        return
        yield  # nobody else asks anything

    async def announce_end(self, run_id: str, status: RunStatus) -> None:
        return None

    async def aclose(self) -> None:
        self._closed.set()
