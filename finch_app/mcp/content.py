"""What a remote tool returned, as Finch tells and shows it: text and tables, never HTML or media.

MCP results are lists of content items plus, optionally, structured content. The model reads
the text and the structured data (as JSON, capped by the loop like any result); the card shows
one line; a list of objects becomes a resource table the user can open. Images, audio and
binary blobs are never passed on: a short note says one was left out. Registered secrets
(`finch_app.redact`) are masked in everything, in case a server repeats a credential.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from mcp_types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)
from pydantic import BaseModel, Field, JsonValue

from finch_app.agent.resources import ResourceColumn, ResourceDraft
from finch_app.agent.tools import ToolError
from finch_app.formatting import count
from finch_app.redact import redact

MAX_TEXT_CHARS = 200_000
"""Far above what the model is given (`FINCH_TOOL_RESULT_MAX_CHARS` caps that); bounds memory."""
MAX_ROWS = 2_000
MAX_COLUMNS = 12
MAX_ERROR_CHARS = 500


class McpToolError(ToolError):
    """The remote tool, or its server, failed; the message is for the card and the model."""


class McpToolResult(BaseModel):
    """A remote tool's answer. `source` names the server it came from; `data` is its structured part."""

    server: str = Field(exclude=True)
    source: str
    tool: str
    text: str | None = None
    data: JsonValue = None
    left_out: list[str] = []
    """Items not passed on, e.g. "an image (image/png, 12 KB)"."""

    def rows(self) -> list[dict[str, JsonValue]] | None:
        """The result as table rows, when it is a list of objects (or an object holding one such list)."""
        data = self.data
        if isinstance(data, dict) and len(data) == 1:
            data = next(iter(data.values()))
        if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
            return data[:MAX_ROWS]
        return None

    def summary(self) -> str:
        """The card's line: how many rows, or the first line of the text."""
        rows = self.rows()
        if rows is not None:
            total = self.data if isinstance(self.data, list) else next(iter(self.data.values()))  # type: ignore[union-attr]
            line = count(len(total), "row")
        elif self.text:
            line = next((ln.strip() for ln in self.text.splitlines() if ln.strip()), "")
            line = line if len(line) <= 140 else line[:139] + "…"
        else:
            line = "Done" if self.data is None else "Structured result"
        if self.left_out:
            line += f" ({count(len(self.left_out), 'item')} not shown)"
        return line

    def resource(self) -> ResourceDraft | None:
        """A table of the rows, kept for the user like any tool's."""
        rows = self.rows()
        if rows is None:
            return None
        keys: list[str] = []
        for row in rows:
            for key in row:
                if key not in keys and len(keys) < MAX_COLUMNS:
                    keys.append(key)
        table = [{key: _cell(row.get(key)) for key in keys} for row in rows]
        columns = [
            ResourceColumn(key=key, label=key.replace("_", " ").capitalize(), type=_type(table, key))
            for key in keys
        ]
        return ResourceDraft(
            kind="mcp_result",
            title=f"{self.server} · {self.tool}",
            columns=columns,
            rows=table,
            source=self.source,
            as_of=datetime.now(UTC),
        )


def to_result(server: str, tool: str, result: CallToolResult) -> McpToolResult:
    """The result, masked and trimmed; raises `McpToolError` when the tool says it failed."""
    texts: list[str] = []
    left_out: list[str] = []
    structured = result.structured_content
    for item in result.content:
        match item:
            case TextContent():
                if structured is not None and _is_json(item.text):
                    continue  # the same data again, as text (SDKs send both)
                texts.append(item.text)
            case ImageContent() | AudioContent():
                left_out.append(
                    f"{'an image' if isinstance(item, ImageContent) else 'audio'} "
                    f"({item.mime_type}, {_size(item.data)})"
                )
            case EmbeddedResource(resource=TextResourceContents() as contents):
                texts.append(f"[{contents.uri}]\n{contents.text}")
            case EmbeddedResource(resource=BlobResourceContents() as contents):
                left_out.append(f"a file ({contents.mime_type or 'binary'}, {_size(contents.blob)})")
            case ResourceLink():
                texts.append(f"Link: {item.name} ({item.uri})")
            case _:
                left_out.append(f"an item of type {getattr(item, 'type', '?')}")
    text = redact("\n\n".join(texts))[:MAX_TEXT_CHARS] or None
    if result.is_error:
        message = (text or "the tool reported an error").strip()
        raise McpToolError(
            message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 1] + "…"
        )
    return McpToolResult(
        server=server,
        source=f"{server} (MCP server)",
        tool=tool,
        text=text,
        data=_masked(structured),
        left_out=left_out,
    )


def _masked(value: Any) -> JsonValue:
    """Structured content with secrets masked in every string (and keys), as plain JSON values."""
    if value is None:
        return None
    try:
        return json.loads(redact(json.dumps(value, default=str)))
    except (TypeError, ValueError):
        return redact(str(value))


def _is_json(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


def _size(data: str) -> str:
    size = len(data) * 3 // 4  # base64
    return f"{size / 1024:,.0f} KB" if size >= 1024 else f"{size} B"


def _cell(value: Any) -> JsonValue:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)[:500]
    return value


def _type(rows: list[dict[str, JsonValue]], key: str) -> str:
    values = [row.get(key) for row in rows if row.get(key) is not None]
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int"
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "number"
    return "text"
