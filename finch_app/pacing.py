"""Batch a fast event stream for a consumer that pays per update (a websocket push).

Events that matter (a tool starting, an answer ending) go out at once; "holdable" ones
(streamed tokens) are gathered and go out at most every `interval_s`, and never wait
longer than that, even when the source stalls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import TypeVar

T = TypeVar("T")
_END = object()


async def paced(
    source: AsyncIterator[T], *, holdable: Callable[[T], bool], interval_s: float | Callable[[], float]
) -> AsyncIterator[list[T]]:
    """Yield the source's items in batches; closing this closes (and cancels) the source.

    `interval_s` may be a function, asked at each batch (the consumer can slow holdable
    items down when its pushes get expensive)."""
    interval = interval_s if callable(interval_s) else lambda: interval_s
    queue: asyncio.Queue[object] = asyncio.Queue()

    async def pump() -> None:
        async with aclosing(source) as items:
            async for item in items:
                queue.put_nowait(item)
        queue.put_nowait(_END)

    producer = asyncio.create_task(pump())
    batch: list[T] = []
    last_flush = 0.0
    try:
        while True:
            timeout = None
            if batch:
                timeout = max(0.0, last_flush + interval() - time.monotonic())
            try:
                item = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                item = None
            if item is _END:
                break
            if item is not None:
                batch.append(item)  # type: ignore[arg-type]
                # Take whatever else is already waiting, so a burst becomes one update.
                while not queue.empty():
                    nxt = queue.get_nowait()
                    if nxt is _END:
                        queue.put_nowait(_END)
                        break
                    batch.append(nxt)  # type: ignore[arg-type]
                urgent = not all(holdable(i) for i in batch)
                if not urgent and time.monotonic() - last_flush < interval():
                    continue
            yield batch
            batch = []
            last_flush = time.monotonic()
        if batch:
            yield batch
        await producer  # re-raise a failure of the source
    finally:
        if not producer.done():
            producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)
