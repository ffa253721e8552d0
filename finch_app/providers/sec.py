"""SEC EDGAR: insider transactions (Form 4), from a company's filings and from the latest-filings feed.

Owns EDGAR's formats (the ticker → CIK table, submissions, Form 4 ownership XML, the Atom feed of
the latest filings, a filing's archive index) and the requests that read them. The SEC asks every
client for a contact email in its User-Agent and at most ten requests a second.
"""

from __future__ import annotations

import asyncio
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel

from finch_app.providers.base import DataUnavailable
from finch_app.providers.cache import CacheKey, DataCache
from finch_app.providers.http import ACCEPT_JSON, HttpFetcher, describe, live_dataset
from finch_app.providers.parsing import parse_date
from finch_app.providers.records import DataSet, InsiderTrade
from finch_app.settings import Settings

log = logging.getLogger("finch_app.providers.live")

SEC = "SEC EDGAR"
FORM4_FILINGS = 12
"""Newest Form 4 filings read per company (each holds one or more transactions)."""
SEC_CONCURRENCY = 4
"""The SEC allows 10 requests a second; four at a time stays well below it."""
LATEST_FORM4_FILINGS = 20
"""Most filings read for the market-wide latest Form 4 lines (two requests each: index, XML)."""
LATEST_FEED_COUNTS = (40, 100)
"""Entry counts EDGAR's latest-filings feed is asked for: it lists each filing once per
entity (every reporting owner, the issuer), so about two and a half entries a filing."""
FORM4_FORMS = frozenset({"4", "4/A"})

FORM4_CODES: dict[str, str] = {
    "P": "Open-market or private purchase",
    "S": "Open-market or private sale",
    "A": "Grant or award",
    "D": "Disposition to the issuer",
    "F": "Shares withheld to pay exercise price or tax",
    "I": "Discretionary transaction",
    "M": "Exercise or conversion of an exempt derivative",
    "C": "Conversion of a derivative security",
    "E": "Expiration of a short derivative position",
    "H": "Expiration or cancellation of a long derivative position",
    "O": "Exercise of an out-of-the-money derivative",
    "X": "Exercise of an in-the-money or at-the-money derivative",
    "G": "Gift",
    "L": "Small acquisition",
    "W": "Acquired or disposed of by will or the laws of descent",
    "Z": "Deposit into or withdrawal from a voting trust",
    "J": "Other acquisition or disposition",
    "K": "Equity swap or similar instrument",
    "U": "Disposition in a change-of-control tender",
}
"""What each Form 4 transaction code means (the SEC's Form 4 instructions, General Instruction 8)."""


# ---------------------------------------------------------------- EDGAR formats


class SecCompany(BaseModel):
    cik: int
    name: str


class SecCompanyIndex(BaseModel):
    """EDGAR's `company_tickers.json` as a ticker → company table."""

    by_ticker: dict[str, SecCompany]

    def find(self, ticker: str) -> SecCompany | None:
        """The company for a ticker; "BRK.B" and "BRK-B" both find Berkshire's class B."""
        wanted = ticker.strip().upper()
        return self.by_ticker.get(wanted) or self.by_ticker.get(wanted.replace(".", "-"))


@dataclass(frozen=True)
class Form4Filing:
    """One Form 4 (or 4/A) in a company's EDGAR submissions index."""

    accession_number: str
    filing_date: date | None
    form: str
    primary_document: str
    """As indexed, usually the XSL-rendered view: "xslF345X05/wk-form4_1.xml"."""

    @property
    def folder(self) -> str:
        return self.accession_number.replace("-", "")

    @property
    def xml_document(self) -> str:
        """The raw XML: the indexed document without its XSL rendering directory."""
        directory, _, name = self.primary_document.rpartition("/")
        return name if directory.startswith("xsl") else self.primary_document


def parse_company_tickers(payload: dict[str, Any]) -> SecCompanyIndex:
    """EDGAR's `files/company_tickers.json`: {"0": {"cik_str", "ticker", "title"}, …}."""
    if not isinstance(payload, dict):
        raise ValueError("company_tickers.json: expected an object")
    by_ticker: dict[str, SecCompany] = {}
    for row in payload.values():
        try:
            ticker = str(row["ticker"]).strip().upper()
            company = SecCompany(cik=int(row["cik_str"]), name=str(row.get("title") or ticker).strip())
        except (KeyError, TypeError, ValueError):
            continue
        by_ticker.setdefault(ticker, company)
    return SecCompanyIndex(by_ticker=by_ticker)


