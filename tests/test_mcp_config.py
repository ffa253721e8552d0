"""The pure parts of MCP in Finch: the operator's file, tool names across servers, and what a
remote result becomes (text and tables; never media; secrets masked)."""

from __future__ import annotations

import base64
import json
import re

import pytest
from mcp_types import (
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from finch_app.config_check import check
from finch_app.mcp.config import load_config
from finch_app.mcp.content import McpToolError, to_result
from finch_app.mcp.names import display_name, namespaced, split_name
from finch_app.redact import register_secret
from finch_app.settings import reset_settings

OPENAI_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def config_file(tmp_path, content: object):
    path = tmp_path / "mcp.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


# --- the file ---------------------------------------------------------------------------------


def test_a_good_file_resolves_variables_and_finchs_own_keys(tmp_path):
    path = config_file(
        tmp_path,
        {
            "mcpServers": {
                "research": {
                    "url": "https://research.example.com/mcp",
                    "headers": {"Authorization": "Bearer ${RESEARCH_TOKEN}"},
                    "deny": ["delete_note"],
                    "timeout_s": 12,
                },
                "desk": {
                    "command": "python",
                    "args": ["-m", "desk"],
                    "env": {"DESK_KEY": "${DESK_KEY}"},
                    "trusted": True,
                },
                "old_one": {
                    "type": "http",
                    "url": "http://127.0.0.1:9000/mcp",
                    "allow": ["lookup"],
                    "enabled": False,
                },
            }
        },
    )
    config = load_config(path, {"RESEARCH_TOKEN": "tok-123456789", "DESK_KEY": "key-abcdefgh"})
    assert config.ok and config.warnings == []
    research, desk, old = config.servers
    assert (research.transport, research.headers["Authorization"], research.timeout_s) == (
        "http",
        "Bearer tok-123456789",
        12.0,
    )
    assert research.where == "https://research.example.com/mcp"
    assert research.offers("lookup") and not research.offers("delete_note")
    assert research.secrets == ("Bearer tok-123456789",)
    assert (desk.transport, desk.env, desk.trusted, desk.where) == (
        "stdio",
        {"DESK_KEY": "key-abcdefgh"},
        True,
        "python -m desk",
    )
    assert desk.secrets == ("key-abcdefgh",)
    assert old.enabled is False and old.offers("lookup") and not old.offers("save_note")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "{not json",
            "not valid JSON (Expecting property name enclosed in double quotes at line 1, column 2).",
        ),
        ({"servers": {}}, 'unknown key "servers" (the file holds one object, "mcpServers").'),
        (
            {"mcpServers": {"a__b": {"url": "http://x/mcp"}}},
            'server "a__b": the name must be 1–32 letters or digits',
        ),
        ({"mcpServers": {"tail_": {"url": "http://x/mcp"}}}, 'server "tail_": the name must be'),
        (
            {"mcpServers": {"x": {"url": "http://x/mcp", "token": "t"}}},
            'server "x": unknown key "token" (known: type, url,',
        ),
        (
            {"mcpServers": {"x": {"url": "http://x/mcp", "command": "y"}}},
            'give either "url" (Streamable HTTP) or "command"',
        ),
        ({"mcpServers": {"x": {}}}, 'give either "url" (Streamable HTTP) or "command"'),
        ({"mcpServers": {"x": {"url": "ftp://x/mcp"}}}, '"url" must be an http:// or https:// address'),
        ({"mcpServers": {"x": {"command": "y", "headers": {"A": "b"}}}}, '"headers" are for a "url"'),
        (
            {"mcpServers": {"x": {"url": "http://x/mcp", "headers": {"Bad Name": "v"}}}},
            '"Bad Name" is not a valid HTTP header name.',
        ),
        (
            {"mcpServers": {"x": {"url": "http://x/mcp", "timeout_s": 0}}},
            "timeout_s: Input should be greater than 0.",
        ),
        (
            {
                "mcpServers": {
                    "x": {"url": "http://x/mcp", "headers": {"Authorization": "Bearer ${NOT_SET_HERE}"}}
                }
            },
            'server "x": header "Authorization" uses ${NOT_SET_HERE}, which is not set in the environment.',
        ),
    ],
)
def test_each_problem_is_one_sentence_that_names_the_server_and_key(tmp_path, content, expected):
    config = load_config(config_file(tmp_path, content), {})
    assert not config.ok and config.servers == []
    assert any(expected in error for error in config.errors), config.errors
    assert all(error.startswith(f"FINCH_MCP_CONFIG ({tmp_path / 'mcp.json'}): ") for error in config.errors)


