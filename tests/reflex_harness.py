"""A headless browser tab for Reflex state tests: real state tree, real websocket frames.

`HeadlessTab` wires Reflex 0.10.1's own machinery the way `reflex run` does, minus the
browser and the network:

- a `BaseStateEventProcessor` configured with an in-memory state manager and the app's
  real `EventNamespace` (so a delta goes `StateProxy.__aexit__` → `EventContext.emit_delta`
  → `EventNamespace.emit_update(StateUpdate(delta))` → python-socketio);
- a fake socket: a Socket.IO session registered in the app's socket manager and linked to
  the tab's token, so `emit_update` really sends instead of dropping the update;
- the Engine.IO server's `send_packet` replaced for that one session by a recorder, so
  `frames` holds the exact text frames the browser would receive
  (`42/_event,["event",{"delta":{...}}]`), serialized by Reflex's own JSON encoder.

Use it inside one coroutine (it attaches an `EventContext`, a context variable):

    async with HeadlessTab(app, token="t1") as tab:
        async with tab.locked(ChatState) as chat:      # under the tab lock, no frame sent
            chat.messages = [...]
        live = await tab.proxy(LiveTurnState)          # what a background handler gets as `self`
        async with live:                               # `async with self:` → one frame on exit
            live.cards = [...]
        frame = tab.frames[-1]
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

import reflex as rx
from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.token import BaseStateToken
from reflex.istate.proxy import StateProxy
from reflex.state import State
from reflex_base.event.processor import BaseStateEventProcessor

S = TypeVar("S", bound=rx.State)


@dataclass(frozen=True)
class Frame:
    """One Socket.IO text frame as it would go over the websocket."""

    raw: str

    @property
    def size(self) -> int:
        """Bytes on the wire (UTF-8)."""
        return len(self.raw.encode())

    @property
    def event(self) -> tuple[str, dict[str, Any]]:
        """The decoded `[event_name, payload]` of a `42/<namespace>,[...]` frame."""
        assert self.raw.startswith("42"), f"not a Socket.IO EVENT frame: {self.raw[:40]!r}"
        body = self.raw[2:]
        if body.startswith("/"):
            body = body.split(",", 1)[1]
        name, payload = json.loads(body)
        return name, payload

    @property
    def delta(self) -> dict[str, dict[str, Any]]:
        """The state delta the frame carries: substate key → {var key: value}."""
        return self.event[1].get("delta", {})


def _raise(ex: Exception) -> None:
    raise ex


class HeadlessTab:
    """One connected tab of `app`, with its own in-memory state tree."""

    def __init__(self, app: rx.App, *, token: str | None = None) -> None:
        self.app = app
        self.token = token or str(uuid.uuid4())
        self.frames: list[Frame] = []
        self._eio_sid = f"eio-{self.token}"
        self._sid: str | None = None
        self._stack = contextlib.AsyncExitStack()
        self.state_manager = StateManagerMemory()

    async def __aenter__(self) -> HeadlessTab:
        namespace_obj = self.app.event_namespace
        assert namespace_obj is not None, "the app has no state (no rx.State registered?)"
        sio = self.app.sio
        assert sio is not None
        namespace = namespace_obj.namespace
        stack = self._stack

        # The socket: a connected Socket.IO session whose outgoing frames we record.
        eio = sio.eio
        real_send_packet = eio.send_packet

        async def send_packet(eio_sid: str, pkt: Any) -> None:
            if eio_sid == self._eio_sid:
                encoded = pkt.encode()
                self.frames.append(Frame(encoded if isinstance(encoded, str) else encoded.decode()))
            else:
                await real_send_packet(eio_sid, pkt)

        eio.send_packet = send_packet
        stack.callback(setattr, eio, "send_packet", real_send_packet)
        self._sid = await sio.manager.connect(self._eio_sid, namespace)
        stack.push_async_callback(sio.manager.disconnect, self._sid, namespace)
        token_manager = namespace_obj._token_manager
        renamed = await token_manager.link_token_to_sid(self.token, self._sid)
        assert renamed is None, "token already linked to another socket"
        stack.push_async_callback(token_manager.disconnect_token, self.token, self._sid)

        # The event processor's root context, forked for this tab and attached.
        processor = BaseStateEventProcessor(backend_exception_handler=_raise, graceful_shutdown_timeout=1)
        processor.configure(state_manager=self.state_manager, event_namespace=namespace_obj)
        assert processor._root_context is not None
        stack.push_async_callback(self.state_manager.close)
        stack.enter_context(processor._root_context.fork(token=self.token))

        # A hydrated tab has router data; without it `async with self:` would rehydrate.
        async with self.state_manager.modify_state_with_links(
            BaseStateToken(ident=self.token, cls=State)
        ) as root:
            router_data = {
                "pathname": "/",
                "query": {},
                "token": self.token,
                "sid": self._sid,
                "headers": {"host": "localhost:3000", "origin": "http://localhost:3000"},
                "ip": "127.0.0.1",
            }
            root.router_data = root._update_router_vars(router_data, {})
            root._clean()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._stack.aclose()

    @contextlib.asynccontextmanager
    async def locked(self, cls: type[S], *, emit: bool = False) -> AsyncIterator[S]:
        """The tab's `cls` state under the tab lock; changes are cleaned (or emitted) on exit."""
        async with self.state_manager.modify_state_with_links(
            BaseStateToken(ident=self.token, cls=cls)
        ) as root:
            yield await root.get_state(cls)
            root = root._get_root_state()
            if emit:
                delta = await root._get_resolved_delta()
                root._clean()
                if delta:
                    from reflex_base.event.context import EventContext

                    await EventContext.get().emit_delta(delta)
            else:
                root._clean()

    async def proxy(self, cls: type[S]) -> S:
        """What a background handler of `cls` gets as `self` (a `StateProxy`)."""
        root = await self.state_manager.get_state(BaseStateToken(ident=self.token, cls=cls))
        return StateProxy(await root.get_state(cls))  # type: ignore[return-value]
