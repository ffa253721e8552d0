"""Pure event → view logic behind the tool cards and transcript rows."""

from __future__ import annotations

from datetime import UTC, datetime

from finch_app.agent.events import (
    AssistantMessage,
    Done,
    Error,
    RunStarted,
    Token,
    ToolCallComplete,
    ToolCallProgress,
    ToolCallStart,
)
from finch_app.formatting import count, money, seconds
from finch_app.runs.ending import RunTracker
from finch_app.views import TurnView, apply_event, arguments_label, audit_label, with_live_timers

C = {"run_id": "r1"}


def play(*events) -> TurnView:
    view = TurnView()
    for event in events:
        view = apply_event(view, event)
    return view


def test_a_card_goes_from_running_to_completed_and_the_answer_summarises_it():
    view = play(
        RunStarted(**C, seq=0, timestamp=100.0, conversation_id="c", user_message_id="u", model="m"),
        ToolCallStart(
            **C, seq=1, timestamp=100.0, tool_call_id="t1", tool_name="get_portfolio", arguments={}
        ),
        ToolCallProgress(**C, seq=2, timestamp=100.1, tool_call_id="t1", message="Pricing…", fraction=0.4),
    )
    card = view.cards[0]
    assert (card.status, card.status_label, card.progress_pct, card.started_at_ms) == (
        "running",
        "Calling…",
        40,
        100_000,
    )
    view = apply_event(
        view,
        ToolCallComplete(
            **C,
            seq=3,
            timestamp=100.9,
            tool_call_id="t1",
            tool_name="get_portfolio",
            status="completed",
            duration_ms=900,
            summary="8 holdings",
        ),
    )
    view = apply_event(view, Token(**C, seq=4, timestamp=101.0, text="Hi"))
    assert view.text == "Hi" and view.answer is None
    view = apply_event(view, AssistantMessage(**C, seq=5, timestamp=101.1, content="Hi there"))
    view = apply_event(view, Done(**C, seq=6, timestamp=101.1))
    assert view.cards[0].status_label == "Completed (0.9 s)" and view.cards[0].progress_pct == -1
    assert view.running is False
    assert view.answer.content == "Hi there" and view.answer.steps_label == "Used 1 tool · 0.9 s"
    assert view.answer.steps[0].summary == "8 holdings"


def test_apply_event_never_mutates_the_previous_view():
    before = play(
        ToolCallStart(**C, seq=1, timestamp=1.0, tool_call_id="t", tool_name="x", arguments={"limit": 5})
    )
    after = apply_event(
        before,
        ToolCallComplete(
            **C,
            seq=2,
            timestamp=2.0,
            tool_call_id="t",
            tool_name="x",
            status="error",
            duration_ms=5,
            error="boom",
        ),
    )
    assert before.cards[0].status == "running"
    assert after.cards[0].status_label == "Error: boom"
    assert before.cards[0].arguments == "limit=5"


def test_the_closing_events_of_a_stop_cancel_running_cards_and_keep_the_partial_answer():
    events = [
        RunStarted(**C, seq=0, timestamp=10.0, conversation_id="c", user_message_id="u", model="m"),
        ToolCallStart(**C, seq=1, timestamp=10.0, tool_call_id="a", tool_name="a", arguments={}),
        ToolCallStart(**C, seq=2, timestamp=10.0, tool_call_id="b", tool_name="b", arguments={}),
        ToolCallComplete(
            **C, seq=3, timestamp=10.5, tool_call_id="a", tool_name="a", status="completed", duration_ms=500
        ),
        Token(**C, seq=4, timestamp=10.6, text="Partial"),
    ]
    tracker = RunTracker("r1")
    for event in events:
        tracker.observe(event)
    closing = tracker.closing_events("cancelled")
    assert [(e.type, e.seq) for e in closing] == [("tool_call_complete", 5), ("error", 6)]
    assert tracker.closing_events("cancelled") == [], "a run ends once"
    stopped = play(*events, *closing)
    assert [c.status for c in stopped.cards] == ["completed", "cancelled"]
    assert (
        stopped.answer.status == "cancelled"
        and stopped.answer.content == "Partial"
        and stopped.answer.error == ""
    )
    assert stopped.answer.steps_label.startswith("Used 2 tools · ")


def test_an_error_event_ends_the_turn_with_an_error_answer():
    view = play(Error(**C, seq=1, timestamp=1.0, error="Rate limited.", retryable=True))
    assert (view.answer.status, view.answer.error, view.answer.retryable) == ("error", "Rate limited.", True)