def recent_form4_filings(submissions: dict[str, Any], count: int) -> list[Form4Filing]:
    """The newest `count` Form 4 and 4/A filings of an EDGAR submissions document."""
    recent = submissions["filings"]["recent"]
    columns = zip(
        recent["accessionNumber"],
        recent["filingDate"],
        recent["form"],
        recent["primaryDocument"],
        strict=False,
    )
    filings: list[Form4Filing] = []
    for accession, filed, form, document in columns:
        if form in ("4", "4/A") and accession and document:
            filings.append(Form4Filing(accession, parse_date(filed or ""), form, document))
            if len(filings) >= count:
                break
    return filings


def _flag(element: ET.Element, path: str) -> bool:
    """Form 4 booleans come as "1"/"0" or "true"/"false"."""
    return (element.findtext(path) or "").strip().lower() in ("1", "true")


def _text_value(element: ET.Element, path: str) -> str:
    return (element.findtext(path) or "").strip()


def _number(element: ET.Element, path: str) -> float | None:
    text = _text_value(element, path).replace(",", "")
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _relationship(owner: ET.Element) -> list[str]:
    relationship = owner.find("reportingOwnerRelationship")
    if relationship is None:
        return []
    roles: list[str] = []
    if _flag(relationship, "isDirector"):
        roles.append("Director")
    if _flag(relationship, "isOfficer"):
        title = _text_value(relationship, "officerTitle")
        roles.append(f"Officer: {title}" if title else "Officer")
    if _flag(relationship, "isTenPercentOwner"):
        roles.append("10% owner")
    if _flag(relationship, "isOther"):
        roles.append(_text_value(relationship, "otherText") or "Other")
    return roles


def parse_form4(
    xml: str | bytes, filing: Form4Filing, *, ticker: str = "", filing_url: str | None = None
) -> list[InsiderTrade]:
    """The transactions (shares and derivatives; not holdings) of one Form 4 `ownershipDocument`.

    Joint filings name every reporting owner; dates like "2026-10-22-05:00" keep their
    date; a price given only as a footnote is None. Raises ValueError for anything that
    is not an ownership document.
    """
    root = ET.fromstring(xml)
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]  # some filers add a default namespace
    if root.tag != "ownershipDocument":
        raise ValueError(f"not a Form 4 ownership document (<{root.tag}>)")
    symbol = _text_value(root, "issuer/issuerTradingSymbol").upper() or ticker.upper()
    company = _text_value(root, "issuer/issuerName") or symbol
    owners = root.findall("reportingOwner")
    names = [_text_value(o, "reportingOwnerId/rptOwnerName") for o in owners]
    roles = list(dict.fromkeys(role for o in owners for role in _relationship(o)))

    trades: list[InsiderTrade] = []
    tables = (
        ("nonDerivativeTable/nonDerivativeTransaction", False),
        ("derivativeTable/derivativeTransaction", True),
    )
    for path, derivative in tables:
        for line in root.iterfind(path):
            code = _text_value(line, "transactionCoding/transactionCode").upper()
            if not code:
                continue
            acquired_disposed = _text_value(
                line, "transactionAmounts/transactionAcquiredDisposedCode/value"
            ).upper()
            ownership = _text_value(line, "ownershipNature/directOrIndirectOwnership/value").upper()
            trades.append(
                InsiderTrade(
                    ticker=symbol,
                    company=company,
                    insider="; ".join(n for n in names if n) or "Unnamed reporting owner",
                    relationship=", ".join(roles),
                    transaction_date=parse_date(_text_value(line, "transactionDate/value")[:10]),
                    code=code,
                    code_description=FORM4_CODES.get(code, "Other"),
                    security=_text_value(line, "securityTitle/value"),
                    derivative=derivative,
                    shares=_number(line, "transactionAmounts/transactionShares/value"),
                    price=_number(line, "transactionAmounts/transactionPricePerShare/value"),
                    acquired_disposed=acquired_disposed if acquired_disposed in ("A", "D") else None,
                    shares_owned_after=_number(
                        line, "postTransactionAmounts/sharesOwnedFollowingTransaction/value"
                    ),
                    direct_ownership={"D": True, "I": False}.get(ownership),
                    form=filing.form,
                    filing_date=filing.filing_date,
                    accession_number=filing.accession_number,
                    filing_url=filing_url,
                )
            )
    return trades


