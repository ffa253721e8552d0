"""A long visit does not make the page's updates grow: the real frames of 100 turns in one tab.

Each turn is what a user does: type a question (`LiveTurnState._begin`, which also moves the
previous turn into the transcript), then the background handler `run_turn` starts the run and
follows it; every turn calls a tool that saves a result, so the Results list gets a new entry
each time. The frames are the Socket.IO text frames Reflex itself would send (see
`tests/reflex_harness.py`). Bytes, not timings; `pytest -s` prints them.
"""

from __future__ import annotations

import pytest

from finch_app.states import visit
from finch_app.states.chat import ChatState, LiveTurnState
from finch_app.states.results import ResultsState
from tests.fakes.scripted_model import ScriptedModel, text, tool_call
from tests.reflex_harness import Frame, HeadlessTab
from tests.support import install_context

TURNS = 100
TOLERANCE = 1.10

pytestmark = pytest.mark.usefixtures("demo_holdings")


def _app():
    from finch_app.finch_app import app

    return app


async def _turn(tab: HeadlessTab, n: int) -> list[Frame]:
    """One question and its answer; the frames it sent."""
    before = len(tab.frames)
    async with tab.locked(LiveTurnState, emit=True) as live:
        spec = await live._begin(f"question {n:03d}: how did the Senate trade this week?")
    assert spec, "the question was refused"
    chat_id = (await tab.proxy(ChatState)).conversation_id
    live = await tab.proxy(LiveTurnState)
    async for _ in LiveTurnState.run_turn.fn(
        live, f"question {n:03d}: how did the Senate trade this week?", chat_id, False
    ):
        pass  # redirects after the first answer: the page would follow them
    return tab.frames[before:]


async def test_a_hundred_turns_each_saving_a_result_send_no_bigger_frames_than_the_first():
    steps = []
    for n in range(TURNS):
        steps += [
            tool_call("get_recent_senate_trades", {"limit": 5}, id=f"call_{n}"),
            text(f"Answer {n}: five trades."),
        ]
    install_context(ScriptedModel(*steps))
    async with HeadlessTab(_app(), token="long-visit") as tab:
        turns = [await _turn(tab, n) for n in range(TURNS)]

        results = await tab.proxy(ResultsState)
        # Every question repeated the same lookup: the list shows it once, the newest copy under
        # the last question (each turn moved it there: one slot emptied, one filled).
        listed = [g for index in range(visit.SLOTS) for g in getattr(results, visit.slot_var("visit", index))]
        assert results.count == 1 and len(listed) == 1
        assert listed[0].question.startswith(f"question {TURNS - 1:03d}") and len(listed[0].results) == 1
        chat = await tab.proxy(ChatState)
        assert chat.last_status == "completed"

    sizes = [[frame.size for frame in frames] for frames in turns]
    first, later = sizes[1], sizes[-1]  # turn 2 is the first that moves a finished turn into the transcript
    print(f"\n  turn 2 frames: {first}\n  turn {TURNS} frames: {later}")
    print(f"  largest frame: turn 2 {max(first)} B, turn {TURNS} {max(later)} B")
    assert_no_growth(sizes)

    # The question's frame carries no transcript at all; the answer's frame moves the turn into
    # one slot of the transcript (plus the slots' order), never the whole visit; the results list
    # sends only the running turn's group.
    last = turns[-1]
    assert ChatState.get_full_name() not in last[0].delta
    chat_deltas = [f.delta[ChatState.get_full_name()] for f in last if ChatState.get_full_name() in f.delta]
    assert len(chat_deltas) == 1
    slots = [k for k in chat_deltas[0] if k.startswith("turn_") and k != "turn_order_rx_state_"]
    assert len(slots) == 1 and [row["role"] for row in chat_deltas[0][slots[0]]] == ["user", "assistant"]
    assert not [k for k in chat_deltas[0] if k.startswith(("messages", "earlier")) and chat_deltas[0][k]]
    results_deltas = [f.delta.get(ResultsState.get_full_name(), {}) for f in last]
    assert all("groups_rx_state_" not in d for d in results_deltas)


def assert_no_growth(sizes: list[list[int]]) -> None:
    """Against turn 2: no later turn starts with a bigger frame or sends a bigger frame (events
    may batch differently from turn to turn, so frames are not paired one by one)."""
    first = sizes[1]
    for n, later in enumerate(sizes[2:], start=3):
        assert later[0] <= first[0] * TOLERANCE + 64, (
            f"a frame grew over the visit: turn start {first[0]} B → {later[0]} B (turn {n})"
        )
        assert max(later) <= max(first) * TOLERANCE + 64, (
            f"a frame grew over the visit: {max(first)} B → {max(later)} B (turn {n})"
        )


async def test_the_measurement_sees_a_list_that_grows_with_the_visit():
    """Control: the same turns, plus the old design's list of the visit's turns re-sent whole at
    each turn start, fail the same check."""
    steps = []
    for n in range(20):
        steps += [tool_call("get_recent_senate_trades", {"limit": 5}, id=f"call_{n}"), text(f"Answer {n}.")]
    install_context(ScriptedModel(*steps))
    sizes = []
    async with HeadlessTab(_app(), token="growing-visit") as tab:
        for n in range(20):
            frames = await _turn(tab, n)
            async with tab.locked(ChatState, emit=True) as chat:
                chat.earlier = [*chat.earlier, *chat._slot(visit.newest_slot(chat._turns) or 0)]
            sizes.append([f.size for f in [*frames, tab.frames[-1]]])
    with pytest.raises(AssertionError, match="grew over the visit"):
        assert_no_growth(sizes)
