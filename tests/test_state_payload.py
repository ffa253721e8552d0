"""Payload size of live-turn updates does not grow with the transcript.

Measures what Reflex would really send over the websocket (the Socket.IO text frame
built by Reflex's own serializer, see `tests/reflex_harness.py`) for one agent event,
applied the way `LiveTurnState.run_turn` applies it: `view = apply_event(view, event)`,
then `async with self: self._show(view)` on the background handler's `StateProxy`.
The same event sequence runs once with an empty transcript and once with 100 prior
messages (50 user + 50 assistant, ~1 KB of markdown each, assistants with tool steps)
in `ChatState.messages`. Sizes are bytes, not timings; `pytest -s` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from finch_app.agent.events import (
    AgentEvent,
    AssistantMessage,
    RunStarted,
    Token,
    ToolCallComplete,
    ToolCallStart,
)
from finch_app.views import MessageView, StepView, TurnView, apply_event
from tests.reflex_harness import Frame, HeadlessTab

CONVERSATION_ID = "conv-payload"
RUN_ID = "run-payload"
T0 = 1_760_000_000.0  # fixed server timestamps: frames are byte-for-byte reproducible
TOLERANCE = 0.10

_TICKERS = ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOGL", "META", "AMD", "PLTR", "GME"]


def _assistant_markdown(i: int) -> str:
    """~1 KB of the markdown an answer typically has: heading, bullets, a table, a link."""
    a, b, c = (_TICKERS[(i + k) % len(_TICKERS)] for k in range(3))
    text = (
        f"## Your portfolio, update {i}\n\n"
        f"You hold **{8 + i % 5} positions** worth about **${84_210 + 37 * i:,}**. "
        f"The biggest weight is **{a}** ({21 + i % 7}%), followed by {b} and {c}.\n\n"
        "| Ticker | Shares | Price | Gain |\n"
        "|---|---:|---:|---:|\n"
        f"| {a} | {12 + i} | ${187.25 + i:.2f} | +{4.1 + i / 10:.1f}% |\n"
        f"| {b} | {30 + i} | ${402.10 + i:.2f} | -{1.3 + i / 20:.1f}% |\n"
        f"| {c} | {5 + i} | ${118.90 + i:.2f} | +{12.7 + i / 5:.1f}% |\n\n"
        "### What stands out\n\n"
        f"- **{a}** is trending on Reddit today (rank {1 + i % 9}, mentions up {40 + i}% in 24 h).\n"
        f"- Two senators disclosed purchases of **{b}** in the last 30 days; one House member sold {c}.\n"
        f"- Your cost basis in {c} is below the current price, so trimming it would realise a gain.\n\n"
        "> Not investment advice. Data: ApeWisdom, Senate and House disclosures, Yahoo Finance.\n\n"
        f"Want me to compare {a} with its sector, or look at insider trades for {b}? "
        "See [the disclosure](https://efdsearch.senate.gov/search/) for the filings."
    )
    return text


def _user_text(i: int) -> str:
    a = _TICKERS[i % len(_TICKERS)]
    return (
        f"How is my portfolio doing this week, and is {a} still a good holding given what "
        "Reddit and Congress are trading? Please include a table of my top positions with "
        "gains, and tell me if anything changed since yesterday. " * 4
    ).strip()


def _steps(i: int) -> list[StepView]:
    steps = [
        StepView(
            "get_portfolio", "", "completed", "0.4 s", f"{8 + i % 5} holdings · ${84_210 + 37 * i:,}", ""
        ),
        StepView("get_reddit_trending_stocks", "limit=10", "completed", "0.6 s", "10 tickers · top: GME", ""),
    ]
    if i % 3 == 0:
        steps.append(StepView("get_recent_senate_trades", "limit=20", "error", "", "", "Source unavailable"))
    return steps


def prior_transcript(n: int) -> list[MessageView]:
    """`n` transcript rows, alternating user and assistant (n=100 → 50 + 50)."""
    rows: list[MessageView] = []
    for k in range(n):
        i = k // 2
        if k % 2 == 0:
            rows.append(MessageView(id=f"user-{i}", role="user", content=_user_text(i)))
        else:
            steps = _steps(i)
            rows.append(
                MessageView(
                    id=f"answer-{i}",
                    role="assistant",
                    content=_assistant_markdown(i),
                    steps=steps,
                    steps_label=f"Used {len(steps)} tools · 1.1 s",
                )
            )
    return rows


def turn_events() -> list[tuple[str, AgentEvent]]:
    """One turn's events in order, each with the label it is reported under."""
    seq = iter(range(100))

    def base(dt: float) -> dict:
        return {"run_id": RUN_ID, "seq": next(seq), "timestamp": T0 + dt}

    events: list[tuple[str, AgentEvent]] = [
        (
            "run_started",
            RunStarted(
                **base(0), conversation_id=CONVERSATION_ID, user_message_id="m-new", model="Offline model"
            ),
        ),
        (
            "tool_call_start",
            ToolCallStart(**base(0.1), tool_call_id="call-1", tool_name="get_portfolio", arguments={}),
        ),
        (
            "tool_call_start#2",
            ToolCallStart(
                **base(0.1),
                tool_call_id="call-2",
                tool_name="get_reddit_trending_stocks",
                arguments={"limit": 10},
            ),
        ),
        (
            "tool_call_complete",
            ToolCallComplete(
                **base(0.5),
                tool_call_id="call-1",
                tool_name="get_portfolio",
                status="completed",
                duration_ms=412,
                summary="12 holdings · $84,210",
            ),
        ),
        (
            "tool_call_complete#2",
            ToolCallComplete(
                **base(0.7),
                tool_call_id="call-2",
                tool_name="get_reddit_trending_stocks",
                status="completed",
                duration_ms=598,
                summary="10 tickers · top: GME",
            ),
        ),
    ]
    words = "Your portfolio is up 2.3% this week, led by NVDA and AAPL; GME tops Reddit today.".split(" ")
    for n, word in enumerate(words):
        events.append(("token", Token(**base(0.8 + n / 100), text=word + " ")))
    return events


