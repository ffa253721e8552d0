"""The headless benchmark client addresses the app's real state classes."""

from __future__ import annotations

from scripts.reflex_client import CHAT, LIVE


def test_the_client_knows_the_state_names():
    from finch_app.states.chat import ChatState, LiveTurnState

    assert CHAT == ChatState.get_full_name()
    assert LIVE == LiveTurnState.get_full_name()
