"""What the browser shows, as plain values: tool cards, transcript rows, the live turn.

Pure functions from agent events and database rows to view values, so the Reflex
states stay thin and this logic is unit-tested without a browser.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from finch_app.agent.events import (
    AgentEvent,
    AssistantMessage,
    Done,
    Error,
    ResourceSaved,
    RunStarted,
    Token,
    ToolApprovalDecided,
    ToolApprovalRequired,
    ToolCallComplete,
    ToolCallProgress,
    ToolCallStart,
)
from finch_app.agent.resources import RESOURCE_LINK
from finch_app.agent.status import ENDED_RUN_TO_MESSAGE, OPEN_TOOL_FATE, MessageStatus, ToolStatus
from finch_app.auth.identity import LOCAL
from finch_app.db.crud import Turn
from finch_app.formatting import count, money, seconds
from finch_app.mcp.names import display_name


def link_resources(content: str, conversation_id: str) -> str:
    """Turn the model's `resource:` links into links that open the table in this conversation."""
    if not conversation_id or "resource:" not in content:
        return content
    return RESOURCE_LINK.sub(lambda m: f"[{m.group(1)}](/c/{conversation_id}?r={m.group(2)})", content)


def arguments_label(arguments: dict[str, Any]) -> str:
    """Arguments as the user reads them: `limit=10, symbol="AAPL"`."""
    parts = []
    for key, value in arguments.items():
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, (int, float)) else str(value)
        parts.append(f"{key}={text}")
    label = ", ".join(parts)
    return label if len(label) <= 120 else label[:119] + "…"


@dataclass
class CardView:
    """One live tool card."""

    tool_call_id: str
    tool_name: str
    arguments: str
    tool_label: str = ""
    """The name a person reads: the tool's, or "research · lookup" for an MCP server's tool."""
    status: str = ToolStatus.RUNNING
    """A `ToolStatus` (`data-status`)."""
    started_at_ms: int = 0
    """Server epoch milliseconds of the tool_call_start (`data-started-at`)."""
    status_label: str = "Calling…"
    duration_ms: int = -1
    """How long the call took, once it has ended (-1 until then)."""
    summary: str = ""
    error: str = ""
    progress_message: str = ""
    progress_pct: int = -1
    """0..100, or -1 when the tool gave no fraction."""
    resource_id: str = ""
    resource_label: str = ""
    """"Saved: Recent Senate trades (50 rows)", or "Recent Senate trades: 120 rows so far" while
    rows arrive."""
    timer_delay: str = "0ms"
    """Negative CSS animation delay, so a card drawn late (reload, another tab) shows the true elapsed time."""
    run_id: str = ""
    description: str = ""
    """For a call that changes data: the change in plain words (what the user approves)."""
    decision: str = ""
    """"Approved by alice", "Denied: …" once decided."""
    can_decide: bool = False
    """Its Approve/Deny buttons show: set once the run has paused (the card sits in the transcript)."""


@dataclass
class StepView:
    """One tool call in an answer's collapsed "Used N tools" summary."""

    tool_name: str
    arguments: str
    status: str
    duration: str
    summary: str
    error: str
    audit: str = ""
    """For a call that asked first: who decided what, when and through which door."""


@dataclass
class MessageView:
    """One transcript row."""

    id: str
    role: str
    content: str
    status: str = MessageStatus.COMPLETED
    """A `MessageStatus`."""
    error: str = ""
    retryable: bool = False
    needs_auth: bool = False
    steps: list[StepView] = field(default_factory=list)
    steps_label: str = ""
    """"Used 2 tools · 0.9 s", or "" when no tool ran."""
    cards: list[CardView] = field(default_factory=list)
    """The turn's tool cards as they ended, on an answer that just arrived (they fade out, and
    `steps_label` takes their place); none on answers read from the database."""
    plain: str = ""
    """An answer's text without Markdown ("Copy text"); "" for questions."""
    failed: bool = False
    """The answer did not get what was asked: the run failed, or every tool it called failed."""


def steps_label(steps: list[StepView], total_ms: int) -> str:
    """ "Used 2 tools · 0.9 s", "Used 2 tools · 1 failed · 0.9 s"; "" when no tool ran."""
    if not steps:
        return ""
    failed = sum(1 for s in steps if s.status in (ToolStatus.ERROR, ToolStatus.INTERRUPTED))
    parts = [f"Used {count(len(steps), 'tool')}", f"{failed} failed" if failed else "", seconds(total_ms)]
    return " · ".join(p for p in parts if p)


