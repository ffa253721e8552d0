"""The SSE wire format of agent events: one function, shared by the route and its tests.

Owns the bytes of one event on the wire; not the response, the heartbeat or the stream.
"""

from __future__ import annotations

from finch_app.agent.events import AgentEvent


def encode_event(event: AgentEvent) -> str:
    """One event as an SSE message: `event:` is its type, `data:` its JSON on one line."""
    return f"event: {event.type}\ndata: {event.model_dump_json()}\n\n"
