"""Headless clients of a running Finch: a Reflex tab over Socket.IO and the SSE API over httpx.

`ReflexTab` speaks the protocol of Reflex 0.10.1's generated `utils/state.js`: it connects
to `/_event` with its tab token in the query and the `hydrate_and_load` event in the
Socket.IO CONNECT packet, sends `{"name", "payload", "router_data"}` as `event`, and
merges each `{"delta": …}` it receives into its copy of the state. It records the size
of every websocket text frame it receives, so the benchmark can report bytes per event.

`sse_chat` posts to `/api/chat/stream` and yields each parsed event with its arrival time.
Used by `scripts/bench.py` and the multi-worker tests; no browser involved.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import socketio

ROOT = "reflex___state____state"
CHAT = f"{ROOT}.finch_app___states___chat____chat_state"
"""`ChatState.get_full_name()` (a test checks these names against the app)."""
LIVE = f"{ROOT}.finch_app___states___chat____live_turn_state"
"""`LiveTurnState.get_full_name()`."""
SUFFIX = "_rx_state_"
TERMINAL = {"completed", "error", "cancelled", "interrupted"}


class _MeasuringClient(socketio.AsyncClient):
    """Notes the size of the frame being handled (read by the handler it calls, same task)."""

    frame_size = 0

    async def _handle_eio_message(self, data: Any) -> None:
        # The websocket text frame is the Engine.IO type "4" followed by this Socket.IO packet.
        self.frame_size = len(("4" + data).encode()) if isinstance(data, str) else 0
        await super()._handle_eio_message(data)


@dataclass
class Frame:
    at: float
    """Arrival time (epoch seconds)."""
    size: int
    """Bytes of the websocket text frame."""
    delta: dict[str, dict[str, Any]]


class ReflexTab:
    """One browser tab, minus the browser: its token, its state, the frames it received."""

    def __init__(self, base_url: str, *, token: str | None = None, origin: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token or str(uuid.uuid4())
        self.origin = origin or self.base_url.replace("127.0.0.1", "localhost")
        self.state: dict[str, dict[str, Any]] = {}
        self.frames: list[Frame] = []
        self.listeners: list[Callable[[Frame], None]] = []
        self.path = "/"
        self.query: dict[str, str] = {}
        self._changed = asyncio.Event()
        self._sio = _MeasuringClient(reconnection=False)
        self._sio.on("event", self._on_event, namespace="/_event")
        self._sio.on("disconnect", self._on_disconnect, namespace="/_event")
        self.connected = False

    # --- connection ---------------------------------------------------------------------

    async def open(self, path: str = "/", params: dict[str, str] | None = None, timeout: float = 15) -> None:
        """Connect and hydrate on `path` (its on_load runs); returns once hydrated."""
        self.path, self.query = path, dict(params or {})
        boot = self._event(f"{ROOT}.hydrate_and_load", {})
        await self._sio.connect(
            f"{self.base_url}?token={self.token}",
            socketio_path="/_event",
            namespaces=["/_event"],
            transports=["websocket"],
            headers={"Origin": self.origin},
            auth={"event": boot},
            wait_timeout=timeout,
        )
        self.connected = True
        await self.wait_until(lambda tab: tab.var(ROOT, "is_hydrated") is True, timeout)

    async def close(self) -> None:
        if self.connected:
            await self._sio.disconnect()
        self.connected = False

    async def _on_disconnect(self, *args: Any) -> None:
        self.connected = False
        self._changed.set()

    async def _on_event(self, update: dict[str, Any]) -> None:
        delta = update.get("delta") or {}
        for substate, values in delta.items():
            mine = self.state.setdefault(substate, {})
            for key, value in values.items():
                mine[key.removesuffix(SUFFIX)] = value
        frame = Frame(at=time.time(), size=self._sio.frame_size, delta=delta)
        self.frames.append(frame)
        for event in update.get("events") or []:
            if event.get("name") == "_redirect":
                self.path = event.get("payload", {}).get("path", self.path)
        for listener in self.listeners:
            listener(frame)
        self._changed.set()

    # --- events -------------------------------------------------------------------------

    def _event(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        router = {"pathname": self.path, "asPath": self.path}
        if self.query:
            router["query"] = self.query
        return {"name": name, "payload": payload, "router_data": router}

    async def send(self, name: str, **payload: Any) -> None:
        await self._sio.emit("event", self._event(name, payload), namespace="/_event")

    async def ask(self, message: str) -> None:
        """Type `message` and press Send."""
        await self.send(f"{LIVE}.submit", form_data={"message": message})

    async def ask_and_wait(self, message: str, timeout: float = 60) -> None:
        """Ask `message` and wait for the answer (this turn's: not the last one's)."""
        started = False
        answered = False
        refused = ""

        def note(frame: Frame) -> None:
            nonlocal started, answered, refused
            live = frame.delta.get(LIVE, {})
            started = started or live.get(f"running{SUFFIX}") is True
            refused = live.get(f"notice{SUFFIX}") or refused
            # The answer moves the turn into one of the transcript's slots.
            answered = answered or (started and any(k.startswith("turn_") for k in frame.delta.get(CHAT, {})))

        self.listeners.append(note)
        try:
            await self.ask(message)
            await self.wait_until(
                lambda t: bool(refused) or (started and answered and not t.live.get("running")),
                timeout,
            )
        finally:
            self.listeners.remove(note)
        if refused:
            raise RuntimeError(f"Finch refused the message: {refused}")

    async def press_stop(self) -> None:
        await self.send(f"{LIVE}.stop")

    # --- reading state ------------------------------------------------------------------

    def var(self, substate: str, name: str, default: Any = None) -> Any:
        return self.state.get(substate, {}).get(name, default)

    @property
    def live(self) -> dict[str, Any]:
        return self.state.get(LIVE, {})

    @property
    def chat(self) -> dict[str, Any]:
        return self.state.get(CHAT, {})

    @property
    def last_answer(self) -> dict[str, Any] | None:
        """The newest answer this visit added to the transcript (its rows are in slots `turn_0…`,
        ordered by `turn_order`), with the cards it ended with; None before the first."""
        order = self.chat.get("turn_order") or []
        filled = [(order[i], rows) for i in range(len(order)) if (rows := self.chat.get(f"turn_{i}"))]
        if not filled:
            return None
        rows = max(filled, key=lambda pair: pair[0])[1]
        return rows[-1] if rows and rows[-1].get("role") == "assistant" else None

    async def wait_until(self, predicate: Callable[[ReflexTab], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"tab {self.token[:8]}: condition not met within {timeout} s; live={self.live}"
                )
            if not self.connected:
                raise ConnectionError(f"tab {self.token[:8]} lost its connection")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass


@dataclass
class TurnWatch:
    """What one tab saw of one run: every card's first sighting and each status, in order."""

    started: dict[str, float] = field(default_factory=dict)
    """tool_call_id → arrival time of the frame that first showed the card."""
    started_at_ms: dict[str, int] = field(default_factory=dict)
    """tool_call_id → the server's `tool_call_start` time (the card's `data-started-at`)."""
    status: dict[str, str] = field(default_factory=dict)
    seqs: list[int] = field(default_factory=list)
    tool_frames: list[int] = field(default_factory=list)
    """Sizes of the frames that started a card or changed its status (tool events)."""
    regressions: int = 0
    """Cards seen going back to `running`, or `last_seq` going down: reordered updates."""

    def on_frame(self, frame: Frame) -> None:
        live = frame.delta.get(LIVE)
        if not live:
            return
        if (seq := live.get(f"last_seq{SUFFIX}")) is not None and seq >= 0:
            if self.seqs and seq <= self.seqs[-1]:
                self.regressions += 1
            self.seqs.append(seq)
        cards = live.get(f"cards{SUFFIX}")
        if cards is None:
            return
        tool_event = False  # a card appeared (tool_call_start) or changed status (…_complete)
        for card in cards:
            call = card["tool_call_id"]
            if call not in self.started:
                self.started[call] = frame.at
                self.started_at_ms[call] = card["started_at_ms"]
                tool_event = True
            before = self.status.get(call)
            if before in TERMINAL and card["status"] == "running":
                self.regressions += 1
            if before != card["status"]:
                tool_event = True
            self.status[call] = card["status"]
        if tool_event:
            self.tool_frames.append(frame.size)

    def latencies_ms(self) -> list[float]:
        """Server `tool_call_start` → the frame showing the card, per card."""
        return [(self.started[c] * 1000 - self.started_at_ms[c]) for c in self.started]


# --- SSE ------------------------------------------------------------------------------------


@dataclass
class SseEvent:
    at: float
    data: dict[str, Any]


async def sse_chat(
    client: httpx.AsyncClient, message: str, conversation_id: str | None = None
) -> AsyncIterator[SseEvent]:
    """POST /api/chat/stream; yield each event (parsed) with its arrival time."""
    body = {"message": message, "conversation_id": conversation_id}
    async with client.stream("POST", "/api/chat/stream", json=body, timeout=None) as response:
        if response.is_error:
            raise RuntimeError(f"{response.status_code}: {(await response.aread()).decode()}")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                yield SseEvent(at=time.time(), data=json.loads(line.removeprefix("data: ")))