def answer_failed(status: str, steps: list[StepView]) -> bool:
    """A failed run, or an answer whose every tool failed: it looks failed and offers Retry."""
    if status in (MessageStatus.ERROR, MessageStatus.INTERRUPTED):
        return True
    return bool(steps) and all(s.status == ToolStatus.ERROR for s in steps)


_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_EMPHASIS = re.compile(
    r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"  # **bold**, __bold__
    r"|(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?!\w)"  # *italics*
    r"|(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)"  # _italics_ (not snake_case)
)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def plain_text(markdown: str) -> str:
    """An answer as plain text: no link targets, emphasis, heading marks or code fences; a table
    becomes tab-separated lines (what pastes into a spreadsheet or a plain email)."""
    lines = []
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")) or _TABLE_RULE.match(line) and "-" in line:
            continue
        if stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
            cells = [c.strip() for c in _CELL_SPLIT.split(stripped[1:-1])]
            line = "\t".join(cells)
        line = re.sub(r"^\s{0,3}#{1,6}\s+", "", line)
        line = _LINK.sub(r"\1", line)
        for _ in range(2):  # bold inside italics and the like
            line = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3) or m.group(4) or "", line)
        line = line.replace("`", "").replace("\\|", "|")
        lines.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def status_label(status: str, duration_ms: int | None, error: str | None) -> str:
    match status:
        case ToolStatus.COMPLETED:
            return f"Completed ({seconds(duration_ms)})"
        case ToolStatus.ERROR:
            return f"Error: {error or 'the tool failed'}"
        case ToolStatus.CANCELLED:
            return "Cancelled"
        case ToolStatus.INTERRUPTED:
            return "Interrupted"
        case ToolStatus.AWAITING_APPROVAL:
            return "Waiting for your approval"
        case ToolStatus.DENIED:
            return f"Not approved{': ' + error if error else ''}"
        case _:
            return "Calling…"


_DOORS = {"browser": "in the browser", "api": "through the API", "expiry": "when it expired"}


def audit_label(
    decision: str | None, by: str | None, via: str | None, at: datetime | None, reason: str | None
) -> str:
    """ "Approved by alice in the browser · Nov 27, 14:02 UTC" (empty when nobody decided)."""
    if not decision:
        return ""
    verb = "Approved" if decision == "approved" else "Denied"
    # Only a run's own user decides, and only they read this: the laptop's nameless user is "you".
    who = "" if via == "expiry" else " by you" if by == LOCAL.name else f" by {by}" if by else ""
    when = f" · {at:%b} {at.day}, {at:%H:%M} UTC" if at else ""
    why = f" — {reason}" if reason and decision != "approved" else ""
    return f"{verb}{who} {_DOORS.get(via or '', '')}{when}{why}".replace("  ", " ").strip()


def message_from_turn(turn: Turn) -> MessageView:
    """A stored message (and its run's tool calls) as a transcript row; an answer that waits for
    the user's approval carries its cards, with the waiting ones' buttons."""
    message = turn.message
    steps = [
        StepView(
            tool_name=call.name,
            arguments=arguments_label(call.arguments or {}),
            status=call.status,
            duration=seconds(call.duration_ms),
            summary=call.summary or "",
            error=call.error or "",
            audit=audit_label(
                call.decision, call.decided_by, call.decided_via, call.decided_at, call.decision_reason
            ),
        )
        for call in turn.tool_calls
    ]
    cards = []
    if message.status == MessageStatus.AWAITING_APPROVAL:
        cards = [
            CardView(
                tool_call_id=call.tool_call_id,
                tool_name=call.name,
                tool_label=display_name(call.name),
                arguments=arguments_label(call.arguments or {}),
                status=call.status,
                started_at_ms=int(call.started_at.timestamp() * 1000) if call.started_at else 0,
                status_label=status_label(call.status, call.duration_ms, call.error),
                summary=call.summary or "",
                error=call.error or "",
                run_id=call.run_id,
                description=call.description or "",
                decision=audit_label(
                    call.decision, call.decided_by, call.decided_via, None, call.decision_reason
                ),
                can_decide=call.status == ToolStatus.AWAITING_APPROVAL,
            )
            for call in turn.tool_calls
        ]
    total = _span_ms(turn)
    answer = message.role == "assistant"
    return MessageView(
        id=message.id,
        role=message.role,
        content=link_resources(message.content, message.conversation_id),
        status=message.status,
        error=message.error or "",
        retryable=message.retryable,
        needs_auth=message.needs_auth,
        steps=steps,
        steps_label=steps_label(steps, total),
        cards=cards,
        plain=plain_text(message.content) if answer else "",
        failed=answer and answer_failed(message.status, steps),
    )


