"""A follower's feed in paced batches: urgent events at once, tokens paced, none stuck."""

from __future__ import annotations

import asyncio
import time

from finch_app.runs.feed import TOKEN_FLUSH_MAX_S, TOKEN_FLUSH_S, Feed, PushCost


async def fill(feed: Feed, script) -> None:
    """The run's side: put each item after its delay, then end the feed."""
    for delay, item in script:
        await asyncio.sleep(delay)
        feed.put(item)
    feed.close()


def is_token(item: str) -> bool:
    return item.startswith("t")


async def collect(script, interval=0.05):
    feed = Feed()
    producer = asyncio.create_task(fill(feed, script))
    out = []
    every = interval if callable(interval) else (lambda: interval)
    async for batch in feed.batches(hold=is_token, interval=every):
        out.append((time.monotonic(), batch))
    await producer
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


async def test_a_held_token_is_flushed_when_the_run_stalls():
    t0 = time.monotonic()
    batches = await collect([(0, "start"), (0.0, "t1"), (0.01, "t2"), (0.5, "complete")], interval=0.05)
    # t2 must not wait for "complete": it goes out within the interval after it arrived.
    when_t2 = next(when for when, batch in batches if "t2" in batch)
    assert when_t2 - t0 < 0.3


async def test_the_events_so_far_come_first_then_the_rest():
    feed = Feed(["start", "t1"])
    producer = asyncio.create_task(fill(feed, [(0.01, "complete")]))
    batches = [batch async for batch in feed.batches(hold=is_token)]
    await producer
    assert batches[0] == ["start", "t1"] and batches[-1] == ["complete"]


async def test_a_follower_that_leaves_is_unhooked():
    left = asyncio.Event()
    feed = Feed(["start"], on_exit=left.set)
    batches = feed.batches(hold=is_token)
    assert await anext(batches) == ["start"]
    await batches.aclose()
    assert left.is_set()


async def test_a_busy_follower_gets_tokens_less_often_but_urgent_items_at_once():
    cost = PushCost()
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


async def test_text_is_pushed_less_often_the_more_tabs_stream_at_once():
    cost = PushCost()
    assert cost.token_interval() == TOKEN_FLUSH_S
    readers = [Feed(["start"]).batches(hold=is_token) for _ in range(10)]
    for reader in readers:
        assert await anext(reader) == ["start"]
    assert abs(cost.token_interval() - 10 * TOKEN_FLUSH_S) < 1e-9
    for reader in readers:
        await reader.aclose()
    assert cost.token_interval() == TOKEN_FLUSH_S
