"""Runs across workers over the local Redis: claims, following, Stop, leases and the reaper.

Two run services, each with its own `RedisRegistry` on the same Redis and key prefix, stand in
for two worker processes (the real two-process test is tests/e2e/test_workers.py). Every test
uses a fresh key prefix, so runs of concurrent test sessions never meet.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from finch_app.agent.events import Done, Error, EventStamp, ToolCallProgress, ToolCallStart
from finch_app.agent.loop import Agent
from finch_app.agent.status import RunStatus
from finch_app.context import build_providers
from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.db.models import Message, Run
from finch_app.runs import RunRefused, RunService
from finch_app.runs.redis import ENDED_TTL_S, RedisRegistry
from finch_app.runs.registry import Refusal, RunClaim
from finch_app.settings import get_settings, reset_settings
from tests.fakes.scripted_model import ScriptedModel, text, tool_call
from tests.redis_support import redis_url_or_skip
from tests.support import gate_tool, until

LEASE_S = 1.0
"""Short, so a dead owner shows quickly; not so short that a busy CI machine misses a renewal."""


@pytest.fixture
def redis_url() -> str:
    return redis_url_or_skip()


@pytest.fixture
def prefix() -> str:
    return f"finch-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def workers(
    redis_url, prefix, monkeypatch
) -> AsyncIterator[tuple[RunService, RunService, asyncio.Event]]:
    """Two workers whose models call the test's gated tool, then answer."""
    monkeypatch.setenv("FINCH_RUN_LEASE_S", str(LEASE_S))
    reset_settings()
    release, tools = gate_tool()
    settings = get_settings()

    def worker() -> RunService:
        model = ScriptedModel(
            *[step for i in range(5) for step in (tool_call("gated", {}, id=f"g{i}"), text("done"))]
        )
        agent = Agent(model=model, registry=tools, deps=build_providers(settings), system_prompt="")
        registry = RedisRegistry(redis_url, prefix=prefix, lease_s=settings.run_lease_s)
        return RunService(agent=agent, settings=settings, registry=registry)

    a, b = worker(), worker()
    await a.open()
    await b.open()
    yield a, b, release
    release.set()
    await a.aclose()
    await b.aclose()


async def test_a_follower_on_another_worker_replays_the_run_then_streams_it(workers):
    a, b, release = workers
    started = await a.start(user_id="local", conversation_id=None, message="go")
    await until(await a.follow(started.run_id), ToolCallProgress)
    assert await b.live_run(started.conversation_id) == started.run_id
    assert not b.is_local(started.run_id)

    feed = await b.follow(started.run_id)
    replayed = await until(feed, ToolCallProgress)
    assert [e.type for e in replayed] == ["run_started", "tool_call_start", "tool_call_progress"]
    release.set()
    rest = [e async for e in feed]
    seen = replayed + rest
    assert [e.seq for e in seen] == list(range(len(seen))), "every event once, in order"
    assert isinstance(seen[-1], Done)
    assert await b.live_run(started.conversation_id) is None


async def test_runs_nobody_follows_cost_redis_only_their_lease(workers):
    a, b, release = workers
    started = await a.start(user_id="local", conversation_id=None, message="go")
    await until(await a.follow(started.run_id), ToolCallProgress)
    assert await b.live_run(started.conversation_id) == started.run_id
    registry = a.registry
    assert isinstance(registry, RedisRegistry)
    assert not await registry.redis.exists(registry._events_key(started.run_id))


async def test_a_run_that_ended_on_one_worker_replays_whole_on_another(workers):
    """A client decides an approval through one worker and asks another for the stream: by then
    the run may be over. Its events stay in Redis for a while, for whichever worker is asked."""
    a, b, release = workers
    started = await a.start(user_id="local", conversation_id=None, message="go")
    release.set()
    ran = [e async for e in await a.follow(started.run_id)]
    assert isinstance(ran[-1], Done)
    late = await b.follow(started.run_id, ended=True)
    assert late.found
    assert [e.model_dump() for e in [e async for e in late]] == [e.model_dump() for e in ran]
    assert not (await b.follow(started.run_id)).found, "only a replay asks for a run that ended"
    registry = a.registry
    assert isinstance(registry, RedisRegistry)
    assert 0 < await registry.redis.ttl(registry._events_key(started.run_id)) <= ENDED_TTL_S


async def test_a_run_cut_off_with_its_worker_replays_as_interrupted(workers, redis_url, prefix):
    _, b, _ = workers
    owner = RedisRegistry(redis_url, prefix=prefix, lease_s=LEASE_S)
    assert await owner.claim(RunClaim("run_cut", "local", "conv_cut"), max_per_user=3) is None
    began = ToolCallStart(**EventStamp("run_cut")(), tool_call_id="t1", tool_name="gated", arguments={})
    owner.share("run_cut", [began])
    await owner.aclose()  # what was queued goes out; then it "dies" without an ending
    await b.registry.announce_end("run_cut", RunStatus.INTERRUPTED)  # as the reaper says
    while await b.registry.live_among(["run_cut"]):  # its lease lapses
        await asyncio.sleep(0.05)
    replayed = [e async for e in await b.follow("run_cut", ended=True)]
    assert [e.type for e in replayed] == ["tool_call_start", "tool_call_complete", "error"]
    assert replayed[1].status == "interrupted" and replayed[2].status == RunStatus.INTERRUPTED