def _span_ms(turn: Turn) -> int:
    """Wall time the tools took: first start to last finish (parallel calls overlap)."""
    starts = [c.started_at for c in turn.tool_calls if c.started_at]
    ends = [c.finished_at for c in turn.tool_calls if c.finished_at]
    if starts and ends:
        first: datetime = min(starts)
        last: datetime = max(ends)
        return max(0, int((last - first).total_seconds() * 1000))
    return sum(c.duration_ms or 0 for c in turn.tool_calls)


@dataclass
class TurnView:
    """The running turn: its cards, the answer so far and how it ended."""

    run_id: str = ""
    conversation_id: str = ""
    question_id: str = ""
    """The stored id of the question this turn answers."""
    cards: list[CardView] = field(default_factory=list)
    text: str = ""
    running: bool = False
    answer: MessageView | None = None
    """Set when the run ended: the row that will join the transcript."""
    first_start_ms: int = 0
    last_end_ms: int = 0


def apply_event(view: TurnView, event: AgentEvent) -> TurnView:
    """The turn after one more event; returns a new value, never mutates `view`."""
    now_ms = int(event.timestamp * 1000)
    match event:
        case RunStarted():
            return dataclasses.replace(
                view,
                run_id=event.run_id,
                conversation_id=event.conversation_id,
                question_id=event.user_message_id,
                running=True,
            )
        case ToolCallStart():
            card = CardView(
                tool_call_id=event.tool_call_id,
                tool_name=event.tool_name,
                tool_label=display_name(event.tool_name),
                arguments=arguments_label(event.arguments),
                started_at_ms=now_ms,
                run_id=event.run_id,
            )
            return dataclasses.replace(
                view, cards=[*view.cards, card], first_start_ms=view.first_start_ms or now_ms
            )
        case ToolCallProgress():
            return _update_card(
                view,
                event.tool_call_id,
                progress_message=event.message,
                progress_pct=-1
                if event.fraction is None
                else round(max(0.0, min(1.0, event.fraction)) * 100),
            )
        case ToolCallComplete():
            updated = _update_card(
                view,
                event.tool_call_id,
                status=event.status,
                duration_ms=event.duration_ms,
                status_label=status_label(event.status, event.duration_ms, event.error),
                summary=event.summary or "",
                error=event.error or "",
                progress_pct=-1,
            )
            return dataclasses.replace(updated, last_end_ms=max(view.last_end_ms, now_ms))
        case ResourceSaved():
            if event.partial:
                label = f"{event.title}: {count(event.row_count, 'row')} so far"
            else:
                label = f"Saved: {event.title} ({count(event.row_count, 'row')})"
            return _update_card(view, event.tool_call_id, resource_id=event.resource_id, resource_label=label)
        case ToolApprovalRequired():
            return _update_card(
                view,
                event.tool_call_id,
                status=ToolStatus.AWAITING_APPROVAL,
                status_label=status_label(ToolStatus.AWAITING_APPROVAL, None, None),
                description=event.description,
            )
        case ToolApprovalDecided():
            decision = "approved" if event.approved else "denied"
            changes: dict[str, Any] = {
                "decision": audit_label(
                    decision,
                    event.decided_by,
                    event.via,
                    datetime.fromtimestamp(event.timestamp, UTC),
                    event.reason,
                )
            }
            if event.approved:
                changes |= {"status": ToolStatus.RUNNING, "status_label": "Approved — running…"}
            return _update_card(view, event.tool_call_id, **changes)
        case Token():
            return dataclasses.replace(view, text=view.text + event.text)
        case AssistantMessage():
            content = link_resources(event.content, view.conversation_id)
            return dataclasses.replace(
                view,
                text=content,
                answer=_answer(view, content, status=MessageStatus.COMPLETED, needs_auth=event.needs_auth),
            )
        case Error():
            # A run that ended early: its open cards end the way it did, the text so far is kept.
            cards = [_closed(c, OPEN_TOOL_FATE[event.status], event.error) for c in view.cards]
            ended = dataclasses.replace(
                view, cards=cards, last_end_ms=max(view.last_end_ms, now_ms) if cards else 0
            )
            status = ENDED_RUN_TO_MESSAGE[event.status]
            return dataclasses.replace(
                ended,
                answer=_answer(
                    ended,
                    view.text,
                    status=status,
                    error="" if status == MessageStatus.CANCELLED else event.error,
                    retryable=event.retryable,
                ),
            )
        case Done() if event.status == "awaiting_approval":
            # Paused for the user's decision: the turn so far joins the transcript, its cards asking.
            cards = [
                dataclasses.replace(c, can_decide=True) if c.status == ToolStatus.AWAITING_APPROVAL else c
                for c in view.cards
            ]
            paused = dataclasses.replace(view, cards=cards)
            return dataclasses.replace(
                paused,
                running=False,
                answer=_answer(paused, view.text, status=MessageStatus.AWAITING_APPROVAL),
            )
        case Done():
            return dataclasses.replace(view, running=False)
        case _:
            return view