def newest_filings_first(trades: list[InsiderTrade]) -> list[InsiderTrade]:
    """Newest filing first, then newest transaction; undated last."""
    return sorted(
        trades, key=lambda t: (t.filing_date or date.min, t.transaction_date or date.min), reverse=True
    )


@dataclass(frozen=True)
class FeedFiling:
    """One Form 4 (or 4/A) of EDGAR's latest-filings feed, wherever it is listed more than once."""

    accession_number: str
    form: str
    cik: int
    """The CIK whose archive folder the feed links to: the issuer's when the feed lists it."""
    filing_date: date | None
    company: str
    """The issuer's name when the feed lists it, else ""."""

    @property
    def folder(self) -> str:
        return self.accession_number.replace("-", "")


_ATOM_TITLE = re.compile(
    r"^\s*(?P<form>\S+)\s+-\s+(?P<name>.*?)\s*\((?P<cik>\d+)\)\s*\((?P<role>[^)]*)\)\s*$"
)
_ARCHIVE_FOLDER = re.compile(r"/Archives/edgar/data/(?P<cik>\d+)/(?P<folder>\d{18})(?:/|$)")
_ACCESSION = re.compile(r"\b(\d{10}-\d{2}-\d{6})\b")
_FILED = re.compile(r"Filed:\s*(?:</b>)?\s*(\d{4}-\d{2}-\d{2})")


def _strip_namespaces(root: ET.Element) -> ET.Element:
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    return root


def parse_latest_form4_feed(xml: str | bytes) -> list[FeedFiling]:
    """The Form 4 and 4/A filings of EDGAR's latest-filings Atom feed
    (`cgi-bin/browse-edgar?action=getcurrent&type=4&output=atom`), newest first, each once.

    The feed has an entry per entity of a filing ("4 - COOK TIMOTHY D (0001214156)
    (Reporting)", "4 - Apple Inc. (0000320193) (Issuer)"), all with the filing's accession
    number; its `type` filter is a prefix, so other forms ("40-F", "424B2") come along and
    are dropped. Pass bytes: the feed declares its own encoding (ISO-8859-1). Raises
    ValueError (or ET.ParseError) for anything that is not an Atom feed.
    """
    root = _strip_namespaces(ET.fromstring(xml))
    if root.tag != "feed":
        raise ValueError(f"not an Atom feed (<{root.tag}>)")
    filings: dict[str, FeedFiling] = {}
    for entry in root.iterfind("entry"):
        title = _ATOM_TITLE.match(entry.findtext("title") or "")
        category = entry.find("category")
        form = (category.get("term") if category is not None else None) or (title["form"] if title else "")
        if form.strip().upper() not in FORM4_FORMS:
            continue
        links = [link.get("href") or "" for link in entry.iterfind("link")]
        folder = next((m for m in map(_ARCHIVE_FOLDER.search, links) if m), None)
        if folder is None:
            continue  # nowhere to read it from
        identifier = _ACCESSION.search(entry.findtext("id") or "") or _ACCESSION.search(
            entry.findtext("summary") or ""
        )
        if identifier is not None:
            accession = identifier[1]
        else:
            digits = folder["folder"]
            accession = f"{digits[:10]}-{digits[10:12]}-{digits[12:]}"
        filed = _FILED.search(entry.findtext("summary") or "")
        filing_date = parse_date(filed[1] if filed else (entry.findtext("updated") or "")[:10])
        is_issuer = title is not None and title["role"].strip().lower() == "issuer"
        listed = FeedFiling(
            accession_number=accession,
            form=form.strip().upper(),
            cik=int(folder["cik"]),
            filing_date=filing_date,
            company=title["name"].strip() if is_issuer and title else "",
        )
        known = filings.get(accession)
        if known is None:
            filings[accession] = listed
        elif is_issuer and not known.company:
            # Read it from the issuer's folder, under the issuer's name.
            filings[accession] = FeedFiling(
                accession, known.form, listed.cik, known.filing_date or filing_date, listed.company
            )
    return list(filings.values())


_FORM4_NAME = re.compile(r"form4|doc4|f4|ownership", re.IGNORECASE)


