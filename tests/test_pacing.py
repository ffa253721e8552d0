"""Token batching for websocket pushes: urgent events at once, tokens paced, none stuck."""

from __future__ import annotations

import asyncio
import time

from finch_app.pacing import paced


async def source(script):
    for delay, item in script:
        await asyncio.sleep(delay)
        yield item


def is_token(item: str) -> bool:
    return item.startswith("t")


async def collect(script, interval=0.05):
    out = []
    async for batch in paced(source(script), holdable=is_token, interval_s=interval):
        out.append((time.monotonic(), batch))
    return out


async def test_urgent_items_are_never_held():
    batches = await collect([(0, "start"), (0.02, "t1"), (0.0, "complete")])
    flat = [item for _, batch in batches for item in batch]
    assert flat == ["start", "t1", "complete"]
    assert batches[0][1] == ["start"]


async def test_a_burst_of_tokens_becomes_few_updates_and_nothing_is_lost():
    script = [(0.001, f"t{i}") for i in range(100)]
    batches = await collect(script, interval=0.05)
    flat = [item for _, batch in batches for item in batch]
    assert flat == [f"t{i}" for i in range(100)]
    assert len(batches) < 30


async def test_a_held_token_is_flushed_when_the_source_stalls():
    t0 = time.monotonic()
    batches = await collect([(0, "start"), (0.0, "t1"), (0.01, "t2"), (0.5, "complete")], interval=0.05)
    # t2 must not wait for "complete": it goes out within the interval after it arrived.
    when_t2 = next(when for when, batch in batches if "t2" in batch)
    assert when_t2 - t0 < 0.3


async def test_closing_the_consumer_cancels_the_source():
    cancelled = asyncio.Event()

    async def endless():
        try:
            yield "start"
            await asyncio.sleep(3600)
        finally:
            cancelled.set()

    stream = paced(endless(), holdable=is_token, interval_s=0.05)
    assert await anext(stream) == ["start"]
    await stream.aclose()
    assert cancelled.is_set()


async def test_a_busy_consumer_gets_tokens_less_often_but_urgent_items_at_once():
    from finch_app.states.chat import TOKEN_FLUSH_MAX_S, TOKEN_FLUSH_S, _PushCost

    cost = _PushCost()
    assert cost.token_interval() == TOKEN_FLUSH_S
    for _ in range(30):
        cost.observe(0.05)  # each push takes 50 ms: the server is busy
    assert 0.15 < cost.token_interval() <= TOKEN_FLUSH_MAX_S
    for _ in range(30):
        cost.observe(5.0)
    assert cost.token_interval() == TOKEN_FLUSH_MAX_S

    script = [(0.001, f"t{i}") for i in range(200)] + [(0.0, "complete")]
    quick = await collect(script, interval=lambda: 0.02)
    slow = await collect(script, interval=lambda: 0.1)
    assert len(slow) < len(quick)
    assert slow[-1][1][-1] == "complete"
    assert [item for _, batch in slow for item in batch] == [f"t{i}" for i in range(200)] + ["complete"]
