"""What every tool shares: provenance of its data, and the validated parameter types."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, WithJsonSchema

from finch_app.agent.resources import ResourceColumn, ResourceDraft
from finch_app.agent.tools import ToolContext
from finch_app.providers.base import Providers
from finch_app.providers.records import DataSet

Ctx = ToolContext[Providers]
"""What every Finch tool gets: the data providers and the user."""

TICKER_PATTERN = re.compile(r"^[A-Z][A-Z.\-]{0,9}$")


class Provenance(BaseModel):
    source: str
    as_of: datetime
    mode: str
    """"live", "cached" or "sample"."""
    data_note: str | None = None

    @classmethod
    def of(cls, dataset: DataSet) -> Provenance:
        return cls(source=dataset.source, as_of=dataset.as_of, mode=dataset.mode, data_note=dataset.note)


def draft(
    kind: str,
    title: str,
    columns: list[tuple[str, str, str]],
    rows: list[BaseModel] | list[dict],
    provenance: Provenance | None,
    chart: str | None = None,
) -> ResourceDraft:
    """A resource of `rows` with `(key, label, type)` columns and the data's provenance."""
    return ResourceDraft(
        kind=kind,
        title=title,
        columns=[ResourceColumn(key=k, label=label, type=t) for k, label, t in columns],  # type: ignore[arg-type]
        rows=[r.model_dump(mode="json") if isinstance(r, BaseModel) else r for r in rows],
        source=provenance.source if provenance else None,
        as_of=provenance.as_of if provenance else None,
        chart=chart,  # type: ignore[arg-type]
    )


def _ticker(value: object) -> str:
    text = str(value).strip().lstrip("$").upper()
    if not TICKER_PATTERN.match(text):
        raise ValueError(f"{value!r} is not a ticker symbol (letters, '.' or '-', e.g. AAPL or BRK.B)")
    return text


Ticker = Annotated[
    str,
    BeforeValidator(_ticker),
    WithJsonSchema(
        {"type": "string", "pattern": TICKER_PATTERN.pattern, "description": "Exchange ticker, e.g. AAPL"}
    ),
]
"""A ticker, upper-cased and validated (a leading $ is dropped)."""


def Clamped(low: int, high: int, default_description: str = "") -> object:  # noqa: N802  (a type factory)
    """An integer the model may overshoot: values outside [low, high] are clamped, not refused."""

    def clamp(value: int) -> int:
        return max(low, min(high, value))

    return Annotated[
        int,
        AfterValidator(clamp),
        Field(json_schema_extra={"minimum": low, "maximum": high}, description=default_description or None),
    ]