def stream_blocks(text: str) -> tuple[list[str], str]:
    """Streaming markdown as its finished blocks and the block still being written.

    A block ends at a blank line outside a code fence. Text only grows, so a finished block
    never changes: the browser renders it once, and each new token re-renders (and
    re-sends) only the last block, however long the answer gets.
    """
    blocks: list[str] = []
    current: list[str] = []
    in_fence = False
    *lines, writing = text.split("\n")
    for line in lines:
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        if not line.strip() and not in_fence:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    return blocks, "\n".join([*current, writing])


def with_live_timers(cards: list[CardView], now_ms: int) -> list[CardView]:
    """Cards whose running timers start from the time already elapsed on the server."""
    return [
        dataclasses.replace(card, timer_delay=f"-{max(0, now_ms - card.started_at_ms)}ms")
        if card.status == ToolStatus.RUNNING
        else card
        for card in cards
    ]


def _closed(card: CardView, status: str, error: str | None) -> CardView:
    if card.status != ToolStatus.RUNNING:
        return card
    return dataclasses.replace(
        card, status=status, status_label=status_label(status, None, error), progress_pct=-1
    )


def _update_card(view: TurnView, tool_call_id: str, **changes: Any) -> TurnView:
    cards = [
        dataclasses.replace(card, **changes) if card.tool_call_id == tool_call_id else card
        for card in view.cards
    ]
    return dataclasses.replace(view, cards=cards)


def _answer(
    view: TurnView,
    content: str,
    *,
    status: str,
    needs_auth: bool = False,
    error: str = "",
    retryable: bool = False,
) -> MessageView:
    steps = [
        StepView(
            tool_name=c.tool_name,
            arguments=c.arguments,
            status=c.status,
            duration=seconds(c.duration_ms) if c.status == ToolStatus.COMPLETED else "",
            summary=c.summary,
            error=c.error,
            audit=c.decision,
        )
        for c in view.cards
    ]
    total = max(0, view.last_end_ms - view.first_start_ms) if view.cards else 0
    return MessageView(
        id=f"answer-{view.run_id}",
        role="assistant",
        content=content,
        status=status,
        error=error,
        retryable=retryable,
        needs_auth=needs_auth,
        steps=steps,
        steps_label=steps_label(steps, total),
        plain=plain_text(content),
        failed=answer_failed(status, steps),
    )


def format_cell(value: Any, column_type: str) -> tuple[str, str, str]:
    """(text, type, href) of one table cell: numbers formatted, dates readable, only http(s) links."""
    if value is None or value == "":
        return ("—", "text", "")
    try:
        match column_type:
            case "money":
                return (money(float(value)), column_type, "")
            case "percent":
                return (f"{float(value):+.2f}%", column_type, "")
            case "share":
                return (f"{float(value):.2f}%", "percent", "")
            case "int":
                return (f"{int(float(value)):,}", column_type, "")
            case "number":
                return (f"{float(value):,.4f}".rstrip("0").rstrip("."), column_type, "")
            case "date":
                text = str(value)
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
                return (parsed.strftime("%b %d, %Y"), column_type, "")
            case "link":
                text = str(value)
                if text.startswith(("https://", "http://")):
                    return ("Open ↗", column_type, text)
                return ("—", column_type, "")
            case "ticker":
                return (str(value).upper(), column_type, "")
    except (TypeError, ValueError):
        pass
    return (" ".join(str(value).split()), column_type, "")