def test_a_missing_file_and_a_secret_never_printed(tmp_path):
    assert load_config(tmp_path / "nope.json", {}).errors == [
        f"FINCH_MCP_CONFIG ({tmp_path / 'nope.json'}): the file does not exist."
    ]
    config = load_config(
        config_file(
            tmp_path, {"mcpServers": {"x": {"url": "http://x/mcp", "headers": {"A": "b"}, "deny": [""]}}}
        ),
        {"SECRET": "zzz"},
    )
    assert config.errors == [
        f'FINCH_MCP_CONFIG ({tmp_path / "mcp.json"}): server "x": "deny" has an empty tool name.'
    ]


def test_plain_http_with_headers_to_another_host_is_a_warning(tmp_path):
    config = load_config(
        config_file(
            tmp_path, {"mcpServers": {"x": {"url": "http://tools.internal/mcp", "headers": {"A": "b"}}}}
        ),
        {},
    )
    assert config.ok and config.warnings == [
        f'FINCH_MCP_CONFIG ({tmp_path / "mcp.json"}): server "x": '
        "its headers go over plain http to tools.internal; use https."
    ]


def test_the_start_up_check_refuses_a_bad_file(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "FINCH_MCP_CONFIG",
        str(config_file(tmp_path, {"mcpServers": {"x": {"url": "http://x/mcp", "foo": 1}}})),
    )
    reset_settings()
    from finch_app.settings import get_settings

    report = check(get_settings(), database=False)
    assert not report.ok
    assert any('server "x": unknown key "foo"' in error for error in report.errors)


# --- names ------------------------------------------------------------------------------------


def test_names_are_namespaced_within_what_the_model_accepts():
    assert namespaced("research", "lookup") == "research__lookup"
    assert namespaced("research", "notes.search/v2") == "research__notes_search_v2"
    long = namespaced("research", "x" * 80)
    assert OPENAI_NAME.match(long) and len(long) == 64
    clash = namespaced("research", "a.b", {"research__a_b"})
    assert clash != "research__a_b" and clash.startswith("research__a_b_") and OPENAI_NAME.match(clash)
    assert split_name("research__lookup__v2") == ("research", "lookup__v2")
    assert split_name("get_portfolio") is None
    assert display_name("research__lookup") == "research · lookup"
    assert display_name("get_stock_quote") == "get_stock_quote"


# --- results ------------------------------------------------------------------------------------


def test_text_and_structured_rows_become_text_and_a_table():
    rows = [{"ticker": "NVDA", "score": 3, "meta": {"x": 1}}, {"ticker": "AMD", "score": 2.5, "extra": "y"}]
    result = to_result(
        "research",
        "scores",
        CallToolResult(
            content=[TextContent(type="text", text=json.dumps(rows))], structured_content={"result": rows}
        ),
    )
    assert result.text is None, "the JSON copy of the structured content is not repeated"
    assert result.summary() == "2 rows"
    table = result.resource()
    assert (
        table is not None and table.title == "research · scores" and table.source == "research (MCP server)"
    )
    assert [(c.key, c.type) for c in table.columns] == [
        ("ticker", "text"),
        ("score", "number"),
        ("meta", "text"),
        ("extra", "text"),
    ]
    assert table.rows[0] == {"ticker": "NVDA", "score": 3, "meta": '{"x": 1}', "extra": None}


