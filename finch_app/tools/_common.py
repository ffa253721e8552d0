"""Provenance fields every tool result carries, so answers can cite source and date."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from finch_app.providers.records import DataSet


class Provenance(BaseModel):
    source: str
    as_of: datetime
    mode: str
    """"live", "cached" or "sample"."""
    data_note: str | None = None

    @classmethod
    def of(cls, dataset: DataSet) -> Provenance:
        return cls(source=dataset.source, as_of=dataset.as_of, mode=dataset.mode, data_note=dataset.note)


def money(value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.0f}"
