"""The runs alive in this process: who consumes each (so Stop can cancel it) and the
events so far (so another tab, or a reloaded one, can follow it to the end).

In-process only; several workers share runs through Redis (see the scale work).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from finch_app.agent.events import AgentEvent


@dataclass
class _Run:
    conversation_id: str
    events: list[AgentEvent] = field(default_factory=list)
    followers: set[asyncio.Queue[AgentEvent | None]] = field(default_factory=set)
    task: asyncio.Task[Any] | None = None


class LiveRuns:
    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}

    # --- lifecycle, driven by the run itself ----------------------------------------

    def begin(self, run_id: str, conversation_id: str) -> None:
        self._runs.setdefault(run_id, _Run(conversation_id)).conversation_id = conversation_id

    def publish(self, run_id: str, event: AgentEvent) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        run.events.append(event)
        for queue in run.followers:
            queue.put_nowait(event)

    def end(self, run_id: str) -> None:
        run = self._runs.pop(run_id, None)
        if run is not None:
            for queue in run.followers:
                queue.put_nowait(None)

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

    # --- following ----------------------------------------------------------------------

    def run_for(self, conversation_id: str) -> str | None:
        """The live run answering in this conversation, if any."""
        return next((rid for rid, run in self._runs.items() if run.conversation_id == conversation_id), None)

    def is_live(self, run_id: str) -> bool:
        return run_id in self._runs

    async def follow(self, run_id: str) -> AsyncIterator[AgentEvent]:
        """Every event of the run: the ones so far at once, then each as it happens."""
        run = self._runs.get(run_id)
        if run is None:
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