async def test_two_followers_joining_at_different_times_each_see_every_event_once(workers):
    a, b, release = workers
    started = await a.start(user_id="local", conversation_id=None, message="go")
    await until(await a.follow(started.run_id), ToolCallProgress)
    first = await b.follow(started.run_id)
    early = await until(first, ToolCallProgress)
    second = await b.follow(started.run_id)
    release.set()
    one = [e.seq for e in early] + [e.seq async for e in first]
    two = [e.seq async for e in second]
    assert one == two == list(range(len(one)))


async def test_stop_on_another_worker_ends_the_run_where_it_runs(workers):
    a, b, release = workers
    started = await a.start(user_id="local", conversation_id=None, message="go")
    owner = await a.follow(started.run_id)
    await until(owner, ToolCallProgress)
    elsewhere = await b.follow(started.run_id)
    await until(elsewhere, ToolCallProgress)
    assert await b.stop(started.run_id) is True
    ending = [e async for e in elsewhere][-2:]
    assert [(e.type, e.status) for e in ending] == [
        ("tool_call_complete", "cancelled"),
        ("error", "cancelled"),
    ]
    assert [e async for e in owner][-2:] == ending, "the same ending on both workers"
    with session_scope() as session:
        assert session.exec(select(Run)).one().status == "cancelled"
    assert await b.stop("run_nobody_runs") is False


async def test_claims_hold_across_workers_and_parallel_requests(redis_url, prefix):
    one = RedisRegistry(redis_url, prefix=prefix, lease_s=5)
    two = RedisRegistry(redis_url, prefix=prefix, lease_s=5)
    try:
        claims = [RunClaim(f"run_{i}", "alice", f"conv_{i}") for i in range(12)]
        outcomes = await asyncio.gather(
            *((one if i % 2 else two).claim(c, max_per_user=3) for i, c in enumerate(claims))
        )
        assert outcomes.count(None) == 3 and outcomes.count(Refusal.USER_LIMIT) == 9
        taken = [c for c, outcome in zip(claims, outcomes, strict=True) if outcome is None]
        assert await one.claim(RunClaim("run_x", "bob", taken[0].conversation_id), max_per_user=3) == (
            Refusal.CONVERSATION_BUSY
        )
        assert (
            await two.claim(RunClaim("run_y", "bob", "conv_bob"), max_per_user=3) is None
        )  # bob has his own
        for claim in taken:
            await (one if claim.run_id in one._owned else two).release(claim.run_id)
        assert await one.claim(RunClaim("run_z", "alice", "conv_z"), max_per_user=3) is None
        await one.release("run_z")
        await two.release("run_y")
    finally:
        await one.aclose()
        await two.aclose()


async def test_the_run_limit_holds_across_two_workers(workers, monkeypatch):
    a, b, release = workers
    monkeypatch.setattr(a.settings, "max_runs_per_user", 2)
    monkeypatch.setattr(b.settings, "max_runs_per_user", 2)
    outcomes = await asyncio.gather(
        *(
            (a if i % 2 else b).start(user_id="local", conversation_id=None, message=f"q{i}")
            for i in range(6)
        ),
        return_exceptions=True,
    )
    started = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(started) == 2 and all(
        isinstance(o, RunRefused) and o.status == 429 for o in outcomes if o not in started
    )
    for s in started:
        await (a if a.is_local(s.run_id) else b).stop(s.run_id, wait=True)


async def test_a_follower_learns_that_the_owner_died(workers, redis_url, prefix):
    _, b, _ = workers
    owner = RedisRegistry(redis_url, prefix=prefix, lease_s=LEASE_S)
    assert await owner.claim(RunClaim("run_dead", "local", "conv_dead"), max_per_user=3) is None
    feed = await b.follow("run_dead")
    # The owner "dies": its heartbeat stops, no end marker is ever sent, nobody answers.
    await owner.aclose()
    began = time.monotonic()
    seen = [e async for e in feed]
    assert len(seen) == 1 and isinstance(seen[0], Error) and seen[0].status == RunStatus.INTERRUPTED
    assert time.monotonic() - began < 3, "bounded by the lease"


async def test_the_reaper_interrupts_runs_without_a_lease_and_spares_live_ones(workers):
    a, b, release = workers
    # A run whose worker died before its lease was ever renewed: rows, but no lease.
    with session_scope() as session:
        conversation = crud.create_conversation(session=session, user_id="local", title="dead")
        question = crud.add_message(
            session=session, user_id="local", conversation_id=conversation.id, role="user", content="q"
        )
        crud.start_run(
            session=session,
            run_id="run_dead",
            user_id="local",
            conversation_id=conversation.id,
            user_message_id=question.id,
            model="x",
        )
    # …and one still answering on worker a.
    live = await a.start(user_id="local", conversation_id=None, message="go")
    await until(await a.follow(live.run_id), ToolCallProgress)

    assert await b.reap_dead_runs() == 0, "a run younger than a lease is left alone"

    def statuses() -> dict[str, str]:
        with session_scope() as session:
            return {r.id: r.status for r in session.exec(select(Run)).all()}

    # The workers' own watchers reap every half lease; an explicit pass may win the race.
    deadline = time.monotonic() + 5
    while statuses()["run_dead"] != "interrupted":
        assert time.monotonic() < deadline, "the dead run was never reaped"
        await b.reap_dead_runs()
        await asyncio.sleep(0.05)
    assert await a.reap_dead_runs() == 0 and await b.reap_dead_runs() == 0, "each run is ended once"
    with session_scope() as session:
        runs = {r.id: r.status for r in session.exec(select(Run)).all()}
        assert runs == {"run_dead": "interrupted", live.run_id: "running"}
        answer = session.exec(
            select(Message).where(Message.run_id == "run_dead", Message.role == "assistant")
        ).one()
        assert answer.status == "interrupted" and answer.retryable
