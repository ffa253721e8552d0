"""The runs alive in this process: who consumes each (so Stop can cancel it) and the
events so far (so another tab, or a reloaded one, can follow it to the end).

In-process by itself. Given a `RunBus` (with `REFLEX_REDIS_URL`), the runs of every
worker are reachable too: `find_run`, `alive`, `stop` and `follow` look beyond this
process, and this process's runs are published for the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from finch_app.agent.events import AgentEvent

if TYPE_CHECKING:
    from finch_app.run_bus import RunBus


@dataclass
class _Run:
    conversation_id: str
    events: list[AgentEvent] = field(default_factory=list)
    followers: set[asyncio.Queue[AgentEvent | None]] = field(default_factory=set)
    task: asyncio.Task[Any] | None = None


class LiveRuns:
    def __init__(self, bus: RunBus | None = None) -> None:
        self._runs: dict[str, _Run] = {}
        self.bus = bus
        self._ended: dict[str, str] = {}
        if bus is not None:
            bus.on_stop = self.cancel
            bus.events_of = lambda run_id: list(run.events) if (run := self._runs.get(run_id)) else []

    # --- lifecycle, driven by the run itself ----------------------------------------

    def begin(self, run_id: str, conversation_id: str) -> None:
        self._runs.setdefault(run_id, _Run(conversation_id)).conversation_id = conversation_id
        if self.bus is not None:
            self.bus.begin(run_id, conversation_id)

    def publish(self, run_id: str, event: AgentEvent) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        run.events.append(event)
        for queue in run.followers:
            queue.put_nowait(event)
        if self.bus is not None:
            self.bus.publish(run_id, event)

    def end(self, run_id: str) -> None:
        run = self._runs.pop(run_id, None)
        if run is not None:
            for queue in run.followers:
                queue.put_nowait(None)
        if self.bus is not None:
            self.bus.end(run_id)

    # --- the consumer's task, for Stop ------------------------------------------------

    def add(self, run_id: str, task: asyncio.Task[Any]) -> None:
        self._runs.setdefault(run_id, _Run(conversation_id="")).task = task

    def discard(self, run_id: str, task: asyncio.Task[Any] | None = None) -> None:
        """Forget the consumer task (only `task`, if given: a follower must not unhook the owner)."""
        run = self._runs.get(run_id)
        if run is not None and (task is None or run.task is task):
            run.task = None

    def cancel(self, run_id: str) -> bool:
        """Cancel the task consuming the run; its cleanup closes the agent and the rows."""
        run = self._runs.get(run_id)
        if run is None or run.task is None or run.task.done():
            return False
        run.task.cancel()
        return True

    async def stop(self, run_id: str) -> bool:
        """Cancel the run wherever it runs: here, or on its own worker (through the bus)."""
        if self.cancel(run_id):
            return True
        return self.bus is not None and await self.bus.request_stop(run_id)

    # --- following ----------------------------------------------------------------------

    def run_for(self, conversation_id: str) -> str | None:
        """The live run answering in this conversation, if any."""
        return next((rid for rid, run in self._runs.items() if run.conversation_id == conversation_id), None)

    def is_live(self, run_id: str) -> bool:
        return run_id in self._runs

    async def find_run(self, conversation_id: str) -> str | None:
        """`run_for` across workers."""
        if (run_id := self.run_for(conversation_id)) is not None or self.bus is None:
            return run_id
        return await self.bus.run_for(conversation_id)

    async def alive(self, run_id: str) -> bool:
        """`is_live` across workers."""
        return self.is_live(run_id) or (self.bus is not None and await self.bus.is_live(run_id))

    async def live_among(self, run_ids: list[str]) -> set[str]:
        """The runs among `run_ids` that are alive here or on another worker."""
        here = {run_id for run_id in run_ids if self.is_live(run_id)}
        if self.bus is None:
            return here
        return here | await self.bus.live_among([r for r in run_ids if r not in here])

    def ended_as(self, run_id: str) -> str:
        """How a followed run ended without an answer: "stopped", or "interrupted" (its worker died)."""
        return self._ended.pop(run_id, "stopped")

    async def aclose(self) -> None:
        if self.bus is not None:
            await self.bus.aclose()

    async def follow(self, run_id: str) -> AsyncIterator[AgentEvent]:
        """Every event of the run: the ones so far at once, then each as it happens."""
        run = self._runs.get(run_id)
        if run is None:
            if self.bus is not None:
                async for event in self.bus.follow(run_id, self._ended):
                    yield event
            return
        queue: asyncio.Queue[AgentEvent | None] = asyncio.Queue()
        backlog = list(run.events)
        run.followers.add(queue)
        try:
            for event in backlog:
                yield event
            while (event := await queue.get()) is not None:
                yield event
        finally:
            run.followers.discard(queue)
