"""One follower's view of a run: its events so far, then each as it happens.

A follower that pays per update (a Reflex tab: a state lock and a websocket push each) reads
the feed in paced batches: events that matter (a tool starting, an answer ending) go out at
once with whatever else is waiting; streamed tokens are gathered and go out at most every
`interval`, and never wait longer than that, even when the run stalls. There is no task
between the run and the follower: the batch is taken straight from the follower's queue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from finch_app.agent.events import AgentEvent, Token

_END = None

TOKEN_FLUSH_S = 0.05
"""Streaming text is pushed at most this often (per follower, when it is the only one); tool
events go out at once."""
TOKEN_FLUSH_MAX_S = 1.0
"""…and at least this often, however busy the server is."""


class Feed:
    """The events of one run for one follower, ending after the run's last event."""

    pacing = 0
    """Followers of this process reading in paced batches right now (the streaming tabs)."""

    def __init__(
        self,
        backlog: list[AgentEvent] | None = None,
        *,
        found: bool = True,
        on_exit: Callable[[], object] | None = None,
    ) -> None:
        self._queue: asyncio.Queue[AgentEvent | None] = asyncio.Queue()
        self.on_exit = on_exit
        """Called when the follower stops reading (done, or gone early): unhooks the feed."""
        for event in backlog or ():
            self._queue.put_nowait(event)
        self.found = found
        """False when the run was not live anywhere: the feed ends at once."""
        if not found:
            self.close()

    def put(self, event: AgentEvent) -> None:
        self._queue.put_nowait(event)

    def close(self) -> None:
        self._queue.put_nowait(_END)

    def __aiter__(self) -> Feed:
        return self

    async def __anext__(self) -> AgentEvent:
        event = await self._queue.get()
        if event is _END:
            self._queue.put_nowait(_END)  # stays ended for any later read
            self._exit()
            raise StopAsyncIteration
        return event

    async def aclose(self) -> None:
        """The follower is gone: stop receiving the run's events."""
        self._exit()

    def _exit(self) -> None:
        if self.on_exit is not None:
            self.on_exit()
            self.on_exit = None

    async def batches(
        self,
        *,
        hold: Callable[[AgentEvent], bool] = lambda e: isinstance(e, Token),
        interval: Callable[[], float] = lambda: TOKEN_FLUSH_S,
    ) -> AsyncIterator[list[AgentEvent]]:
        """The events in batches: a batch with any event `hold` refuses goes out at once;
        one of only holdable events waits until `interval` after the previous batch."""
        Feed.pacing += 1
        try:
            async for batch in self._batches(hold, interval):
                yield batch
        finally:
            Feed.pacing -= 1
            self._exit()

    async def _batches(
        self, hold: Callable[[AgentEvent], bool], interval: Callable[[], float]
    ) -> AsyncIterator[list[AgentEvent]]:
        queue = self._queue
        batch: list[AgentEvent] = []
        last_flush = 0.0
        ended = False
        while not ended:
            if not batch:
                item = await queue.get()
            else:
                try:
                    async with asyncio.timeout(max(0.0, last_flush + interval() - time.monotonic())):
                        item = await queue.get()
                except TimeoutError:
                    item = ...  # the interval is up: send what is held
            if item is _END:
                ended = True
            elif item is not ...:
                batch.append(item)
                # Take whatever else is already waiting, so a burst becomes one update.
                while not queue.empty():
                    waiting = queue.get_nowait()
                    if waiting is _END:
                        ended = True
                        break
                    batch.append(waiting)
                if not ended and all(hold(e) for e in batch) and time.monotonic() - last_flush < interval():
                    continue
            if batch:
                yield batch
                batch = []
                last_flush = time.monotonic()


@dataclass
class PushCost:
    """How often a follower may push streamed text: the busier the server, the less often.

    Every push costs a state lock, a delta, a frame and a render in the page; the cost that
    matters is the sum over every streaming tab. So text goes out every `TOKEN_FLUSH_S` times
    the number of tabs streaming in this process (one tab: 20 updates a second; ten: two), and
    less often still when this tab's own pushes get slow — never less often than
    `TOKEN_FLUSH_MAX_S`. Tool events are never held back, so a card never waits for text.
    """

    average_s: float = 0.0
    """This follower's push time (lock, state store, send), as a moving average."""

    def observe(self, seconds: float) -> None:
        self.average_s = 0.8 * self.average_s + 0.2 * seconds

    def token_interval(self) -> float:
        shared = TOKEN_FLUSH_S * max(1, Feed.pacing)
        return min(TOKEN_FLUSH_MAX_S, max(shared, 4 * self.average_s))
