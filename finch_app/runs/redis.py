"""Live runs across worker processes, over Redis: claims, leases, Stop and following.

- A claim is one Lua script: the conversation must have no live run and the user fewer than
  `max_per_user`, then the run's lease (a key with a TTL its worker renews), the conversation's
  pointer to it and its place in the user's set are written together. So the limits hold
  across workers and parallel requests.
- Each worker listens on its own control channel. Stop pressed on another worker is sent there
  and comes out of `requests()`; the service owning the run cancels it (its local Stop).
- A follower on another worker asks the owner, on that channel, to share the run: the owner
  writes the events so far to a capped list (the backlog) and from then on publishes each event
  to the run's channel and list. The follower replays the backlog, then streams the channel,
  each `seq` once and in order. While they run, runs nobody follows from another worker cost
  Redis nothing but their lease.
- When a run ends, its list holds its whole life and the end marker for `ENDED_TTL_S`: a client
  that follows a run just after it ended (an approval decided through one worker, the stream
  asked of another) replays it from any worker.
- A run whose lease is gone has lost its worker: its followers end, and the service's reaper
  marks its rows `interrupted`.

Writes go through one writer task per process, in order and batched into pipelines, so a run
never waits for Redis on its hot path.
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
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import redis.asyncio as aioredis

from finch_app.agent.events import AgentEvent, agent_event_adapter
from finch_app.agent.status import RunStatus
from finch_app.runs.registry import ControlRequest, Refusal, RunClaim, ShareRequest, StopRequest

log = logging.getLogger("finch.runs")

BACKLOG_MAX = 10_000
"""Events kept per shared run (a longer run keeps its latest)."""
ENDED_TTL_S = 120
"""How long a finished run's events stay, for followers mid-replay and clients that follow it late."""
_END, _BACKLOG = "end", "backlog"

_CLAIM = """
local conversation, user_runs, owner = KEYS[1], KEYS[2], KEYS[3]
local run_id, worker, lease_ms, max_per_user = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local owner_prefix, owner_suffix = ARGV[5], ARGV[6]
local current = redis.call('get', conversation)
if current and redis.call('exists', owner_prefix .. current .. owner_suffix) == 1 then return 'busy' end
local t = redis.call('time')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('zremrangebyscore', user_runs, '-inf', now_ms)
if redis.call('zcard', user_runs) >= max_per_user then return 'limit' end
redis.call('set', owner, worker, 'PX', lease_ms)
redis.call('set', conversation, run_id, 'PX', lease_ms)
redis.call('zadd', user_runs, now_ms + lease_ms, run_id)
redis.call('pexpire', user_runs, lease_ms)
return 'ok'
"""

_RENEW = """
local conversation, user_runs, owner = KEYS[1], KEYS[2], KEYS[3]
local run_id, worker, lease_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('time')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('set', owner, worker, 'PX', lease_ms)
if redis.call('get', conversation) == run_id then redis.call('pexpire', conversation, lease_ms) end
redis.call('zadd', user_runs, now_ms + lease_ms, run_id)
redis.call('pexpire', user_runs, lease_ms)
return 1
"""

_RELEASE = """
local conversation, user_runs, owner = KEYS[1], KEYS[2], KEYS[3]
redis.call('del', owner)
redis.call('zrem', user_runs, ARGV[1])
if redis.call('get', conversation) == ARGV[1] then redis.call('del', conversation) end
return 1
"""