@dataclass
class Measurement:
    transcript: Frame | None
    """The frame that opened the conversation (title, id, transcript)."""
    events: dict[str, Frame]
    """The frame each event produced (for `token`: the last one)."""


def _app():
    """The real app, imported after the autouse fixture pointed FINCH_DATA_DIR at tmp."""
    from finch_app.finch_app import app

    return app


async def measure(n_prior: int, *, touch_transcript: bool = False) -> Measurement:
    """Run `turn_events()` against a tab with `n_prior` transcript rows; keep each frame.

    `touch_transcript` is the anti-pattern the design forbids (the running turn touching
    the transcript's State class on every event); it exists to prove the test can fail.
    """
    from finch_app.states.chat import ChatState, LiveTurnState

    async with HeadlessTab(_app(), token=f"payload-{n_prior}-{touch_transcript}") as tab:
        # The opened conversation, as `ChatState.on_load` leaves it (and sends it).
        async with tab.locked(ChatState, emit=True) as chat:
            chat.conversation_id = CONVERSATION_ID
            chat.title = "Portfolio check"
            chat.messages = prior_transcript(n_prior)
        transcript = tab.frames[-1] if tab.frames else None
        # The turn as `LiveTurnState._begin` starts it, before `run_turn` runs.
        async with tab.locked(LiveTurnState, emit=True) as live:
            live.user_text = "How is my portfolio doing?"
            live.running = True
            live.conversation_id = CONVERSATION_ID

        # `run_turn`: the background handler's `self` is a StateProxy.
        live = await tab.proxy(LiveTurnState)
        view = TurnView()
        frames: dict[str, Frame] = {}
        for label, event in turn_events():
            view = apply_event(view, event)
            sent = len(tab.frames)
            async with live:
                live._show(view)
                if touch_transcript:
                    chat = await live.get_state(ChatState)
                    chat.messages = [*chat.messages]
            new = tab.frames[sent:]
            if label == "run_started":
                continue  # same conversation id: nothing changes, nothing is sent
            assert len(new) == 1, f"{label}: expected one frame, got {len(new)}"
            frames[label] = new[0]
        return Measurement(transcript, frames)


def _report(label: str, empty: Frame, full: Frame, prior: int = 100) -> None:
    growth = (full.size - empty.size) / empty.size * 100
    print(f"  {label:<22} 0 prior: {empty.size:>6} B   {prior} prior: {full.size:>6} B   ({growth:+.1f} %)")


def _assert_live_only(label: str, frame: Frame) -> None:
    from finch_app.states.chat import ChatState, LiveTurnState

    chat_key = ChatState.get_full_name()
    live_key = LiveTurnState.get_full_name()
    assert frame.event[0] == "event"
    assert chat_key not in frame.delta, f"{label}: the delta re-sends {chat_key}"
    assert chat_key not in frame.raw, f"{label}: the frame mentions {chat_key}"
    assert set(frame.delta) == {live_key}, f"{label}: unexpected substates {sorted(frame.delta)}"


