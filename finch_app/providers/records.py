"""Normalised records of the public data sources, and the dataset wrapper that says
where they came from. Pure values: parsing lives in `parsing.py`, fetching in the providers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class RedditTicker(BaseModel):
    """One row of ApeWisdom's ranking of tickers by Reddit mentions."""

    model_config = ConfigDict(frozen=True)

    rank: int
    ticker: str
    name: str
    """Company name with HTML entities decoded ("S&P", not "S&amp;P")."""
    mentions: int
    upvotes: int
    rank_24h_ago: int | None = None
    """None when the ticker is new to the ranking (the source sends 0 or nothing)."""
    mentions_24h_ago: int | None = None

    @property
    def mentions_change_pct(self) -> float | None:
        if not self.mentions_24h_ago:
            return None
        return (self.mentions - self.mentions_24h_ago) / self.mentions_24h_ago * 100


class CongressTrade(BaseModel):
    """A periodic transaction report line of a senator or representative."""

    model_config = ConfigDict(frozen=True)

    chamber: Literal["senate", "house"]
    member: str
    transaction_date: date | None
    disclosure_date: date | None = None
    ticker: str | None
    """Upper-case ticker; None when the filing names no listed security."""
    asset_description: str
    asset_type: str | None = None
    transaction_type: str
    """As filed: "Purchase", "Sale", "Sale (Full)", "Sale (Partial)", "Exchange"…"""
    amount: str
    """The filed amount text: a range "$1,001 - $15,000" or an exact "$2,722.50"."""
    amount_low: float | None = None
    amount_high: float | None = None
    owner: str | None = None
    district: str | None = None
    source_url: str | None = None


class Quote(BaseModel):
    model_config = ConfigDict(frozen=True)

    symbol: str
    price: float
    previous_close: float | None = None
    currency: str = "USD"
    as_of: datetime


class DataSet(BaseModel, Generic[T]):
    """Rows plus their provenance, so every answer can say where numbers came from."""

    rows: list[T]
    source: str
    """Human name of the source, e.g. "ApeWisdom" or "Senate Stock Watcher"."""
    as_of: datetime
    mode: Literal["live", "cached", "sample"]
    note: str | None = None
    """Anything the user should know, e.g. "sample data as of 2026-11-20"."""


class PricePoint(BaseModel):
    """One daily close of a price history, dated in the exchange's time zone."""

    model_config = ConfigDict(frozen=True)

    date: date
    close: float
