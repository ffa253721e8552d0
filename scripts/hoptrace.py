"""Per-hop trace of a tool card through the Reflex backend, in memory, dumped over HTTP.

Installed in the backend process when `FINCH_HOPTRACE=1` (the hook is in `rxconfig.py`;
it also works in any Reflex 0.10.1 app, e.g. the bare anchor, by calling `install()` from
its rxconfig). Nothing is printed on the hot path: each hop appends a timestamp (wall
clock, derived from `perf_counter` so it is monotonic) to a dict, and
`GET /__hoptrace` returns the whole record as JSON (`?reset=1` clears it afterwards).

Per card (keyed by `tool_call_id`), wall-clock seconds:

- `t0`      the event's creation (`ToolCallStart.timestamp`; the card's `started_at_ms`
            where no Finch event is seen, e.g. the anchor);
- `fed`     the run handed it to the tab's feed (`finch_app.runs.feed.Feed.put`; Finch only);
- `taken`   the tab's consumer (`LiveTurnState._mirror`) got the batch out of its feed;
- `lock_req` / `lock`   `async with self` asked for / obtained the state lock
            (`StateProxy.__aenter__`, reflex/istate/proxy.py);
- `delta`   the delta was built and resolved (`BaseState._get_resolved_delta`);
- `emit`    `EventNamespace.emit_update` called (reflex/app.py);
- `queued`  socket.io encoded the packet and engine.io queued it (`emit` returned);
- `unlock`  the `async with self` block exited (state written back, lock released);
- `write`   engine.io's writer task handed the frame to the ASGI server
            (`engineio.async_drivers.asgi.WebSocket.send`), `written` when that returned.

Per push (every `async with self` of a background task): the same hops, the states and vars
in its delta; per frame: size and when it was written. Optionally (`FINCH_HOPTRACE_LAG=1`)
a 5 ms ticker records how late the event loop woke it (loop stalls); `?lag=1` starts it too.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import re
import time
from typing import Any

_OFFSET = time.time() - time.perf_counter()


def now() -> float:
    """Wall-clock seconds, monotonic (perf_counter shifted once to the epoch)."""
    return _OFFSET + time.perf_counter()


CARDS: dict[str, dict[str, Any]] = {}
"""Per card, keyed `tool_call_id@started_at_ms` (offline tool call ids repeat across runs)."""
PUSHES: collections.deque[dict[str, Any]] = collections.deque(maxlen=50_000)
FRAMES: collections.deque[tuple[float, float, int, int]] = collections.deque(maxlen=100_000)
LAG: collections.deque[tuple[float, float]] = collections.deque(maxlen=100_000)
_CURRENT: dict[asyncio.Task[Any], dict[str, Any]] = {}
"""The push (lock → delta → emit → unlock) each task is in."""
_RUNNING = re.compile(r'"tool_call_id":"([^"]+)"[^}]*?"status":"running"[^}]*?"started_at_ms":(\d+)')
_installed = False


def _card(tool_call_id: str, started_ms: int) -> dict[str, Any]:
    key = f"{tool_call_id}@{started_ms}"
    card = CARDS.get(key)
    if card is None:
        card = CARDS[key] = {}
    return card


def _running_cards(value: Any, found: list[Any]) -> None:
    """Cards (dataclasses or dicts with tool_call_id) whose status is running, anywhere in a delta value."""
    if isinstance(value, (list, tuple)):
        for item in value:
            _running_cards(item, found)
    elif dataclasses.is_dataclass(value):
        if getattr(value, "status", None) == "running" and hasattr(value, "tool_call_id"):
            found.append(value)
    elif isinstance(value, dict):
        if value.get("status") == "running" and "tool_call_id" in value:
            found.append(value)


def _get(card: Any, name: str) -> Any:
    return card.get(name) if isinstance(card, dict) else getattr(card, name, None)


# --- Finch's own hops: the run's feed to a tab -----------------------------------------------


def _note_start(item: Any, hop: str, **extra: Any) -> None:
    if getattr(item, "type", "") != "tool_call_start":
        return
    card = _card(item.tool_call_id, int(item.timestamp * 1000))
    if card.get("run", item.run_id) != item.run_id:
        card["collision"] = True
    card.setdefault("t0", item.timestamp)
    card.setdefault("tool", item.tool_name)
    card.setdefault("run", item.run_id)
    card.setdefault(hop, now())
    for key, value in extra.items():
        card.setdefault(key, value)


def _install_finch() -> None:
    from finch_app.runs.feed import Feed

    put, batches = Feed.put, Feed._batches

    def traced_put(self, event):
        _note_start(event, "fed")
        return put(self, event)

    async def traced_batches(self, hold, interval):
        async for batch in batches(self, hold, interval):
            for item in batch:
                _note_start(item, "taken", batch=len(batch))
            yield batch

    Feed.put, Feed._batches = traced_put, traced_batches


# --- Reflex's hops -------------------------------------------------------------------------


def _install_reflex() -> None:
    from reflex import app as reflex_app
    from reflex.istate.proxy import StateProxy
    from reflex.state import BaseState

    enter, leave = StateProxy.__aenter__, StateProxy.__aexit__

    async def __aenter__(self):
        if self._self_parent_state_proxy is not None:
            return await enter(self)
        task = asyncio.current_task()
        push = {
            "lock_req": now(),
            "task": task.get_name() if task else "",
            "state": type(self.__wrapped__).__name__,
        }
        result = await enter(self)
        push["lock"] = now()
        if task is not None:
            _CURRENT[task] = push
        return result

    async def __aexit__(self, *exc_info):
        if self._self_parent_state_proxy is not None:
            return await leave(self, *exc_info)
        task = asyncio.current_task()
        try:
            return await leave(self, *exc_info)
        finally:
            push = _CURRENT.pop(task, None) if task is not None else None
            if push is not None:
                push["unlock"] = now()
                PUSHES.append(push)
                for key in push.get("cards", ()):
                    card = CARDS[key]
                    for hop in ("lock_req", "lock", "delta", "emit", "queued", "emitted", "unlock"):
                        if hop in push:
                            card.setdefault(hop, push[hop])

    StateProxy.__aenter__, StateProxy.__aexit__ = __aenter__, __aexit__

    resolved = BaseState._get_resolved_delta

    async def _get_resolved_delta(self):
        delta = await resolved(self)
        task = asyncio.current_task()
        push = _CURRENT.get(task) if task is not None else None
        if push is not None and "delta" not in push:
            push["delta"] = now()
            push["vars"] = {
                state.rsplit("___", 1)[-1]: sorted(k.removesuffix("_rx_state_") for k in sub)
                for state, sub in delta.items()
            }
            found: list[Any] = []
            for sub in delta.values():
                for value in sub.values():
                    _running_cards(value, found)
            new = []
            for item in found:
                started_ms = _get(item, "started_at_ms") or 0
                tool_call_id = _get(item, "tool_call_id")
                card = _card(tool_call_id, started_ms)
                if "pushed" not in card:
                    card["pushed"] = True
                    card.setdefault("t0", started_ms / 1000)
                    card.setdefault("tool", _get(item, "tool_name"))
                    new.append(f"{tool_call_id}@{started_ms}")
            push["cards"] = new
        return delta

    BaseState._get_resolved_delta = _get_resolved_delta

    namespace = reflex_app.EventNamespace
    emit_update, emit = namespace.emit_update, namespace.emit

    async def traced_emit_update(self, update, token):
        task = asyncio.current_task()
        push = _CURRENT.get(task) if task is not None else None
        if push is not None:
            push.setdefault("emit", now())
        await emit_update(self, update, token)
        if push is not None:
            push.setdefault("emitted", now())

    async def traced_emit(self, *args, **kwargs):
        result = await emit(self, *args, **kwargs)
        task = asyncio.current_task()
        push = _CURRENT.get(task) if task is not None else None
        if push is not None:
            push.setdefault("queued", now())
        return result

    namespace.emit_update, namespace.emit = traced_emit_update, traced_emit

    from engineio.async_drivers import asgi as eio_asgi

    send = eio_asgi.WebSocket.send

    async def traced_send(self, message):
        write = now()
        await send(self, message)
        written = now()
        if isinstance(message, str):
            FRAMES.append(
                (write, written, len(message), len(message) if message.isascii() else len(message.encode()))
            )
            if '"running"' in message:
                for match in _RUNNING.finditer(message):
                    card = _card(match.group(1), int(match.group(2)))
                    if "write" not in card:
                        card["write"], card["written"], card["frame_bytes"] = write, written, len(message)

    eio_asgi.WebSocket.send = traced_send

    add_default = reflex_app.App._add_default_endpoints

    def _add_default_endpoints(self):
        add_default(self)
        if self._api is not None:
            self._api.add_route("/__hoptrace", _dump, methods=["GET"])

    reflex_app.App._add_default_endpoints = _add_default_endpoints


async def _dump(request):
    from starlette.responses import JSONResponse

    if os.environ.get("FINCH_HOPTRACE_LAG") == "1" or request.query_params.get("lag"):
        _ensure_lag_monitor()
    body = {
        "pid": os.getpid(),
        "cards": {k: dict(v) for k, v in CARDS.items()},
        "pushes": [dict(p) for p in PUSHES],
        "frames": list(FRAMES),
        "lag": list(LAG),
    }
    if request.query_params.get("reset"):
        CARDS.clear()
        PUSHES.clear()
        FRAMES.clear()
        LAG.clear()
    return JSONResponse(body)


_lag_task: asyncio.Task[Any] | None = None


def _ensure_lag_monitor() -> None:
    """A 5 ms ticker; each wake-up later than 2 ms past due is a loop stall (start, ms late)."""
    global _lag_task
    if _lag_task is not None and not _lag_task.done():
        return

    async def tick():
        period = 0.005
        while True:
            due = time.perf_counter() + period
            await asyncio.sleep(period)
            late = time.perf_counter() - due
            if late > 0.002:
                LAG.append((_OFFSET + due, round(late * 1000, 2)))

    _lag_task = asyncio.get_running_loop().create_task(tick(), name="hoptrace-lag")


def install() -> None:
    """Patch the hooks (idempotent). Call before the Reflex app module is imported."""
    global _installed
    if _installed:
        return
    _installed = True
    _install_reflex()
    try:
        _install_finch()
    except ImportError:  # not Finch (the bare anchor)
        return
