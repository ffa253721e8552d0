"""The operator's list of MCP servers (`FINCH_MCP_CONFIG`): read, checked and resolved.

The file has the shape MCP clients commonly use, plus Finch's own keys:

    {"mcpServers": {
      "research": {"url": "https://research.example.com/mcp",
                   "headers": {"Authorization": "Bearer ${RESEARCH_TOKEN}"},
                   "deny": ["delete_note"], "timeout_s": 20},
      "desk": {"command": "python", "args": ["-m", "desk_server"], "env": {"DESK_KEY": "${DESK_KEY}"},
               "trusted": true}
    }}

`${NAME}` in a URL, header value, argument or env value is read from Finch's environment (and
its `.env`) when the file is loaded; a name that is not set is an error. Problems are reported
one sentence each, naming the server and the key, never a secret's value. Only this file adds
servers: in password and header modes no user can add one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SERVER_NAME = re.compile(r"^[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*$")
"""Letters and digits, single `-` or `_` between them: never `__`, which joins a server's name
to its tools'."""
SERVER_NAME_MAX = 32
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_TIMEOUT_S = 30.0


class _Entry(BaseModel):
    """One server as written in the file."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["http", "streamable-http", "streamableHttp", "stdio"] | None = None
    """Optional, as other clients write it; Finch tells the transport from `url` or `command`."""
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    allow: list[str] | None = None
    """Only these tools of the server (its own names); unset: all of them."""
    deny: list[str] = Field(default_factory=list)
    """Never these tools."""
    timeout_s: float = Field(DEFAULT_TIMEOUT_S, gt=0, le=3600)
    """How long a call (and connecting) may take before the card says the server is unavailable."""
    trusted: bool = False
    """True: its tools run at once; otherwise each call asks the user first."""
    enabled: bool = True


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mcpServers: dict[str, dict[str, Any]]  # noqa: N815 - the key every MCP client uses


@dataclass(frozen=True)
class McpServer:
    """One server, resolved: variables filled in, ready to connect to."""

    name: str
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    allow: frozenset[str] | None = None
    deny: frozenset[str] = frozenset()
    timeout_s: float = DEFAULT_TIMEOUT_S
    trusted: bool = False
    enabled: bool = True

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never be shown or logged: header values, env values, URL credentials."""
        found = [*self.headers.values(), *self.env.values()]
        if self.url:
            parts = urlsplit(self.url)
            found += [p for p in (parts.password, parts.username) if p]
            found += [value for _, value in parse_qsl(parts.query) if len(value) >= 8]
        return tuple(s for s in found if s.strip())

    @property
    def transport(self) -> Literal["http", "stdio"]:
        return "http" if self.url else "stdio"

    @property
    def where(self) -> str:
        """Where it is, for an operator: the URL without credentials or query, or the command."""
        if self.url:
            parts = urlsplit(self.url)
            host = parts.hostname or ""
            netloc = f"{host}:{parts.port}" if parts.port else host
            return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        return " ".join([self.command or "", *self.args]).strip()

    def offers(self, tool: str) -> bool:
        """Whether the operator lets Finch use the server's tool `tool`."""
        return (self.allow is None or tool in self.allow) and tool not in self.deny


