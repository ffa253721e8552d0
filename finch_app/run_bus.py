"""Live runs across worker processes, over Redis: events, Stop and leases.

`LiveRuns` keeps the runs of its own process; with `REFLEX_REDIS_URL` set it also hands
them to a `RunBus` so that any worker can reach any run:

- each run's events go to a Redis channel, and to a capped list (the backlog) so that a
  follower on another worker replays the run from its start before going live;
- Stop pressed on another worker is published on the owner's stop channel, and the
  owner cancels the task consuming the run (the same path as a local Stop);
- the owner holds a lease per run (a key with a TTL it renews); a run whose lease is
  gone has lost its worker, which is how the others know to mark it `interrupted`.

Writes go through one writer task per process, in order, batched into pipelines, so
publishing never makes the run wait for Redis. Owns no database rows and no Reflex
state: the reaper that marks runs `interrupted` lives in `ChatService`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis.asyncio as aioredis

from finch_app.agent.events import AgentEvent, agent_event_adapter

log = logging.getLogger("finch.runs")

BACKLOG_MAX = 10_000
"""Events kept per run for followers that join late (a run with more keeps its latest)."""
ENDED_TTL_S = 120
"""How long a finished run's backlog stays, for followers that were mid-replay."""
_END = "end"

# Delete the conversation → run pointer only if it still points at this run: the next
# run in the conversation may have started (and set it) before this one's end went out.
_DEL_IF = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RunBus:
    """One worker's connection to the runs of every worker."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "finch",
        lease_s: float = 10.0,
        backlog_max: int = BACKLOG_MAX,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.lease_s = lease_s
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.on_stop: Callable[[str], bool] = lambda run_id: False
        """Cancels a run of this worker (set by `LiveRuns`); True if it was running here."""
        self._backlog_max = backlog_max
        self._redis: aioredis.Redis | None = None
        self._outbox: asyncio.Queue[tuple[str, str, str]] | None = None
        self._owned: dict[str, str] = {}
        """Runs this worker answers: run id → conversation id (their leases are renewed)."""
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- keys --------------------------------------------------------------------------

    def _owner_key(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}:owner"

    def _events_key(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}:events"

    def _channel(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}"

    def _conversation_key(self, conversation_id: str) -> str:
        return f"{self.prefix}:conversation:{conversation_id}:run"

    def _stop_channel(self, worker_id: str) -> str:
        return f"{self.prefix}:stop:{worker_id}"

    # --- start and stop ----------------------------------------------------------------

    @property
    def redis(self) -> aioredis.Redis:
        self._ensure_started()
        assert self._redis is not None
        return self._redis

    def _ensure_started(self) -> None:
        """Connect and start the writer, heartbeat and stop listener on the running loop."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        self._redis = aioredis.from_url(self.url, health_check_interval=30)
        self._outbox = asyncio.Queue()
        self._tasks = [
            loop.create_task(self._write_forever(), name="finch-runs-writer"),
            loop.create_task(self._heartbeat_forever(), name="finch-runs-heartbeat"),
            loop.create_task(self._listen_for_stops(), name="finch-runs-stop-listener"),
        ]

    async def aclose(self) -> None:
        """Send what is queued (briefly), stop the tasks and close the connection."""
        if self._loop is not asyncio.get_running_loop():
            return
        assert self._outbox is not None and self._redis is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                while not self._outbox.empty():
                    await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._redis.aclose()
        self._loop = None
        self._tasks = []

    # --- the owner's side (sync: called from the run's own generator) -------------------

    def begin(self, run_id: str, conversation_id: str) -> None:
        self._ensure_started()
        self._owned[run_id] = conversation_id
        self._queue("lease", run_id, conversation_id)

    def publish(self, run_id: str, event: AgentEvent) -> None:
        if run_id in self._owned:
            self._queue("event", run_id, event.model_dump_json())

    def end(self, run_id: str) -> None:
        conversation_id = self._owned.pop(run_id, None)
        if conversation_id is not None:
            self._queue("end", run_id, conversation_id)

    def _queue(self, kind: str, run_id: str, data: str) -> None:
        self._ensure_started()
        assert self._outbox is not None
        self._outbox.put_nowait((kind, run_id, data))

    async def _write_forever(self) -> None:
        assert self._outbox is not None
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            try:
                await self._write(batch)
            except Exception:  # Redis away: runs go on in this worker, followers elsewhere miss out
                log.exception("Could not publish %d run update(s) to Redis", len(batch))

    async def _write(self, batch: list[tuple[str, str, str]]) -> None:
        lease_ms = int(self.lease_s * 1000)
        pipe = self.redis.pipeline(transaction=False)
        appended: set[str] = set()
        for kind, run_id, data in batch:
            if kind == "lease":
                pipe.set(self._owner_key(run_id), self.worker_id, px=lease_ms)
                pipe.set(self._conversation_key(data), run_id, px=lease_ms)
            elif kind == "event":
                pipe.rpush(self._events_key(run_id), data)
                pipe.publish(self._channel(run_id), data)
                appended.add(run_id)
            elif kind == "end":
                marker = json.dumps({"type": _END, "status": "stopped"})
                self._append_end(pipe, run_id, marker)
                pipe.delete(self._owner_key(run_id))
                pipe.eval(_DEL_IF, 1, self._conversation_key(data), run_id)
                appended.discard(run_id)
        for run_id in appended:
            pipe.ltrim(self._events_key(run_id), -self._backlog_max, -1)
            pipe.expire(self._events_key(run_id), 24 * 3600)
        await pipe.execute()

    def _append_end(self, pipe: Any, run_id: str, marker: str) -> None:
        pipe.rpush(self._events_key(run_id), marker)
        pipe.publish(self._channel(run_id), marker)
        pipe.ltrim(self._events_key(run_id), -self._backlog_max - 1, -1)
        pipe.expire(self._events_key(run_id), ENDED_TTL_S)

    async def _heartbeat_forever(self) -> None:
        """Renew the leases of this worker's runs, through the writer (so after any `end`)."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            for run_id, conversation_id in list(self._owned.items()):
                self._queue("lease", run_id, conversation_id)

    async def _listen_for_stops(self) -> None:
        channel = self._stop_channel(self.worker_id)
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(channel)
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            run_id = message["data"].decode()
                            if not self.on_stop(run_id):
                                log.info("Stop for run %s: not running here (any more)", run_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Stop listener lost Redis; reconnecting")
                await asyncio.sleep(1)

    # --- anyone's side -----------------------------------------------------------------

    async def request_stop(self, run_id: str) -> bool:
        """Ask the worker running `run_id` to cancel it; False if no worker runs it."""
        owner = await self.redis.get(self._owner_key(run_id))
        if owner is None:
            return False
        receivers = await self.redis.publish(self._stop_channel(owner.decode()), run_id)
        return receivers > 0

    async def run_for(self, conversation_id: str) -> str | None:
        """The run answering in this conversation on any worker, if its lease is alive."""
        run_id = await self.redis.get(self._conversation_key(conversation_id))
        if run_id is None:
            return None
        run_id = run_id.decode()
        return run_id if await self.is_live(run_id) else None

    async def is_live(self, run_id: str) -> bool:
        return run_id in self._owned or bool(await self.redis.exists(self._owner_key(run_id)))

    async def live_among(self, run_ids: list[str]) -> set[str]:
        """The runs among `run_ids` that some worker holds a lease on."""
        if not run_ids:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.exists(self._owner_key(run_id))
        found = await pipe.execute()
        return {run_id for run_id, alive in zip(run_ids, found, strict=True) if alive}

    async def announce_end(self, run_id: str, status: str) -> None:
        """Tell followers a run is over that its own worker can no longer end (it died)."""
        pipe = self.redis.pipeline(transaction=False)
        self._append_end(pipe, run_id, json.dumps({"type": _END, "status": status}))
        await pipe.execute()

    async def follow(self, run_id: str, ended: dict[str, str] | None = None) -> AsyncIterator[AgentEvent]:
        """Every event of a run on another worker: its backlog, then each as it is published.

        Ends at the run's end marker, or when its lease is gone (its worker died). How it
        ended ("stopped", "interrupted") is put in `ended[run_id]` if a dict is given.
        """
        status = "stopped"
        last_seq = -1
        async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            # Subscribe before reading the backlog: an event lands in one or both, never neither.
            await pubsub.subscribe(self._channel(run_id))
            backlog = await self.redis.lrange(self._events_key(run_id), 0, -1)
            pending: list[bytes] = list(backlog)
            quiet_since = time.monotonic()
            while True:
                if pending:
                    raw = pending.pop(0)
                else:
                    message = await pubsub.get_message(timeout=min(1.0, self.lease_s / 3))
                    if message is None:
                        if time.monotonic() - quiet_since > self.lease_s / 3:
                            quiet_since = time.monotonic()
                            if not await self.is_live(run_id):
                                status = "interrupted"
                                break
                        continue
                    raw = message["data"]
                quiet_since = time.monotonic()
                data = json.loads(raw)
                if data.get("type") == _END:
                    status = data.get("status", "stopped")
                    break
                if data["seq"] <= last_seq:
                    continue  # in the backlog and on the channel both
                last_seq = data["seq"]
                yield agent_event_adapter.validate_python(data)
        if ended is not None:
            ended[run_id] = status