class RedisRegistry:
    """One worker's view of the runs of every worker."""

    def __init__(
        self, url: str, *, prefix: str = "finch", lease_s: float = 10.0, backlog_max: int = BACKLOG_MAX
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.lease_s = lease_s
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._backlog_max = backlog_max
        self._redis: aioredis.Redis | None = None
        self._outbox: asyncio.Queue[tuple[str, str, Any, asyncio.Future[None] | None]] | None = None
        self._requests: asyncio.Queue[ControlRequest] | None = None
        self._owned: dict[str, RunClaim] = {}
        """Runs this worker answers (their leases are renewed)."""
        self._shared: set[str] = set()
        """Owned runs a follower on another worker asked for: their events are published."""
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

    def _user_key(self, user_id: str) -> str:
        return f"{self.prefix}:user:{user_id}:runs"

    def _control_channel(self, worker_id: str) -> str:
        return f"{self.prefix}:worker:{worker_id}"

    def _claim_keys(self, claim: RunClaim) -> list[str]:
        return [
            self._conversation_key(claim.conversation_id),
            self._user_key(claim.user_id),
            self._owner_key(claim.run_id),
        ]

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
        self._requests = asyncio.Queue()
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

    # --- claims --------------------------------------------------------------------------

    async def claim(self, claim: RunClaim, *, max_per_user: int) -> Refusal | None:
        answer = await self.redis.eval(
            _CLAIM,
            3,
            *self._claim_keys(claim),
            claim.run_id,
            self.worker_id,
            int(self.lease_s * 1000),
            max_per_user,
            f"{self.prefix}:run:",
            ":owner",
        )
        answer = answer.decode() if isinstance(answer, bytes) else answer
        if answer == "busy":
            return Refusal.CONVERSATION_BUSY
        if answer == "limit":
            return Refusal.USER_LIMIT
        self._owned[claim.run_id] = claim
        return None

    async def release(self, run_id: str, *, events: Sequence[AgentEvent] = ()) -> None:
        """Free the run's places once its events are out (through the writer, so after them). A
        shared run's list holds its events already; anyone else's are written now, in one go."""
        claim = self._owned.pop(run_id, None)
        shared = run_id in self._shared
        self._shared.discard(run_id)
        if claim is None:
            return
        written = None if shared else [e.model_dump_json() for e in events]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue("end", run_id, (claim, written), done)
        await done

    async def ended_events(self, run_id: str) -> list[AgentEvent]:
        raw = await self.redis.lrange(self._events_key(run_id), 0, -1)
        if not raw or json.loads(raw[-1]).get("type") != _END:
            return []  # none, or a run that is still going (or was cut off with its worker)
        return [agent_event_adapter.validate_json(item) for item in raw[:-1]]

    async def run_for(self, conversation_id: str) -> str | None:
        local = next((c.run_id for c in self._owned.values() if c.conversation_id == conversation_id), None)
        if local is not None:
            return local
        run_id = await self.redis.get(self._conversation_key(conversation_id))
        if run_id is None:
            return None
        run_id = run_id.decode()
        return run_id if await self.redis.exists(self._owner_key(run_id)) else None

    async def live_among(self, run_ids: Iterable[str]) -> set[str]:
        ids = list(run_ids)
        here = {run_id for run_id in ids if run_id in self._owned}
        elsewhere = [run_id for run_id in ids if run_id not in here]
        if not elsewhere:
            return here
        pipe = self.redis.pipeline(transaction=False)
        for run_id in elsewhere:
            pipe.exists(self._owner_key(run_id))
        found = await pipe.execute()
        return here | {run_id for run_id, alive in zip(elsewhere, found, strict=True) if alive}

    # --- the owner's side (sync: called on the run's hot path) --------------------------

    def publish(self, run_id: str, event: AgentEvent) -> None:
        if run_id in self._shared:
            self._queue("event", run_id, event.model_dump_json())

    def share(self, run_id: str, backlog: list[AgentEvent]) -> None:
        if run_id not in self._owned:
            return
        self._shared.add(run_id)
        self._queue("backlog", run_id, [e.model_dump_json() for e in backlog])

    def _queue(self, kind: str, run_id: str, data: Any, done: asyncio.Future[None] | None = None) -> None:
        self._ensure_started()
        assert self._outbox is not None
        self._outbox.put_nowait((kind, run_id, data, done))

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
            for *_, done in batch:
                if done is not None and not done.done():
                    done.set_result(None)

    async def _write(self, batch: list[tuple[str, str, Any, asyncio.Future[None] | None]]) -> None:
        lease_ms = int(self.lease_s * 1000)
        pipe = self.redis.pipeline(transaction=False)
        appended: set[str] = set()
        for kind, run_id, data, _done in batch:
            if kind == "lease":
                pipe.eval(_RENEW, 3, *self._claim_keys(data), run_id, self.worker_id, lease_ms)
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
                claim, written = data
                if written is not None:
                    pipe.delete(self._events_key(run_id))
                    if written:
                        pipe.rpush(self._events_key(run_id), *written[-self._backlog_max :])
                self._append_end(pipe, run_id)
                pipe.eval(_RELEASE, 3, *self._claim_keys(claim), run_id)
                appended.discard(run_id)
        for run_id in appended:
            pipe.ltrim(self._events_key(run_id), -self._backlog_max, -1)
            pipe.expire(self._events_key(run_id), 24 * 3600)
        await pipe.execute()

    def _append_end(self, pipe: Any, run_id: str, status: str = "ended") -> None:
        marker = json.dumps({"type": _END, "status": status})
        pipe.rpush(self._events_key(run_id), marker)
        pipe.publish(self._channel(run_id), marker)
        pipe.ltrim(self._events_key(run_id), -self._backlog_max - 1, -1)
        pipe.expire(self._events_key(run_id), ENDED_TTL_S)

    async def _heartbeat_forever(self) -> None:
        """Renew the leases of this worker's runs, through the writer (so never after an `end`)."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            for run_id, claim in list(self._owned.items()):
                self._queue("lease", run_id, claim)

    async def _listen_forever(self) -> None:
        assert self._requests is not None
        channel = self._control_channel(self.worker_id)
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(channel)
                    async for message in pubsub.listen():
                        if message["type"] != "message":
                            continue
                        request = json.loads(message["data"])
                        run_id = str(request.get("run", ""))
                        if request.get("op") == "stop":
                            self._requests.put_nowait(StopRequest(run_id))
                        elif request.get("op") == "follow":
                            self._requests.put_nowait(ShareRequest(run_id))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Run control channel lost Redis; reconnecting")
                await asyncio.sleep(1)

    async def requests(self) -> AsyncIterator[ControlRequest]:
        self._ensure_started()
        assert self._requests is not None
        while True:
            yield await self._requests.get()

    # --- anyone's side -----------------------------------------------------------------

    async def _tell_owner(self, run_id: str, op: str) -> bool:
        """Send `op` to the worker running `run_id`; False if no worker (listening) runs it."""
        owner = await self.redis.get(self._owner_key(run_id))
        if owner is None:
            return False
        message = json.dumps({"op": op, "run": run_id})
        return await self.redis.publish(self._control_channel(owner.decode()), message) > 0

    async def request_stop(self, run_id: str) -> bool:
        return await self._tell_owner(run_id, "stop")

    async def announce_end(self, run_id: str, status: RunStatus) -> None:
        pipe = self.redis.pipeline(transaction=False)
        self._append_end(pipe, run_id, status)
        await pipe.execute()

    async def follow(self, run_id: str) -> AsyncIterator[AgentEvent]:
        """Every event of a run on another worker: the ones so far, then each as it happens.

        Ends at the run's end marker, or when its lease is gone (its worker died)."""
        last_seq = -1
        async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            # Subscribe first, then ask: nothing the owner sends can come before we listen.
            await pubsub.subscribe(self._channel(run_id))
            pending: list[bytes] = []
            if not await self._tell_owner(run_id, "follow"):
                # Ended (its list ends with the end marker), or its worker is not listening.
                pending = list(await self.redis.lrange(self._events_key(run_id), 0, -1))
                if not pending:
                    return
            replayed = bool(pending)
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
                            if not await self.redis.exists(self._owner_key(run_id)):
                                return  # its worker died
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
                    return
                if data["seq"] <= last_seq:
                    continue  # in the backlog and on the channel both
                last_seq = data["seq"]
                yield agent_event_adapter.validate_python(data)
