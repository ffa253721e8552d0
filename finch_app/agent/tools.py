"""Typed tools: an async function, a docstring and the `@tool` decorator.

The decorator builds the parameter model (and so the JSON schema the model sees)
from the signature, skipping the leading `ctx`. Descriptions come from the
Google-style docstring, which is prompt text: write it for the LLM.

A tool defined elsewhere (another program's, described by a JSON schema) is a
`schema_tool`; a `ToolSource` adds such tools to a registry while the app runs.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, get_type_hints

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, create_model

from finch_app.agent.resources import ResourceDraft

DepsT = TypeVar("DepsT")
ProgressCallback = Callable[[str, float | None], Awaitable[None]]
RowsCallback = Callable[["ResourceDraft"], Awaitable[None]]


async def _ignore_progress(message: str, fraction: float | None = None) -> None:
    return None


async def _ignore_rows(draft: ResourceDraft) -> None:
    return None


@dataclass
class ToolContext(Generic[DepsT]):
    """What a tool may use: its dependencies, the user, and a progress reporter."""

    deps: DepsT
    """The app's data providers; tools never read settings or globals."""
    user_id: str
    """Whose data the tool may touch."""
    report_progress: ProgressCallback = _ignore_progress
    publish_rows: RowsCallback = _ignore_rows
    """Hand over the rows found so far (all of them each time), so the user sees them early."""


@functools.cache
def _parameters_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Built once per model: pydantic's schema generation costs more CPU than a whole model
    round, and the schemas go out with every round of every run."""
    parameters = model.model_json_schema()
    parameters.pop("title", None)
    return parameters


class ToolArgumentError(Exception):
    """The model sent arguments that do not fit the tool's schema."""


class ToolError(Exception):
    """A tool failure explained in words for the user (and the model): its message is shown as it is.

    Any other exception from a tool is a failure inside Finch: the card and the model get plain
    words, and the details go to the log."""


def _argument_object(tool_name: str, raw: str | dict[str, Any]) -> dict[str, Any]:
    """The model's raw arguments (JSON text or dict) as a dict, or `ToolArgumentError`."""
    if isinstance(raw, str):
        try:
            data = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise ToolArgumentError(
                f"Arguments for {tool_name} are not valid JSON ({exc.msg} at {exc.pos})"
            ) from exc
    else:
        data = raw
    if not isinstance(data, dict):
        raise ToolArgumentError(f"Arguments for {tool_name} must be a JSON object")
    return data


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    params_model: type[BaseModel]
    func: Callable[..., Awaitable[Any]]
    changes_data: bool = False
    """It changes the user's data, so by default it asks the user first (agent/approvals.py)."""
    describe: Callable[..., str] | None = None
    """The change a call would make, in plain words, from its validated arguments."""

    def describe_call(self, params: BaseModel) -> str:
        """ "Add 10 shares of NVDA at $120.00 to your holdings"; the tool and its arguments when
        the tool has no words of its own."""
        if self.describe is not None:
            return self.describe(**params.model_dump())
        arguments = ", ".join(f"{k}={v!r}" for k, v in params.model_dump().items())
        return f"Run {self.name}({arguments})"

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-tool schema for this tool."""
        parameters = copy.deepcopy(_parameters_schema(self.params_model))
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": parameters,
            },
        }

    def parse_arguments(self, raw: str | dict[str, Any]) -> BaseModel:
        """Validate raw model arguments (JSON text or dict) against the schema."""
        data = _argument_object(self.name, raw)
        try:
            return self.params_model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in exc.errors()
            )
            raise ToolArgumentError(f"Invalid arguments for {self.name}: {problems}") from exc

    async def __call__(self, ctx: ToolContext, params: BaseModel) -> Any:
        return await self.func(ctx, **params.model_dump())


class JsonArguments(RootModel[dict[str, Any]]):
    """A call's arguments, checked against a JSON schema rather than a model of ours."""


@dataclass(frozen=True)
class SchemaToolSpec(ToolSpec):
    """A tool whose parameters are a given JSON schema (another program's tool): calls are
    validated against that schema and `func(ctx, arguments)` gets the arguments as one dict."""

    parameters: Mapping[str, Any] = field(default_factory=dict, compare=False)
    _validator: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cls = jsonschema.validators.validator_for(self.parameters, default=jsonschema.Draft202012Validator)
        object.__setattr__(self, "_validator", cls(self.parameters))

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": copy.deepcopy(dict(self.parameters)),
            },
        }

    def parse_arguments(self, raw: str | dict[str, Any]) -> BaseModel:
        data = _argument_object(self.name, raw)
        errors = sorted(self._validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err.absolute_path) or 'arguments'}: {err.message}"
                for err in errors[:5]
            )
            raise ToolArgumentError(f"Invalid arguments for {self.name}: {problems}")
        return JsonArguments(data)

    async def __call__(self, ctx: ToolContext, params: BaseModel) -> Any:
        return await self.func(ctx, params.model_dump())


class BadToolSchema(ValueError):
    """A tool's parameters are not a JSON schema a model can use."""


