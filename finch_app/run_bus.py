"""Live runs across worker processes, over Redis: following, Stop and leases.

`LiveRuns` keeps the runs of its own process; with `REFLEX_REDIS_URL` set it also hands
them to a `RunBus` so that any worker can reach any run:

- the owner holds a lease per run (a key with a TTL it renews) and a pointer from the
  conversation to the run: any worker can tell which runs are alive and where;
- each worker listens on its own control channel. Stop pressed on another worker is
  sent there, and the owner cancels the task consuming the run (the local Stop path);
- a follower on another worker asks the owner, on that channel, to share the run: the
  owner writes the events so far to a capped list (the backlog) and from then on
  publishes each event to the run's channel and list. The follower replays the backlog,
  then streams the channel, each `seq` once and in order. Runs nobody follows from
  another worker cost Redis nothing but their lease;
- a run whose lease is gone has lost its worker: followers end it as `interrupted`,
  and `ChatService`'s reaper marks its rows so (the reaper owns the database part).

Writes go through one writer task per process, in order, batched into pipelines, so a
run never waits for Redis.
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
"""Events kept per shared run (a longer run keeps its latest)."""
ENDED_TTL_S = 120
"""How long a finished run's backlog stays, for followers that were mid-replay."""
_END, _BACKLOG = "end", "backlog"

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
        self.events_of: Callable[[str], list[AgentEvent]] = lambda run_id: []
        """The events so far of a run of this worker (set by `LiveRuns`)."""
        self._backlog_max = backlog_max
        self._redis: aioredis.Redis | None = None
        self._outbox: asyncio.Queue[tuple[str, str, Any]] | None = None
        self._owned: dict[str, str] = {}
        """Runs this worker answers: run id → conversation id (their leases are renewed)."""
        self._shared: set[str] = set()
        """Owned runs that a follower on another worker asked for: their events are published."""
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

    def _control_channel(self, worker_id: str) -> str:
        return f"{self.prefix}:worker:{worker_id}"

    # --- start and stop ----------------------------------------------------------------

    @property
    def redis(self) -> aioredis.Redis:
        self._ensure_started()
        assert self._redis is not None
        return self._redis

    def _ensure_started(self) -> None:
        """Connect and start the writer, heartbeat and control listener on the running loop."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        self._redis = aioredis.from_url(self.url, health_check_interval=30)
        self._outbox = asyncio.Queue()
        self._tasks = [
            loop.create_task(self._write_forever(), name="finch-runs-writer"),
            loop.create_task(self._heartbeat_forever(), name="finch-runs-heartbeat"),
            loop.create_task(self._listen_forever(), name="finch-runs-control"),
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
        self._owned[run_id] = conversation_id
        self._queue("lease", run_id, conversation_id)

    def publish(self, run_id: str, event: AgentEvent) -> None:
        if run_id in self._shared:
            self._queue("event", run_id, event.model_dump_json())

    def end(self, run_id: str) -> None:
        conversation_id = self._owned.pop(run_id, None)
        self._shared.discard(run_id)
        if conversation_id is not None:
            self._queue("end", run_id, conversation_id)

    def _share(self, run_id: str) -> None:
        """A follower elsewhere asked for this run: its events so far, then each new one."""
        if run_id not in self._owned:
            return
        self._shared.add(run_id)
        self._queue("backlog", run_id, [e.model_dump_json() for e in self.events_of(run_id)])

    def _queue(self, kind: str, run_id: str, data: Any) -> None:
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
                log.exception("Could not write %d run update(s) to Redis", len(batch))

    async def _write(self, batch: list[tuple[str, str, Any]]) -> None:
        lease_ms = int(self.lease_s * 1000)
        pipe = self.redis.pipeline(transaction=False)
        appended: set[str] = set()
        for kind, run_id, data in batch:
            if kind == "lease":
                pipe.set(self._owner_key(run_id), self.worker_id, px=lease_ms)
                pipe.set(self._conversation_key(data), run_id, px=lease_ms)
            elif kind == "backlog":
                pipe.delete(self._events_key(run_id))
                if data:
                    pipe.rpush(self._events_key(run_id), *data[-self._backlog_max :])
                pipe.publish(self._channel(run_id), json.dumps({"type": _BACKLOG}))
                appended.add(run_id)
            elif kind == "event":
                pipe.rpush(self._events_key(run_id), data)
                pipe.publish(self._channel(run_id), data)
                appended.add(run_id)
            elif kind == "end":
                self._append_end(pipe, run_id, "stopped")
                pipe.delete(self._owner_key(run_id))
                pipe.eval(_DEL_IF, 1, self._conversation_key(data), run_id)
                appended.discard(run_id)
        for run_id in appended:
            pipe.ltrim(self._events_key(run_id), -self._backlog_max, -1)
            pipe.expire(self._events_key(run_id), 24 * 3600)
        await pipe.execute()

    def _append_end(self, pipe: Any, run_id: str, status: str) -> None:
        marker = json.dumps({"type": _END, "status": status})
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

    async def _listen_forever(self) -> None:
        channel = self._control_channel(self.worker_id)
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(channel)
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._on_control(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Run control channel lost Redis; reconnecting")
                await asyncio.sleep(1)

    def _on_control(self, message: dict[str, str]) -> None:
        run_id = message.get("run", "")
        if message.get("op") == "stop":
            if not self.on_stop(run_id):
                log.info("Stop for run %s: not running here (any more)", run_id)
        elif message.get("op") == "follow":
            self._share(run_id)

    # --- anyone's side -----------------------------------------------------------------

    async def _tell_owner(self, run_id: str, op: str) -> bool:
        """Send `op` to the worker running `run_id`; False if no worker (listening) runs it."""
        owner = await self.redis.get(self._owner_key(run_id))
        if owner is None:
            return False
        message = json.dumps({"op": op, "run": run_id})
        return await self.redis.publish(self._control_channel(owner.decode()), message) > 0

    async def request_stop(self, run_id: str) -> bool:
        """Ask the worker running `run_id` to cancel it; False if no worker runs it."""
        return await self._tell_owner(run_id, "stop")

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
        self._append_end(pipe, run_id, status)
        await pipe.execute()

    async def follow(self, run_id: str, ended: dict[str, str] | None = None) -> AsyncIterator[AgentEvent]:
        """Every event of a run on another worker: the ones so far, then each as it happens.

        Ends at the run's end, or when its lease is gone (its worker died). How it ended
        ("stopped", "interrupted") is put in `ended[run_id]` if a dict is given.
        """
        status = "stopped"
        last_seq = -1
        async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            # Subscribe first, then ask: nothing the owner sends can come before we listen.
            await pubsub.subscribe(self._channel(run_id))
            pending: list[bytes] = []
            if not await self._tell_owner(run_id, "follow"):
                # Ended (its list ends with the end marker), or its worker is not listening.
                pending = list(await self.redis.lrange(self._events_key(run_id), 0, -1))
            replayed = False
            early: list[bytes] = []
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
                            if not replayed:  # the owner's listener may have been reconnecting
                                await self._tell_owner(run_id, "follow")
                        continue
                    raw = message["data"]
                    quiet_since = time.monotonic()
                    if not replayed:
                        if json.loads(raw).get("type") != _BACKLOG:
                            early.append(raw)  # shared with another follower already
                            continue
                        replayed = True
                        # The list now holds every event up to the marker; then what came meanwhile.
                        pending = [*await self.redis.lrange(self._events_key(run_id), 0, -1), *early]
                        continue
                data = json.loads(raw)
                if data.get("type") == _BACKLOG:
                    continue  # another follower's replay: we have these
                if data.get("type") == _END:
                    status = data.get("status", "stopped")
                    break
                if data["seq"] <= last_seq:
                    continue  # in the backlog and on the channel both
                last_seq = data["seq"]
                yield agent_event_adapter.validate_python(data)
        if ended is not None:
            ended[run_id] = status
