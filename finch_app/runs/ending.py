"""How a run that did not finish on its own ends: the one ending, whoever writes it.

A run's stream always ends with `done` or `error`. When the run itself cannot say so — it was
stopped, a client went away, it failed inside Finch, or its worker died — the closing events
are made here, from what was seen of the run: every tool call still open ends `cancelled`
(or `interrupted`), then one `error` says how the run ended. The run's owner uses this when it
is stopped; a follower on another worker uses it when the owner died. The recorder stores the
same events, so the rows, the page and the SSE client all show the same ending.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from finch_app.agent.events import (
    AgentEvent,
    Done,
    Error,
    EventStamp,
    ToolCallComplete,
    ToolCallStart,
)
from finch_app.agent.status import OPEN_TOOL_FATE, RunStatus

ENDING_WORDS = {
    RunStatus.CANCELLED: "The answer was stopped before it finished.",
    RunStatus.INTERRUPTED: "The server stopped while this answer was being written.",
    RunStatus.ERROR: "Finch hit an internal error while answering. Try again.",
}


@dataclass
class RunTracker:
    """What has been seen of one run: enough to end it properly."""

    run_id: str
    last_seq: int = -1
    open_calls: dict[str, ToolCallStart] = field(default_factory=dict)
    ended: bool = False
    """A `done` or `error` went out: nothing more may follow."""

    def observe(self, event: AgentEvent) -> None:
        self.last_seq = max(self.last_seq, event.seq)
        if isinstance(event, ToolCallStart):
            self.open_calls[event.tool_call_id] = event
        elif isinstance(event, ToolCallComplete):
            self.open_calls.pop(event.tool_call_id, None)
        elif isinstance(event, Done | Error):
            self.ended = True

    def closing_events(self, status: RunStatus, *, stamp: EventStamp | None = None) -> list[AgentEvent]:
        """The events that end the run as `status` (none if it has ended already)."""
        if self.ended:
            return []
        stamp = stamp or EventStamp(self.run_id, self.last_seq + 1)
        now = time.time()
        closing: list[AgentEvent] = [
            ToolCallComplete(
                **stamp(),
                tool_call_id=call.tool_call_id,
                tool_name=call.tool_name,
                status=OPEN_TOOL_FATE[status],
                duration_ms=max(0, int((now - call.timestamp) * 1000)),
            )
            for call in self.open_calls.values()
        ]
        closing.append(Error(**stamp(), error=ENDING_WORDS[status], retryable=True, status=status))
        for event in closing:
            self.observe(event)
        return closing
