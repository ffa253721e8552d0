"""Runs across workers over the local Redis: follow, Stop, leases and the reaper.

Two `LiveRuns`, each with its own `RunBus` on the same Redis and key prefix, stand in for
two worker processes (the real two-process test is tests/e2e/test_workers.py). Every test
uses a fresh key prefix, so runs of concurrent test sessions never meet.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from finch_app.agent.events import AgentEvent, Done, RunStarted, Token, ToolCallStart
from finch_app.db.engine import session_scope
from finch_app.db.models import Message, Run
from finch_app.live_runs import LiveRuns
from finch_app.run_bus import RunBus
from tests.redis_support import redis_url_or_skip

RUN, CONVERSATION = "run_bus_test", "conv_bus_test"


@pytest.fixture
def redis_url() -> str:
    return redis_url_or_skip()


@pytest.fixture
async def workers(redis_url) -> AsyncIterator[tuple[LiveRuns, LiveRuns]]:
    prefix = f"finch-test-{uuid.uuid4().hex[:10]}"
    a = LiveRuns(RunBus(redis_url, prefix=prefix, lease_s=0.6))
    b = LiveRuns(RunBus(redis_url, prefix=prefix, lease_s=0.6))
    yield a, b
    await a.aclose()
    await b.aclose()


def events(n: int, start: int = 0) -> list[AgentEvent]:
    out: list[AgentEvent] = []
    for seq in range(start, start + n):
        if seq == 0:
            out.append(RunStarted(run_id=RUN, seq=0, timestamp=time.time(), conversation_id=CONVERSATION,
                                  user_message_id="m1", model="Offline model"))
        elif seq == 1:
            out.append(ToolCallStart(run_id=RUN, seq=1, timestamp=time.time(), tool_call_id="c1",
                                     tool_name="get_portfolio", arguments={}))
        else:
            out.append(Token(run_id=RUN, seq=seq, timestamp=time.time(), text=f"w{seq} "))
    return out


async def eventually(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_follower_on_another_worker_replays_the_run_then_streams_it(workers):
    a, b = workers
    a.begin(RUN, CONVERSATION)
    for event in events(3):
        a.publish(RUN, event)

    async def found() -> bool:
        return await b.find_run(CONVERSATION) == RUN

    await eventually(found)
    assert await b.alive(RUN) and not b.is_live(RUN)

    seen: list[AgentEvent] = []

    async def follow() -> None:
        async for event in b.follow(RUN):
            seen.append(event)

    follower = asyncio.create_task(follow())

    async def replayed() -> bool:
        return len(seen) >= 3

    await eventually(replayed)
    for event in [*events(40, start=3), Done(run_id=RUN, seq=43, timestamp=time.time())]:
        a.publish(RUN, event)
    a.end(RUN)
    await asyncio.wait_for(follower, 5)
    assert [e.seq for e in seen] == list(range(44)), "every event once, in order"
    assert isinstance(seen[1], ToolCallStart) and seen[1].tool_name == "get_portfolio"

    async def gone() -> bool:
        return await b.find_run(CONVERSATION) is None and not await b.alive(RUN)

    await eventually(gone)


async def test_runs_nobody_follows_cost_redis_only_their_lease(workers):
    a, b = workers
    a.begin(RUN, CONVERSATION)
    for event in events(30):
        a.publish(RUN, event)

    async def visible() -> bool:
        return await b.alive(RUN)

    await eventually(visible)
    assert not await a.bus.redis.exists(a.bus._events_key(RUN))
    a.end(RUN)


async def test_two_followers_joining_at_different_times_each_see_every_event_once(workers):
    a, b = workers
    a.begin(RUN, CONVERSATION)
    for event in events(5):
        a.publish(RUN, event)

    async def visible() -> bool:
        return await b.alive(RUN)

    await eventually(visible)
    first: list[int] = []
    second: list[int] = []

    async def follow(into: list[int]) -> None:
        async for event in b.follow(RUN):
            into.append(event.seq)

    tasks = [asyncio.create_task(follow(first))]

    async def caught_up() -> bool:
        return len(first) == 5

    await eventually(caught_up)
    for event in events(10, start=5):
        a.publish(RUN, event)
    tasks.append(asyncio.create_task(follow(second)))

    async def both() -> bool:
        return len(first) == 15 and len(second) == 15

    await eventually(both)
    for event in events(5, start=15):
        a.publish(RUN, event)
    a.end(RUN)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert first == second == list(range(20))


async def test_stop_on_another_worker_cancels_the_task_where_the_run_runs(workers):
    a, b = workers
    cancelled = asyncio.Event()

    async def consume() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = asyncio.create_task(consume())
    a.add(RUN, task)
    a.begin(RUN, CONVERSATION)

    async def visible() -> bool:
        return await b.alive(RUN)

    await eventually(visible)
    assert await b.stop(RUN) is True
    await asyncio.wait_for(cancelled.wait(), 5)
    assert task.cancelled() or task.done()
    a.end(RUN)
    assert await b.stop("run_nobody_runs") is False


async def test_a_follower_learns_that_the_owner_died(workers, redis_url):
    a, b = workers
    a.begin(RUN, CONVERSATION)
    for event in events(2):
        a.publish(RUN, event)

    async def visible() -> bool:
        return await b.alive(RUN)

    await eventually(visible)
    # The owner "dies": its heartbeat stops, no end marker is ever sent, nobody answers.
    await a.aclose()
    started = time.monotonic()
    seen = [event.seq async for event in b.follow(RUN)]
    assert seen == [], "the run was never shared, and its worker is gone"
    assert b.ended_as(RUN) == "interrupted"
    assert time.monotonic() - started < 3, "bounded by the lease"


async def test_the_reaper_interrupts_runs_without_a_lease_and_spares_live_ones(redis_url, monkeypatch):
    from finch_app.chat_service import get_chat_service
    from finch_app.settings import reset_settings

    monkeypatch.setenv("REFLEX_REDIS_URL", redis_url)
    monkeypatch.setenv("FINCH_REDIS_PREFIX", f"finch-test-{uuid.uuid4().hex[:10]}")
    monkeypatch.setenv("FINCH_RUN_LEASE_S", "0.5")
    reset_settings()
    get_chat_service.cache_clear()
    service = get_chat_service()
    try:
        # A run whose worker died before its lease was ever renewed…
        dead = await service.start_turn(user_id="local", conversation_id=None, message="review my portfolio")
        # …and one still answering (its lease renewed by a live worker).
        live = await service.start_turn(user_id="local", conversation_id=None, message="what's trending on reddit?")
        service.active.begin(live.run_id, live.conversation_id)

        assert await service.reap_dead_runs() == 0, "a run younger than a lease is left alone"
        await asyncio.sleep(0.7)
        assert await service.reap_dead_runs() == 1
        assert await service.reap_dead_runs() == 0, "each run is ended once"
        with session_scope() as session:
            runs = {r.id: r.status for r in session.exec(select(Run)).all()}
            assert runs == {dead.run_id: "interrupted", live.run_id: "running"}
            answer = session.exec(select(Message).where(Message.run_id == dead.run_id, Message.role == "assistant")).one()
            assert answer.status == "interrupted" and answer.retryable
        service.active.end(live.run_id)
    finally:
        await service.aclose()