def schema_tool(
    *,
    name: str,
    description: str,
    parameters: Mapping[str, Any],
    func: Callable[[ToolContext, dict[str, Any]], Awaitable[Any]],
    changes_data: bool = False,
    describe: Callable[..., str] | None = None,
) -> SchemaToolSpec:
    """A tool described by a JSON schema; raises `BadToolSchema` if the schema is unusable."""
    if not isinstance(parameters, Mapping) or parameters.get("type", "object") != "object":
        raise BadToolSchema("its input schema is not a JSON object schema")
    try:
        cls = jsonschema.validators.validator_for(parameters, default=jsonschema.Draft202012Validator)
        cls.check_schema(parameters)
    except jsonschema.SchemaError as exc:
        raise BadToolSchema(f"its input schema is invalid ({exc.message})") from None
    return SchemaToolSpec(
        name=name,
        description=description,
        params_model=JsonArguments,
        func=func,
        changes_data=changes_data,
        describe=describe,
        parameters={"type": "object", "properties": {}, **parameters},
    )


_ARG_LINE = re.compile(r"^ {0,4}(\w+)(?: \([^)]*\))?:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into the description and per-argument text."""
    description: list[str] = []
    args: dict[str, str] = {}
    section = "description"
    current: str | None = None
    for line in inspect.cleandoc(doc).splitlines():
        stripped = line.strip()
        if stripped in {"Args:", "Arguments:", "Parameters:"}:
            section = "args"
            continue
        if stripped in {"Returns:", "Raises:", "Examples:", "Example:"}:
            section = "other"
            continue
        if section == "description":
            description.append(line)
        elif section == "args":
            match = _ARG_LINE.match(line)
            if match:
                current = match.group(1)
                args[current] = match.group(2).strip()
            elif current and stripped:
                args[current] = f"{args[current]} {stripped}"
    return "\n".join(description).strip(), args


def tool(
    func: Callable[..., Awaitable[Any]] | None = None,
    *,
    changes_data: bool = False,
    describe: Callable[..., str] | None = None,
) -> Any:
    """Turn `async def name(ctx, ...) -> Model` into a ToolSpec with a JSON schema.

    `@tool` for a tool that only reads; `@tool(changes_data=True, describe=...)` for one that
    changes the user's data (it asks first; `describe` takes the call's arguments and says the
    change in plain words)."""
    if func is None:
        return functools.partial(_make_tool, changes_data=changes_data, describe=describe)
    return _make_tool(func, changes_data=changes_data, describe=describe)


def _make_tool(
    func: Callable[..., Awaitable[Any]], *, changes_data: bool, describe: Callable[..., str] | None
) -> ToolSpec:
    if not inspect.iscoroutinefunction(func):
        raise TypeError(f"tool {func.__name__} must be an async function")
    signature = inspect.signature(func)
    hints = get_type_hints(func, include_extras=True)
    description, arg_docs = _parse_docstring(func.__doc__ or "")
    fields: dict[str, Any] = {}
    for index, (name, param) in enumerate(signature.parameters.items()):
        if index == 0:
            continue  # ctx
        annotation = hints.get(name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[name] = (annotation, Field(default, description=arg_docs.get(name)))
    params_model = create_model(
        f"{func.__name__}_params",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    return ToolSpec(
        name=func.__name__,
        description=description,
        params_model=params_model,
        func=func,
        changes_data=changes_data,
        describe=describe,
    )


class ToolSource(Protocol):
    """Tools that come and go while the app runs (e.g. another server's), by name."""

    def current_tools(self) -> Mapping[str, ToolSpec]:
        """The tools available right now; read at every use, so a change reaches the next model round."""
        ...


@dataclass
class ToolRegistry:
    """The tools one agent may call, by name: its own, then those its sources offer now."""

    tools: dict[str, ToolSpec] = field(default_factory=dict)
    sources: tuple[ToolSource, ...] = ()

    @classmethod
    def of(cls, specs: Iterable[ToolSpec]) -> ToolRegistry:
        return cls({spec.name: spec for spec in specs})

    def with_source(self, source: ToolSource) -> ToolRegistry:
        """This registry plus the tools `source` offers (a name of our own wins over a source's)."""
        return ToolRegistry(dict(self.tools), (*self.sources, source))

    def _all(self) -> Mapping[str, ToolSpec]:
        if not self.sources:
            return self.tools
        merged = dict(self.tools)
        for source in self.sources:
            for name, spec in source.current_tools().items():
                merged.setdefault(name, spec)
        return merged

    def get(self, name: str) -> ToolSpec | None:
        return self._all().get(name)

    def schemas(self) -> list[dict[str, Any]]:
        return [spec.schema() for spec in self._all().values()]

    def names(self) -> list[str]:
        return list(self._all())


def result_summary(result: Any) -> str | None:
    """A tool result's one-line summary, when it offers one."""
    summarize = getattr(result, "summary", None)
    if callable(summarize):
        return str(summarize())
    return None


def result_needs_auth(result: Any) -> bool:
    return bool(getattr(result, "needs_auth", False))


def result_to_text(result: Any, max_chars: int) -> str:
    """The result as JSON text for the model, capped so one result cannot flood the context."""
    if isinstance(result, BaseModel):
        text = result.model_dump_json()
    else:
        text = json.dumps(result, default=str)
    if len(text) > max_chars:
        note = f"... [truncated: result was {len(text):,} characters, showing the first {max_chars:,}]"
        text = text[:max_chars] + note
    return text