def _assert_within_tolerance(label: str, empty: Frame, full: Frame) -> None:
    assert abs(full.size - empty.size) <= TOLERANCE * empty.size, (
        f"{label}: {full.size} B with 100 prior messages vs {empty.size} B with none"
    )


@pytest.fixture
async def sizes() -> tuple[Measurement, Measurement]:
    empty = await measure(0)
    full = await measure(100)
    assert empty.transcript is not None and full.transcript is not None
    print(f"\n  transcript of 100 messages (sent once, on load): {full.transcript.size} B")
    # The transcript really is there and large: a leak of it would dwarf the event frame.
    assert full.transcript.size > 100_000
    return empty, full


async def test_tool_call_start_delta_does_not_grow_with_history(sizes) -> None:
    empty, full = sizes
    for label in ("tool_call_start", "tool_call_start#2"):
        _report(label, empty.events[label], full.events[label])
        _assert_live_only(label, empty.events[label])
        _assert_live_only(label, full.events[label])
        _assert_within_tolerance(label, empty.events[label], full.events[label])


async def test_tool_call_complete_and_token_deltas_do_not_grow_with_history(sizes) -> None:
    empty, full = sizes
    for label in ("tool_call_complete", "tool_call_complete#2", "token"):
        _report(label, empty.events[label], full.events[label])
        _assert_live_only(label, empty.events[label])
        _assert_live_only(label, full.events[label])
        _assert_within_tolerance(label, empty.events[label], full.events[label])


async def test_measurement_detects_a_transcript_leak() -> None:
    """Control: if the running turn touched ChatState, the same checks would fail."""
    empty = await measure(0, touch_transcript=True)
    full = await measure(100, touch_transcript=True)
    leaked, baseline = full.events["tool_call_start"], empty.events["tool_call_start"]
    print(f"\n  control (transcript touched per event): tool_call_start {baseline.size} B → {leaked.size} B")
    with pytest.raises(AssertionError):
        _assert_live_only("leak", leaked)
    with pytest.raises(AssertionError):
        _assert_within_tolerance("leak", baseline, leaked)


# --- long conversations: 500 prior messages ------------------------------------------------


async def test_tool_event_deltas_do_not_grow_with_500_prior_messages() -> None:
    empty = await measure(0)
    long = await measure(500)
    assert long.transcript is not None and long.transcript.size > 500_000
    print(f"\n  transcript of 500 messages (sent once, on load): {long.transcript.size} B")
    for label in (
        "tool_call_start",
        "tool_call_start#2",
        "tool_call_complete",
        "tool_call_complete#2",
        "token",
    ):
        _report(label, empty.events[label], long.events[label], prior=500)
        _assert_live_only(label, long.events[label])
        _assert_within_tolerance(label, empty.events[label], long.events[label])


async def test_finishing_a_turn_sends_the_new_rows_not_the_transcript() -> None:
    """The turn joins the transcript once; that delta carries the two new rows, not the 500 old ones."""
    from finch_app.states.chat import ChatState, LiveTurnState

    async with HeadlessTab(_app(), token="payload-settle") as tab:
        async with tab.locked(ChatState, emit=True) as chat:
            chat.conversation_id = CONVERSATION_ID
            chat.messages = prior_transcript(500)
        view = TurnView()
        for _, event in turn_events():
            view = apply_event(view, event)
        view = apply_event(view, AssistantMessage(run_id=RUN_ID, seq=99, timestamp=T0 + 2, content=view.text))
        async with tab.locked(LiveTurnState, emit=True) as live:
            live.user_text = "How is my portfolio doing?"
            live.conversation_id = CONVERSATION_ID
            live._view = view
        sent = len(tab.frames)
        async with tab.locked(LiveTurnState, emit=True) as live:
            await live._settle(view)
        (frame,) = tab.frames[sent:]
        chat_delta = frame.delta[ChatState.get_full_name()]
        print(f"\n  turn joins a 500-message transcript: {frame.size} B")
        assert "messages_rx_state_" not in chat_delta
        assert [row["role"] for row in chat_delta["turn_0_rx_state_"]] == ["user", "assistant"]
        assert frame.size < 5_000
