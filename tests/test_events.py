"""The event model is the contract: it must round-trip through its wire form."""

from __future__ import annotations

import json

import pytest

from finch_app.agent.events import (
    AssistantMessage,
    Done,
    Error,
    RunStarted,
    Token,
    ToolCallComplete,
    ToolCallProgress,
    ToolCallStart,
    agent_event_adapter,
)

COMMON = {"run_id": "run_1", "seq": 3, "timestamp": 1_790_000_000.25}

EVENTS = [
    RunStarted(**COMMON, conversation_id="c1", user_message_id="m1", model="Offline model"),
    ToolCallStart(**COMMON, tool_call_id="call_123", tool_name="get_portfolio", arguments={}),
    ToolCallProgress(**COMMON, tool_call_id="call_123", message="Page 2 of 5", fraction=0.4),
    ToolCallComplete(
        **COMMON,
        tool_call_id="call_123",
        tool_name="get_portfolio",
        status="completed",
        duration_ms=412,
        summary="8 holdings · $68,301",
    ),
    Token(**COMMON, text="Here "),
    AssistantMessage(**COMMON, content="Here are your holdings…", needs_auth=False),
    Done(**COMMON),
    Error(**COMMON, error="The model is rate limited.", retryable=True),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
def test_event_round_trips_through_json(event):
    wire = event.model_dump_json()
    assert agent_event_adapter.validate_json(wire) == event
    assert json.loads(wire)["type"] == event.type


def test_an_errors_details_stay_off_the_wire():
    """Details are for the operator's log: they can name database hosts, URLs or SQL."""
    event = Error(
        **COMMON, error="The model failed.", details="OperationalError: connection to db.internal:5432"
    )
    assert (
        "details" not in json.loads(event.model_dump_json()) and "db.internal" not in event.model_dump_json()
    )


def test_wire_fields_match_the_seed_format():
    start = json.loads(EVENTS[1].model_dump_json())
    assert {
        "tool_call_id": "call_123",
        "tool_name": "get_portfolio",
        "arguments": {},
    }.items() <= start.items()
    complete = json.loads(EVENTS[3].model_dump_json())
    assert complete["status"] == "completed" and complete["tool_name"] == "get_portfolio"
    message = json.loads(EVENTS[5].model_dump_json())
    assert message["content"].startswith("Here") and message["needs_auth"] is False
    assert json.loads(EVENTS[6].model_dump_json())["message"] == "Stream complete"
    for event in EVENTS:
        assert {"run_id", "seq", "timestamp", "type"} <= json.loads(event.model_dump_json()).keys()


def test_tool_output_for_history_never_goes_on_the_wire():
    complete = ToolCallComplete(
        **COMMON, tool_call_id="c", tool_name="t", status="completed", duration_ms=1, output="SECRET ROWS"
    )
    assert "SECRET ROWS" not in complete.model_dump_json()
    assert complete.output == "SECRET ROWS"


def test_unknown_event_type_is_rejected():
    with pytest.raises(ValueError):
        agent_event_adapter.validate_python({**COMMON, "type": "tool_call_exploded"})
