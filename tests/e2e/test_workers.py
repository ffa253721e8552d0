"""Two Finch processes on two ports, sharing the local Redis and a fresh PostgreSQL database.

Tabs are headless Reflex clients (`scripts/reflex_client.py`: Socket.IO, Reflex's own event
protocol), so each can be pointed at one worker: what one worker starts, the other lists,
follows and stops; when one is killed mid-run, the other marks its run `interrupted`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import signal
import time
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any

import httpx
import pytest

from scripts.reflex_client import ReflexTab
from tests.e2e.app_server import AppServer
from tests.redis_support import fresh_postgres_database_or_skip, redis_url_or_skip
from tests.test_api_approvals import sse

TOOL_MS = 6000
"""Sample tools take this long, so a test can act while a card is running."""
LEASE_S = 2.0


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run async client code on its own loop (Playwright owns this thread's loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="module")
def workers(tmp_path_factory) -> Iterator[tuple[AppServer, AppServer]]:
    redis_url = redis_url_or_skip()
    database_url, drop = fresh_postgres_database_or_skip()
    env = {
        "DATABASE_URL": database_url,
        "REFLEX_REDIS_URL": redis_url,
        "FINCH_REDIS_PREFIX": f"finch-e2e-{uuid.uuid4().hex[:8]}",
        "FINCH_RUN_LEASE_S": str(LEASE_S),
        "FINCH_SAMPLE_LATENCY_MS": str(TOOL_MS),
    }
    a = AppServer(tmp_path_factory.mktemp("worker-a"), env=env)
    b = AppServer(tmp_path_factory.mktemp("worker-b"), env=env)
    try:
        # One after the other: the second build waits for the first's lock on .web anyway.
        a.start()
        b.start()
        yield a, b
    finally:
        a.kill()
        b.kill()
        drop()


def conversation(server: AppServer, conversation_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/conversations/{conversation_id}", timeout=10)
    response.raise_for_status()
    return response.json()


async def start_run(server: AppServer, message: str = "latest house trades") -> tuple[ReflexTab, str]:
    """A tab on `server` asks `message`; returns once its first card is running."""
    tab = ReflexTab(server.url)
    await tab.open("/")
    await tab.ask(message)
    await tab.wait_until(lambda t: any(c["status"] == "running" for c in t.live.get("cards", [])), 15)
    return tab, tab.live["conversation_id"]


async def open_on(server: AppServer, conversation_id: str, token: str | None = None) -> ReflexTab:
    tab = ReflexTab(server.url, token=token)
    await tab.open(f"/c/{conversation_id}", {"cid": conversation_id})
    return tab


def statuses(tab: ReflexTab) -> list[str]:
    """The cards of the turn: live while it runs, then the ones its answer ended with."""
    cards = tab.live.get("cards") or []
    if not cards and not tab.live.get("user_text") and (answer := tab.last_answer):
        cards = answer.get("cards") or []
    return [card["status"] for card in cards]


def test_twelve_parallel_streams_on_two_workers_start_no_more_runs_than_the_limit(workers):
    """FINCH_MAX_RUNS_PER_USER (3) holds across real workers: 12 `POST /api/chat/stream` for one
    user at once, six on each worker, start exactly 3 runs; the others get a 429 (Redis claims)."""
    a, b = workers

    async def scenario() -> list[tuple[int, str]]:
        async with httpx.AsyncClient(timeout=30) as http:

            async def ask(server: AppServer) -> tuple[int, str]:
                url = f"{server.url}/api/chat/stream"
                async with http.stream("POST", url, json={"message": "latest house trades"}) as response:
                    if response.status_code != 200:
                        return response.status_code, ""
                    async for line in response.aiter_lines():
                        if line.startswith("data: ") and '"run_started"' in line:
                            return 200, json.loads(line.removeprefix("data: "))["conversation_id"]
                    return 200, ""  # the stream closes on return: its run is stopped

            return await asyncio.gather(*(ask(a if n % 2 else b) for n in range(12)))

    answers = run(scenario())
    started = [cid for status, cid in answers if status == 200]
    assert len(started) == 3 and sorted(status for status, _ in answers).count(429) == 9, answers
    # The streams closed: each run is stopped, and its place freed, before the next test.
    deadline = time.monotonic() + 20
    for conversation_id in started:
        while conversation(a, conversation_id)["messages"][-1]["role"] != "assistant":
            assert time.monotonic() < deadline, "the stopped runs did not end"
            time.sleep(0.2)


def test_what_one_worker_starts_the_other_lists_and_streams(workers):
    a, b = workers

    async def scenario() -> None:
        tab, conversation_id = await start_run(a, "what's trending on reddit?")
        # A new tab on the other worker lists the conversation…
        other = ReflexTab(b.url)
        await other.open("/")
        assert conversation_id in [c["id"] for c in other.chat["conversations"]]
        listed = httpx.get(f"{b.url}/api/conversations", timeout=10).json()
        assert conversation_id in [c["id"] for c in listed]
        # …and opening it there follows the run live (replayed from Redis, then streamed).
        follower = await open_on(b, conversation_id)
        assert follower.live["running"]
        await follower.wait_until(lambda t: statuses(t) == ["running"], 10)
        # The first tab reconnects to the other worker, as after a load balancer's switch:
        # its run goes on where it started and its updates reach it there.
        token = tab.token
        await tab.close()
        moved = await open_on(b, conversation_id, token=token)
        for t in (moved, follower):
            await t.wait_until(lambda t: t.last_answer and not t.live["running"], TOOL_MS / 1000 + 15)
            assert statuses(t) == ["completed"] and t.last_answer["status"] == "completed"
        for t in (moved, follower, other):
            await t.close()

    run(scenario())


def test_a_run_that_ended_on_one_worker_streams_whole_from_the_other(workers):
    """An API client follows a run after it ended (an approval decided through one worker, its
    stream asked of another): the other worker replays it from Redis."""
    a, b = workers
    answer = httpx.post(f"{a.url}/api/chat", json={"message": "what's trending on reddit?"}, timeout=60)
    answer.raise_for_status()
    run_id = answer.json()["run_id"]
    response = httpx.get(f"{b.url}/api/runs/{run_id}/stream", timeout=30)  # it ends with the run
    assert response.status_code == 200
    events = [data for _, data in sse(response.text)]
    types = [event["type"] for event in events]
    assert types[0] == "run_started" and types[-1] == "done", types
    assert {"tool_call_start", "tool_call_complete", "assistant_message"} <= set(types)
    assert [event["seq"] for event in events] == list(range(len(events))), "every event once, in order"
    assert events[types.index("assistant_message")]["content"] == answer.json()["content"]


def test_stop_on_the_other_worker_cancels_the_run_where_it_runs(workers):
    a, b = workers

    async def scenario() -> str:
        owner, conversation_id = await start_run(a)
        follower = await open_on(b, conversation_id)
        await follower.wait_until(lambda t: statuses(t) == ["running"], 10)
        pressed = time.monotonic()
        await follower.press_stop()
        for t in (follower, owner):
            await t.wait_until(lambda t: not t.live["running"] and statuses(t) == ["cancelled"], 10)
        # The owner's turn ends only after the agent has cancelled its tool tasks and awaited
        # them; well before the tool's own time, so the tool coroutine was cancelled.
        assert time.monotonic() - pressed < TOOL_MS / 1000 / 2, "cancelled, not waited out"
        assert owner.last_answer["status"] == "cancelled"
        await owner.close()
        await follower.close()
        return conversation_id

    conversation_id = run(scenario())
    stored = conversation(b, conversation_id)
    answer = stored["messages"][-1]
    assert answer["status"] == "cancelled"
    assert [c["status"] for c in answer["tool_calls"]] == ["cancelled"]


def test_a_worker_killed_mid_run_has_its_run_interrupted_by_the_other(workers):
    a, b = workers

    async def scenario() -> tuple[str, float]:
        owner, conversation_id = await start_run(a)
        follower = await open_on(b, conversation_id)
        await follower.wait_until(lambda t: statuses(t) == ["running"], 10)
        # The recorder writes a tool row a moment after its event (batched, off the loop; the API
        # shows it only once the answer row exists): give it that moment, well inside the 6 s tool,
        # so the test is about the reaper rather than a kill within milliseconds of the event.
        await asyncio.sleep(1.0)
        a.kill(signal.SIGKILL)
        killed = time.monotonic()
        await follower.wait_until(lambda t: not t.live["running"], LEASE_S * 3 + 5)
        assert statuses(follower) == ["interrupted"]
        await follower.close()
        return conversation_id, killed

    conversation_id, killed = run(scenario())
    deadline = killed + LEASE_S * 3 + 10
    while True:
        answer = conversation(b, conversation_id)["messages"][-1]
        if answer["role"] == "assistant" and answer["status"] == "interrupted":
            break
        assert time.monotonic() < deadline, f"not marked interrupted: {answer}"
        time.sleep(0.5)
    print(f"\n  marked interrupted {time.monotonic() - killed:.1f} s after the kill (lease {LEASE_S} s)")
    assert [c["status"] for c in answer["tool_calls"]] == ["interrupted"]