def test_timers_of_cards_drawn_late_resume_from_the_elapsed_time():
    view = play(ToolCallStart(**C, seq=1, timestamp=100.0, tool_call_id="t", tool_name="x", arguments={}))
    assert with_live_timers(view.cards, 103_250)[0].timer_delay == "-3250ms"


def test_labels():
    assert seconds(412) == "0.4 s" and seconds(15_000) == "15 s" and seconds(185_000) == "3 min 5 s"
    assert money(-1234.5) == "-$1,234.50" and money(1234.5, cents=False) == "$1,234" and money(None) == "—"
    assert (
        count(1, "row") == "1 row"
        and count(1024, "row") == "1,024 rows"
        and count(2, "company") == "2 companies"
    )
    assert arguments_label({"symbol": "AAPL", "days": 30}) == 'symbol="AAPL", days=30'


def test_a_streaming_answer_splits_into_finished_blocks_and_the_one_being_written():
    from finch_app.views import stream_blocks

    text = "### Title\n\nFirst para\nstill first.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode\n\nmore code\n```\n\nLast, being wri"
    blocks, tail = stream_blocks(text)
    assert blocks == [
        "### Title",
        "First para\nstill first.",
        "| a | b |\n|---|---|\n| 1 | 2 |",
        "```\ncode\n\nmore code\n```",
    ]
    assert tail == "Last, being wri"
    # Text only grows: every prefix's finished blocks are a prefix of the final ones.
    for end in range(len(text)):
        partial, _ = stream_blocks(text[:end])
        assert blocks[: len(partial)] == partial
    assert stream_blocks("") == ([], "")
    assert stream_blocks("one\n\n") == (["one"], "")


def test_an_answer_whose_every_tool_failed_looks_failed_and_says_so():
    view = play(
        RunStarted(**C, seq=0, timestamp=100.0, conversation_id="c", user_message_id="u", model="m"),
        ToolCallStart(
            **C,
            seq=1,
            timestamp=100.0,
            tool_call_id="t1",
            tool_name="get_recent_insider_trades",
            arguments={},
        ),
        ToolCallComplete(
            **C,
            seq=2,
            timestamp=100.4,
            tool_call_id="t1",
            tool_name="get_recent_insider_trades",
            status="error",
            duration_ms=400,
            error="Couldn't reach SEC EDGAR",
        ),
        AssistantMessage(
            **C, seq=3, timestamp=100.5, content="The latest insider trades couldn't be loaded."
        ),
    )
    assert view.answer.status == "completed" and view.answer.failed
    assert view.answer.steps_label == "Used 1 tool · 1 failed · 0.4 s"
    ok = play(
        RunStarted(**C, seq=0, timestamp=100.0, conversation_id="c", user_message_id="u", model="m"),
        ToolCallStart(
            **C, seq=1, timestamp=100.0, tool_call_id="t1", tool_name="get_portfolio", arguments={}
        ),
        ToolCallComplete(
            **C,
            seq=2,
            timestamp=100.4,
            tool_call_id="t1",
            tool_name="get_portfolio",
            status="completed",
            duration_ms=400,
        ),
        AssistantMessage(**C, seq=3, timestamp=100.5, content="Fine."),
    )
    assert not ok.answer.failed


def test_an_answer_copies_as_plain_text_without_markdown():
    from finch_app.views import plain_text

    markdown = (
        "### Your portfolio\n\nWorth **$84,210**, up _3.2%_; see [Your holdings](/c/a?r=b).\n\n"
        "| Symbol | Value |\n|:--|--:|\n| **AAPL** | $1,234 |\n| A \\| B | — |\n\n- one *item*\n- snake_case stays\n"
    )
    assert plain_text(markdown) == (
        "Your portfolio\n\nWorth $84,210, up 3.2%; see Your holdings.\n\n"
        "Symbol\tValue\nAAPL\t$1,234\nA | B\t—\n\n- one item\n- snake_case stays"
    )


def test_the_audit_line_says_who_decided_where_and_when() -> None:
    at = datetime(2026, 11, 7, 14, 2, tzinfo=UTC)
    assert (
        audit_label("approved", "alice", "api", at, None)
        == "Approved by alice through the API · Nov 7, 14:02 UTC"
    )
    # Without accounts the decider is the laptop's one user: the reader.
    assert (
        audit_label("approved", "local", "browser", at, None)
        == "Approved by you in the browser · Nov 7, 14:02 UTC"
    )
    assert (
        audit_label("denied", "bob", "browser", None, "too many") == "Denied by bob in the browser — too many"
    )
    assert audit_label("denied", None, "expiry", at, "nobody approved it in time").startswith(
        "Denied when it expired"
    )
    assert audit_label(None, "alice", "api", at, None) == ""