def form4_document(index: dict[str, Any]) -> tuple[str, str | None] | None:
    """The ownership XML of a filing's archive `index.json`, with the folder of its XSL
    rendering ("xslF345X05") when there is one; None when the filing has no XML document.

    The index: {"directory": {"name", "parent-dir", "item": [{"name", "type",
    "size", "last-modified"}, …]}}, folders typed "folder.gif".
    """
    items = index["directory"]["item"]
    if not isinstance(items, list):
        raise ValueError("index.json: expected a list of items")
    files: list[str] = []
    xsl_folder: str | None = None
    for item in items:
        if not isinstance(item, dict):
            continue
        name = str(item.get("name") or "").strip()
        if str(item.get("type") or "").startswith("folder") or item.get("type") == "dir":
            if name.lower().startswith("xsl") and xsl_folder is None:
                xsl_folder = name
        elif name.lower().endswith(".xml"):
            files.append(name)
    if not files:
        return None
    preferred = next((name for name in files if _FORM4_NAME.search(name)), files[0])
    return preferred, xsl_folder


class SecEdgar:
    """Insider transactions from SEC EDGAR (`MarketData.insider_trades` and `recent_insider_trades`)."""

    def __init__(self, settings: Settings, cache: DataCache, http: HttpFetcher) -> None:
        """
        Args:
            cache: Where EDGAR's ticker → CIK table is kept between calls and restarts.
        """
        self._settings = settings
        self._cache = cache
        self._http = http

    async def insider_trades(self, ticker: str, limit: int) -> DataSet[InsiderTrade]:
        """Transactions of the company's newest Form 4 filings, newest filing first."""
        headers = self._sec_headers()
        companies = await self._sec_companies(headers)
        wanted = ticker.strip().lstrip("$").upper()
        company = companies.find(wanted)
        if company is None:
            return live_dataset([], SEC, note=f"{SEC} lists no company with the ticker {wanted}")

        submissions_url = f"{self._settings.sec_base_url.rstrip('/')}/submissions/CIK{company.cik:010d}.json"
        response = await self._http.get(SEC, submissions_url, headers={**headers, **ACCEPT_JSON})
        filings = await self._http.json(
            SEC, response, lambda payload: recent_form4_filings(payload, FORM4_FILINGS)
        )
        documents = await asyncio.gather(*(self._form4(company, f, wanted, headers) for f in filings))
        trades = newest_filings_first([trade for document in documents for trade in document])
        note = None if filings else f"{company.name} has no recent Form 4 filings"
        return live_dataset(trades[: max(limit, 0)], SEC, note=note)

    def _sec_headers(self) -> dict[str, str]:
        contact = (self._settings.sec_contact or "").strip()
        if not contact:
            # SEC EDGAR asks every client for a contact email; the operator sets FINCH_SEC_CONTACT
            # (the settings page and the README say so). The user only hears that it is off.
            raise DataUnavailable(
                SEC,
                "Live SEC data is off on this server",
                reason="Live SEC data is off on this server",
                detail="SEC EDGAR needs a contact email in the User-Agent: set FINCH_SEC_CONTACT",
            )
        return {"User-Agent": f"Finch market assistant {contact}"}

    async def _sec_companies(self, headers: dict[str, str]) -> SecCompanyIndex:
        """EDGAR's ticker table: cached for a day; an older copy beats none if EDGAR fails."""
        key = CacheKey("sec-tickers")
        fresh = await self._cache.fresh(key, SecCompanyIndex)
        if fresh is not None:
            return fresh.value
        url = f"{self._settings.sec_www_base_url.rstrip('/')}/files/company_tickers.json"
        try:
            response = await self._http.get(SEC, url, headers={**headers, **ACCEPT_JSON})
            index = await self._http.json(SEC, response, parse_company_tickers)
        except DataUnavailable:
            stale = await self._cache.last_good(key, SecCompanyIndex)
            if stale is None:
                raise
            return stale.value
        await self._cache.put(key, index)
        return index

    async def _form4(
        self, company: SecCompany, filing: Form4Filing, ticker: str, headers: dict[str, str]
    ) -> list[InsiderTrade]:
        """One filing's transactions; a missing or unreadable document is skipped, not fatal."""
        www = self._settings.sec_www_base_url.rstrip("/")
        archive = f"{www}/Archives/edgar/data/{company.cik}/{filing.folder}"
        async with self._http.slots(SEC):
            response = await self._http.get(
                SEC,
                f"{archive}/{filing.xml_document}",
                headers={**headers, "Accept": "application/xml"},
                missing_ok=True,
            )
        if response.status_code == 404:
            log.warning("%s: Form 4 %s is missing from the archive", SEC, filing.accession_number)
            return []
        try:
            return parse_form4(
                response.content, filing, ticker=ticker, filing_url=f"{archive}/{filing.primary_document}"
            )
        except (ET.ParseError, ValueError) as error:
            log.warning("%s: skipping unreadable Form 4 %s: %s", SEC, filing.accession_number, error)
            return []

    async def recent_insider_trades(self, limit: int) -> DataSet[InsiderTrade]:
        """The latest Form 4 transactions across all companies, newest filing first.

        Reads EDGAR's latest-filings feed, then each of the newest `limit` filings (at most
        `LATEST_FORM4_FILINGS`): its archive `index.json` to find the ownership XML, and
        that XML. A filing that cannot be read is skipped and counted in the note; the call
        fails only when the feed does, or every filing does.
        """
        wanted = max(limit, 0)
        headers = self._sec_headers()
        if not wanted:
            return live_dataset([], SEC)
        reading = min(wanted, LATEST_FORM4_FILINGS)
        count = next((c for c in LATEST_FEED_COUNTS if c >= 2.5 * reading), LATEST_FEED_COUNTS[-1])
        params = {
            "action": "getcurrent",
            "type": "4",
            "company": "",
            "dateb": "",
            "owner": "include",
            "start": 0,
            "count": count,
            "output": "atom",
        }
        url = f"{self._settings.sec_www_base_url.rstrip('/')}/cgi-bin/browse-edgar"
        async with self._http.slots(SEC):
            response = await self._http.get(
                SEC, url, params=params, headers={**headers, "Accept": "application/atom+xml"}
            )
        try:
            filings = parse_latest_form4_feed(response.content)[:reading]
        except (ET.ParseError, ValueError) as error:
            log.warning("%s sent a latest-filings feed Finch cannot read: %s", SEC, describe(error))
            raise DataUnavailable(
                SEC,
                f"{SEC} sent data Finch can't read",
                reason=f"{SEC} sent unreadable data",
                detail=describe(error),
            ) from error
        if not filings:
            return live_dataset([], SEC, note=f"{SEC}'s latest-filings feed lists no Form 4 filings")

        documents = await asyncio.gather(
            *(self._latest_form4(filing, headers) for filing in filings), return_exceptions=True
        )
        failures = [d for d in documents if isinstance(d, BaseException)]
        for failure in failures:
            if not isinstance(failure, DataUnavailable):
                raise failure
        if len(failures) == len(filings):
            raise failures[0]
        # The feed's order: newest accepted filing first, each filing's lines as filed.
        trades = [trade for document in documents if isinstance(document, list) for trade in document]
        note = None
        if failures:
            unread = f"{len(failures)} of the {len(filings)} newest Form 4 filings"
            note = f"{unread} could not be read: {failures[0]}"
        return live_dataset(trades[:wanted], SEC, note=note)

    async def _latest_form4(self, filing: FeedFiling, headers: dict[str, str]) -> list[InsiderTrade]:
        """One filing of the latest-filings feed: its archive index, then its ownership XML."""
        www = self._settings.sec_www_base_url.rstrip("/")
        index_url = f"{www}/Archives/edgar/data/{filing.cik}/{filing.folder}/index.json"
        async with self._http.slots(SEC):
            response = await self._http.get(
                SEC, index_url, headers={**headers, **ACCEPT_JSON}, missing_ok=True
            )
        if response.status_code == 404:
            log.warning("%s: filing %s is missing from the archive", SEC, filing.accession_number)
            return []
        document = await self._http.json(SEC, response, form4_document)
        if document is None:
            log.warning("%s: filing %s has no XML document", SEC, filing.accession_number)
            return []
        name, xsl_folder = document
        indexed = Form4Filing(
            accession_number=filing.accession_number,
            filing_date=filing.filing_date,
            form=filing.form,
            primary_document=f"{xsl_folder}/{name}" if xsl_folder else name,
        )
        return await self._form4(SecCompany(cik=filing.cik, name=filing.company), indexed, "", headers)