def test_media_and_blobs_are_never_passed_on_and_html_stays_text():
    png = base64.b64encode(b"\x89PNG" + b"0" * 2000).decode()
    result = to_result(
        "research",
        "chart",
        CallToolResult(
            content=[
                TextContent(type="text", text="<script>alert(1)</script> Chart below."),
                ImageContent(type="image", data=png, mime_type="image/png"),
                EmbeddedResource(
                    type="resource",
                    resource=BlobResourceContents(uri="file:///a.pdf", blob=png, mime_type="application/pdf"),
                ),
                EmbeddedResource(
                    type="resource", resource=TextResourceContents(uri="note://1", text="A note.")
                ),
                ResourceLink(
                    type="resource_link", name="Full report", uri="https://research.example.com/r/1"
                ),
            ]
        ),
    )
    assert result.left_out == ["an image (image/png, 2 KB)", "a file (application/pdf, 2 KB)"]
    assert png not in result.model_dump_json()
    assert result.text == (
        "<script>alert(1)</script> Chart below.\n\n[note://1]\nA note.\n\nLink: Full report (https://research.example.com/r/1)"
    )
    assert result.summary() == "<script>alert(1)</script> Chart below. (2 items not shown)"
    assert result.resource() is None


def test_an_error_result_raises_and_registered_secrets_are_masked():
    register_secret("Bearer sk-remote-abcdef123456")
    with pytest.raises(McpToolError, match=r"^bad token \[redacted\]$"):
        to_result(
            "research",
            "x",
            CallToolResult(
                content=[TextContent(type="text", text="bad token sk-remote-abcdef123456")], is_error=True
            ),
        )
    result = to_result(
        "research",
        "x",
        CallToolResult(content=[], structured_content={"echo": "Bearer sk-remote-abcdef123456"}),
    )
    assert result.data == {"echo": "[redacted]"}


# --- in the agent and on the card ---------------------------------------------------------------


class _Source:
    """Tools that come and go (what an MCP server's tool list is to the registry)."""

    def __init__(self, *specs) -> None:
        self.specs = {spec.name: spec for spec in specs}

    def current_tools(self):
        return self.specs


async def test_an_approved_call_whose_tool_went_away_ends_in_an_error_not_a_denial():
    from finch_app.agent.approvals import Decision
    from finch_app.agent.events import Done, EventStamp, ToolCallComplete
    from finch_app.agent.loop import Agent
    from finch_app.agent.tools import ToolRegistry, schema_tool
    from tests.fakes.scripted_model import ScriptedModel
    from tests.fakes.scripted_model import text as say
    from tests.fakes.scripted_model import tool_call as ask

    async def save(ctx, arguments):
        return "saved"

    note = schema_tool(
        name="desk__save_note",
        description="Save a note.",
        parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        func=save,
        changes_data=True,
    )
    source = _Source(note)
    model = ScriptedModel(ask("desk__save_note", {"text": "hi"}, id="n"), say("It was gone."))
    agent = Agent(model=model, registry=ToolRegistry().with_source(source), deps=None, system_prompt="test")
    stamp = EventStamp("run_1")
    paused = [e async for e in agent.run(history=[], user_message="note hi", stamp=stamp, user_id="u")]
    assert isinstance(paused[-1], Done) and paused[-1].status == "awaiting_approval"

    source.specs = {}  # the server's tool list changed while the user decided
    events = [
        e
        async for e in agent.resume(
            history=[],
            user_message="note hi",
            state=paused[-1].resume,
            decisions={"n": Decision(approved=True)},
            stamp=stamp,
            user_id="u",
        )
    ]
    done = next(e for e in events if isinstance(e, ToolCallComplete))
    assert (done.status, done.error) == (
        "error",
        "The tool desk__save_note is no longer available, so it did not run.",
    )
    assert [m.content for m in model.calls[-1] if m.role == "tool"] == [f"Error: {done.error}"]


def test_a_remote_tools_card_reads_server_dot_tool():
    from finch_app.agent.events import ToolCallStart
    from finch_app.views import TurnView, apply_event

    view = apply_event(
        TurnView(),
        ToolCallStart(
            run_id="r", seq=1, timestamp=1.0, tool_call_id="t", tool_name="research__lookup", arguments={}
        ),
    )
    [card] = view.cards
    assert (card.tool_name, card.tool_label) == ("research__lookup", "research · lookup")