@dataclass
class McpConfig:
    """The servers of a config file, and what is wrong with it."""

    path: Path | None
    servers: list[McpServer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def environment(env_file: str | os.PathLike[str] | None) -> dict[str, str]:
    """The variables a config may name: the `.env` file's, overridden by the process's own."""
    values: dict[str, str] = {}
    if env_file and Path(env_file).is_file():
        from dotenv import dotenv_values

        values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    return {**values, **os.environ}


def load_config(path: Path | None, environ: Mapping[str, str]) -> McpConfig:
    """Read and check the file at `path` (None: no servers)."""
    config = McpConfig(path)
    if path is None:
        return config
    where = f"FINCH_MCP_CONFIG ({path})"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        config.errors.append(f"{where}: the file does not exist.")
        return config
    except OSError as exc:
        config.errors.append(f"{where}: cannot read it ({exc.strerror or type(exc).__name__}).")
        return config
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        config.errors.append(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).")
        return config
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"]) or "the top level"
            if error["type"] == "extra_forbidden":
                config.errors.append(
                    f'{where}: unknown key "{key}" (the file holds one object, "mcpServers").'
                )
            else:
                config.errors.append(f'{where}: {key}: {error["msg"]} (expected {{"mcpServers": {{...}}}}).')
        return config
    for name, raw in parsed.mcpServers.items():
        server = _server(name, raw, environ, config, where)
        if server is not None:
            config.servers.append(server)
    return config


def _server(
    name: str, raw: dict[str, Any], environ: Mapping[str, str], config: McpConfig, where: str
) -> McpServer | None:
    at = f'{where}: server "{name}"'
    problems: list[str] = []
    if len(name) > SERVER_NAME_MAX or not SERVER_NAME.match(name):
        problems.append(
            f"{at}: the name must be 1–{SERVER_NAME_MAX} letters or digits, with single - or _ between them "
            "(it prefixes the server's tool names, e.g. research__lookup)."
        )
    try:
        entry = _Entry.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"])
            if error["type"] == "extra_forbidden":
                known = ", ".join(_Entry.model_fields)
                problems.append(f'{at}: unknown key "{key}" (known: {known}).')
            else:
                problems.append(f"{at}: {key}: {error['msg']}.")
        config.errors.extend(problems)
        return None
    if bool(entry.url) == bool(entry.command):
        problems.append(
            f'{at}: give either "url" (Streamable HTTP) or "command" (a local stdio server), '
            "not both or neither."
        )
    if entry.url and (entry.args or entry.env or entry.cwd):
        problems.append(f'{at}: "args", "env" and "cwd" are for a "command"; this server has a "url".')
    if entry.command and entry.headers:
        problems.append(f'{at}: "headers" are for a "url"; this server runs a "command".')
    if (entry.type == "stdio" and entry.url) or (entry.type not in (None, "stdio") and entry.command):
        problems.append(
            f'{at}: "type" is "{entry.type}", which does not match its {"url" if entry.url else "command"}.'
        )

    def fill(value: str, what: str) -> str:
        def variable(match: re.Match[str]) -> str:
            if match.group(1) not in environ:
                problems.append(
                    f"{at}: {what} uses ${{{match.group(1)}}}, which is not set in the environment."
                )
                return ""
            return environ[match.group(1)]

        return _VARIABLE.sub(variable, value)

    url = fill(entry.url, '"url"') if entry.url else None
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f'{at}: "url" must be an http:// or https:// address of its MCP endpoint.')
        elif parts.scheme == "http" and entry.headers and not _loopback(parts.hostname):
            config.warnings.append(f"{at}: its headers go over plain http to {parts.hostname}; use https.")
    headers: dict[str, str] = {}
    for header, value in entry.headers.items():
        if not _HEADER_NAME.match(header):
            problems.append(f'{at}: "{header}" is not a valid HTTP header name.')
            continue
        filled = fill(value, f'header "{header}"')
        if "\n" in filled or "\r" in filled:
            problems.append(f'{at}: header "{header}" has a line break in its value.')
            continue
        headers[header] = filled
    env = {key: fill(value, f'env "{key}"') for key, value in entry.env.items()}
    args = tuple(fill(arg, f"argument {i + 1}") for i, arg in enumerate(entry.args))
    for listed in ("allow", "deny"):
        for tool in getattr(entry, listed) or []:
            if not tool.strip():
                problems.append(f'{at}: "{listed}" has an empty tool name.')
    if problems:
        config.errors.extend(problems)
        return None
    return McpServer(
        name=name,
        url=url,
        headers=headers,
        command=entry.command,
        args=args,
        env=env,
        cwd=entry.cwd,
        allow=frozenset(entry.allow) if entry.allow is not None else None,
        deny=frozenset(entry.deny),
        timeout_s=entry.timeout_s,
        trusted=entry.trusted,
        enabled=entry.enabled,
    )


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
