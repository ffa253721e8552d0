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


class InsiderTrade(BaseModel):
    """One transaction line of an SEC Form 4: a company insider buying, selling or being granted shares."""

    model_config = ConfigDict(frozen=True)

    ticker: str
    company: str
    insider: str
    """The reporting owner as filed ("COOK TIMOTHY D"); joint filers are joined with "; "."""
    relationship: str
    """What the insider is to the company: "Director", "Officer: CFO", "10% owner"…, comma-joined."""
    transaction_date: date | None
    code: str
    """The Form 4 transaction code: P purchase, S sale, A award, M option exercise, F tax withholding…"""
    code_description: str
    security: str
    """The security's title as filed, e.g. "Common Stock" or "Restricted Stock Unit"."""
    derivative: bool
    """True for a line of the derivative table (options, RSUs), False for shares themselves."""
    shares: float | None
    price: float | None
    """Price per share; None when the filing gives none (awards, gifts, footnoted prices)."""
    acquired_disposed: Literal["A", "D"] | None
    """"A" when the insider acquired the securities, "D" when they disposed of them."""
    shares_owned_after: float | None
    direct_ownership: bool | None
    """False when held indirectly (a trust, a spouse, a fund)."""
    form: str
    """"4" or "4/A" (an amendment)."""
    filing_date: date | None
    accession_number: str
    filing_url: str | None = None

    @property
    def value(self) -> float | None:
        """Shares times price, when both are known."""
        if self.shares is None or self.price is None:
            return None
        return self.shares * self.price


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
