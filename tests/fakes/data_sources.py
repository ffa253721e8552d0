"""One loopback server speaking the wire formats of all of Finch's live data sources.

    ApeWisdom              GET /api/v1.0/filter/{filter}/page/{n}
    House Stock Watcher    GET /house/all_transactions.json
    Senate Stock Watcher   GET /senate/all_transactions.json
    Financial Modeling Prep GET /stable/senate-latest?page=&limit=&apikey=
    Yahoo Finance          GET /v8/finance/chart/{symbol}?range=&interval=
    SEC EDGAR              GET /files/company_tickers.json, /submissions/CIK##########.json,
                           GET /cgi-bin/browse-edgar?action=getcurrent&type=4&output=atom…
                           GET /Archives/edgar/data/{cik}/{folder}/index.json
                           GET /Archives/edgar/data/{cik}/{folder}/{document}

ApeWisdom's first page and the House and Senate files are the test records in `tests/data`
(the sources' own formats, quirks included; see its README); FMP rows,
Yahoo charts and EDGAR's indexes and latest-filings feed are generated small; the Form 4
documents are the bundled sample's XML. Like the real sources, Yahoo refuses a client without a browser
User-Agent and EDGAR one without a contact in its User-Agent.

Every request is recorded (`requests`), and each route can be made to fail: a status
(429 with Retry-After included), a delay before answering, a number of times.

    with DataSourcesServer() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        server.fail("yahoo", status=429, retry_after="1", times=1)
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from finch_app.providers.sample import FORM4_FILE, SAMPLE_DIR
from tests.fakes.loopback import LoopbackServer

TEST_DATA = Path(__file__).resolve().parents[1] / "data"

ROUTES = (
    "apewisdom",
    "house",
    "senate",
    "fmp",
    "yahoo",
    "sec_tickers",
    "sec_submissions",
    "sec_latest",
    "sec_index",
    "sec_archive",
)
FMP_API_KEY = "test-fmp-key"
CHART_END = date(2026, 11, 20)
"""The last trading day of every generated Yahoo chart (a Friday)."""
_RANGE_BARS = {"5d": 5, "1mo": 21, "3mo": 63, "6mo": 126, "1y": 252, "2y": 504, "5y": 1260, "10y": 2520}


def _load(name: str) -> Any:
    return json.loads((TEST_DATA / name).read_text(encoding="utf-8"))


@dataclass
class Fault:
    status: int | None = 503
    """None answers normally (after `delay_s`)."""
    retry_after: str | None = None
    delay_s: float = 0.0
    times: int | None = None
    """How many requests fail; None: all of them until `heal()`."""


@dataclass(frozen=True)
class RecordedRequest:
    route: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    """`time.monotonic()` when the request arrived."""


@dataclass
class _Filing:
    cik: int
    accession_number: str
    filing_date: str
    form: str
    primary_document: str
    xml: str = ""
    owners: list[tuple[int, str]] = field(default_factory=list)
    """The reporting owners (CIK, name), as the filing's XML names them."""
    accepted_at: str = ""
    """EDGAR's acceptance time, ISO with the Eastern offset."""

    @property
    def folder(self) -> str:
        return self.accession_number.replace("-", "")

    @property
    def xml_document(self) -> str:
        return self.primary_document.rpartition("/")[2]

    @property
    def xsl_folder(self) -> str | None:
        directory = self.primary_document.rpartition("/")[0]
        return directory or None

    @property
    def ciks(self) -> set[int]:
        """Every CIK whose archive holds the filing: the issuer's and each reporting owner's."""
        return {self.cik, *(cik for cik, _ in self.owners)}


@dataclass
class _Company:
    cik: int
    ticker: str
    name: str
    filings: list[_Filing] = field(default_factory=list)


def _trading_days(end: date, count: int) -> list[date]:
    days: list[date] = []
    day = end
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def yahoo_chart(symbol: str, base_price: float, chart_range: str) -> dict[str, Any]:
    """A v8 chart in Yahoo's shape: daily bars up to `CHART_END`, one null close mid-range."""
    days = _trading_days(CHART_END, _RANGE_BARS.get(chart_range, 5000))
    closes: list[float | None] = [
        round(base_price * (1 + 0.02 * math.sin(i / 3) + 0.0005 * (i - len(days))), 2)
        for i in range(len(days))
    ]
    if len(closes) > 4:
        closes[len(closes) // 2] = None  # Yahoo sends null for a bar without trades
    opens = [(datetime.combine(d, datetime.min.time(), UTC) + timedelta(hours=14, minutes=30)) for d in days]
    last_close = closes[-1]
    return {
        "chart": {
            "result": [
                {
                    "meta": {
                        "currency": "USD",
                        "symbol": symbol,
                        "exchangeName": "NMS",
                        "instrumentType": "EQUITY",
                        "regularMarketTime": int(opens[-1].timestamp()) + 6 * 3600 + 1800,
                        "gmtoffset": -18000,
                        "timezone": "EST",
                        "exchangeTimezoneName": "America/New_York",
                        "regularMarketPrice": last_close,
                        "chartPreviousClose": round(base_price * 0.97, 2),
                        "priceHint": 2,
                        "dataGranularity": "1d",
                        "range": chart_range,
                    },
                    "timestamp": [int(t.timestamp()) for t in opens],
                    "indicators": {"quote": [{"close": closes}]},
                }
            ],
            "error": None,
        }
    }


def fmp_senate_rows() -> list[dict[str, Any]]:
    """A few rows in FMP `senate-latest`'s shape (ISO dates, camelCase, "" for no ticker)."""
    return [
        {
            "symbol": "NVDA",
            "disclosureDate": "2026-11-18",
            "transactionDate": "2026-11-03",
            "firstName": "Avery",
            "lastName": "Lindholm",
            "office": "Avery Lindholm",
            "district": "MN",
            "owner": "Spouse",
            "assetDescription": "NVIDIA Corporation - Common Stock",
            "assetType": "Stock",
            "type": "Purchase",
            "amount": "$15,001 - $50,000",
            "capitalGainsOver200USD": "False",
            "comment": "",
            "link": "https://efdsearch.senate.gov/search/view/ptr/00000000-0000-4000-8000-000000000001/",
        },
        {
            "symbol": "MSFT",
            "disclosureDate": "2026-11-14",
            "transactionDate": "2026-10-29",
            "firstName": "Rosa",
            "lastName": "Delacroix",
            "office": "Rosa Delacroix",
            "district": "NM",
            "owner": "Self",
            "assetDescription": "Microsoft Corp",
            "assetType": "Stock",
            "type": "Sale (Partial)",
            "amount": "$1,001 - $15,000",
            "capitalGainsOver200USD": "True",
            "comment": "",
            "link": "https://efdsearch.senate.gov/search/view/ptr/00000000-0000-4000-8000-000000000002/",
        },
        {
            "symbol": "",
            "disclosureDate": "2026-11-14",
            "transactionDate": "2026-10-30",
            "firstName": "Rosa",
            "lastName": "Delacroix",
            "office": "Rosa Delacroix",
            "district": "NM",
            "owner": "Joint",
            "assetDescription": "US Treasury Bill 4.1% 02/2027",
            "assetType": "Government Security",
            "type": "Purchase",
            "amount": "$50,001 - $100,000",
            "capitalGainsOver200USD": "False",
            "comment": "",
            "link": "https://efdsearch.senate.gov/search/view/ptr/00000000-0000-4000-8000-000000000002/",
        },
    ]


_OWNER = re.compile(r"<rptOwnerCik>\s*(\d+)\s*</rptOwnerCik>\s*<rptOwnerName>\s*([^<]*?)\s*</rptOwnerName>")


def _owners(xml: str) -> list[tuple[int, str]]:
    return [(int(cik), name) for cik, name in _OWNER.findall(xml)]


def _sample_companies() -> dict[str, _Company]:
    """The bundled Form 4 sample's companies, plus MSFT with no recent Form 4."""
    payload = json.loads((SAMPLE_DIR / FORM4_FILE).read_text(encoding="utf-8"))
    companies: dict[str, _Company] = {}
    for entry in payload["companies"]:
        cik = int(entry["cik"])
        filings = [
            _Filing(
                cik,
                f["accessionNumber"],
                f["filingDate"],
                f["form"],
                f["primaryDocument"],
                f["xml"],
                owners=_owners(f["xml"]),
                accepted_at=f"{f['filingDate']}T{16 + position % 3}:{10 + cik % 40:02d}:27-05:00",
            )
            for position, f in enumerate(entry["filings"])
        ]
        # Other forms sit between the Form 4s in a real submissions index.
        filings.append(_Filing(cik, f"{cik:010d}-26-000201", "2026-11-07", "10-Q", "q3-2026.htm"))
        filings.append(_Filing(cik, f"{cik:010d}-26-000202", "2026-10-30", "8-K", "earnings.htm"))
        filings.sort(key=lambda f: f.filing_date, reverse=True)
        companies[entry["ticker"]] = _Company(cik, entry["ticker"], entry["name"], filings)
    msft = _Company(789019, "MSFT", "MICROSOFT CORP")
    msft.filings.append(_Filing(789019, "0000950170-26-000310", "2026-10-28", "10-Q", "msft-10q.htm"))
    companies["MSFT"] = msft
    return companies


def _atom_entry(filing: _Filing, cik: int, name: str, role: str) -> str:
    """One entry of EDGAR's latest-filings feed, as it lists each entity of a filing."""
    # Absolute links to www.sec.gov, as the real feed has them, whatever host serves it.
    folder = f"https://www.sec.gov/Archives/edgar/data/{cik}/{filing.folder}"
    index = f"{folder}/{filing.accession_number}-index.htm"
    summary = (
        f" <b>Filed:</b> {filing.filing_date} <b>AccNo:</b> {filing.accession_number} "
        f"<b>Size:</b> {max(len(filing.xml) // 1024, 1)} KB"
    )
    return (
        "<entry>\n"
        f"<title>{escape(f'{filing.form} - {name} ({cik:010d}) ({role})')}</title>\n"
        f'<link rel="alternate" type="text/html" href={quoteattr(index)}/>\n'
        f'<summary type="html">{escape(summary)}</summary>\n'
        f"<updated>{filing.accepted_at}</updated>\n"
        f'<category scheme="https://www.sec.gov/" label="form type" term={quoteattr(filing.form)}/>\n'
        f"<id>urn:tag:sec.gov,2008:accession-number={filing.accession_number}</id>\n"
        "</entry>\n"
    )


def _entry_form(entry: str) -> str:
    return entry.split('term="', 1)[1].split('"', 1)[0]


_FEED_NOISE: list[tuple[_Filing, str]] = [
    # `type=4` is a prefix: the feed carries these too.
    (
        _Filing(
            1631596,
            "0001104659-26-118734",
            "2026-11-19",
            "424B2",
            "tm2631337-1_424b2.htm",
            accepted_at="2026-11-19T17:05:12-05:00",
        ),
        "Morgan Stanley Finance LLC",
    ),
    (
        _Filing(
            1000275,
            "0001193125-26-402211",
            "2026-11-18",
            "40-F",
            "d40f.htm",
            accepted_at="2026-11-18T17:30:44-05:00",
        ),
        "ROYAL BANK OF CANADA",
    ),
]


class DataSourcesServer:
    """The fake sources on one socket; point Finch at it with `env()`."""

    def __init__(self) -> None:
        self.apewisdom_pages: dict[int, dict[str, Any]] = self._apewisdom_pages()
        self.house_rows: list[dict[str, Any]] = _load("house_all_transactions.json")
        self.senate_rows: list[dict[str, Any]] = _load("senate_all_transactions.json")
        self.fmp_rows = fmp_senate_rows()
        self.yahoo_prices: dict[str, float] = {"AAPL": 268.4, "MSFT": 509.7, "NVDA": 187.9, "TSLA": 412.3}
        self.companies = _sample_companies()
        self.requests: list[RecordedRequest] = []
        self._faults: dict[str, Fault] = {}
        self._gates: dict[str, threading.Semaphore] = {}
        self._lock = threading.Lock()
        self._loopback = LoopbackServer(self._build_app(), name="fake-data-sources")

    # ---- lifecycle

    @property
    def base_url(self) -> str:
        return self._loopback.base_url

    def env(self) -> dict[str, str]:
        """The `FINCH_*_URL` settings that send every source here."""
        return {
            "FINCH_APEWISDOM_BASE_URL": self.base_url,
            "FINCH_HOUSE_TRADES_URL": f"{self.base_url}/house/all_transactions.json",
            "FINCH_SENATE_TRADES_URL": f"{self.base_url}/senate/all_transactions.json",
            "FINCH_FMP_BASE_URL": self.base_url,
            "FINCH_SEC_BASE_URL": self.base_url,
            "FINCH_SEC_WWW_BASE_URL": self.base_url,
            "FINCH_YAHOO_BASE_URL": self.base_url,
        }

    def start(self) -> DataSourcesServer:
        self._loopback.start()
        return self

    def stop(self) -> None:
        self._loopback.stop()

    def __enter__(self) -> DataSourcesServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- scripting

    def fail(
        self,
        route: str,
        *,
        status: int | None = 503,
        retry_after: str | None = None,
        delay_s: float = 0.0,
        times: int | None = None,
    ) -> None:
        """Make `route` fail (or only wait, with `status=None`) for `times` requests, or until healed."""
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; one of {ROUTES}")
        with self._lock:
            self._faults[route] = Fault(status, retry_after, delay_s, times)

    def heal(self, route: str | None = None) -> None:
        with self._lock:
            if route is None:
                self._faults.clear()
            else:
                self._faults.pop(route, None)

    def hold(self, route: str) -> None:
        """Keep requests to `route` waiting until the test lets them through with `release`."""
        with self._lock:
            self._gates[route] = threading.Semaphore(0)

    def release(self, route: str, count: int = 1) -> None:
        self._gates[route].release(count)

    def seen(self, route: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.route == route]

    # ---- HTTP

    def _build_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/v1.0/filter/{filter}/page/{page:int}", self._apewisdom),
                Route("/house/all_transactions.json", self._house),
                Route("/senate/all_transactions.json", self._senate),
                Route("/stable/senate-latest", self._fmp),
                Route("/v8/finance/chart/{symbol}", self._yahoo),
                Route("/files/company_tickers.json", self._sec_tickers),
                Route("/submissions/CIK{cik:int}.json", self._sec_submissions),
                Route("/cgi-bin/browse-edgar", self._sec_latest),
                Route("/Archives/edgar/data/{cik:int}/{folder}/index.json", self._sec_index),
                Route("/Archives/edgar/data/{cik:int}/{folder}/{document:path}", self._sec_archive),
            ]
        )

    async def _intercept(self, route: str, request: Request) -> Response | None:
        """Record the request; answer for an injected fault, if one applies."""
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    route=route,
                    path=request.url.path,
                    query=dict(request.query_params),
                    headers=dict(request.headers),
                    at=time.monotonic(),
                )
            )
            fault = self._faults.get(route)
            gate = self._gates.get(route)
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[route]
        if gate is not None:
            await asyncio.to_thread(gate.acquire)
        if fault is None:
            return None
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.status is None:
            return None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return Response(f"injected HTTP {fault.status}", status_code=fault.status, headers=headers)

    async def _apewisdom(self, request: Request) -> Response:
        if fault := await self._intercept("apewisdom", request):
            return fault
        page = request.path_params["page"]
        first = self.apewisdom_pages[1]
        empty = {"count": first["count"], "pages": first["pages"], "current_page": page, "results": []}
        return JSONResponse(self.apewisdom_pages.get(page, empty))

    async def _house(self, request: Request) -> Response:
        return await self._intercept("house", request) or JSONResponse(self.house_rows)

    async def _senate(self, request: Request) -> Response:
        return await self._intercept("senate", request) or JSONResponse(self.senate_rows)

    async def _fmp(self, request: Request) -> Response:
        if fault := await self._intercept("fmp", request):
            return fault
        if request.query_params.get("apikey") != FMP_API_KEY:
            message = (
                "Invalid API KEY. Feel free to create a Free API Key or visit "
                "https://site.financialmodelingprep.com/faqs?search=why-is-my-api-key-invalid "
                "for more information."
            )
            return JSONResponse({"Error Message": message}, status_code=401)
        page, limit = int(request.query_params.get("page", 0)), int(request.query_params.get("limit", 100))
        return JSONResponse(self.fmp_rows[page * limit : (page + 1) * limit])

    async def _yahoo(self, request: Request) -> Response:
        if fault := await self._intercept("yahoo", request):
            return fault
        if not request.headers.get("user-agent", "").startswith("Mozilla/"):
            return Response("Too Many Requests", status_code=429)  # what Yahoo says to scripts
        symbol = request.path_params["symbol"].upper()
        if symbol not in self.yahoo_prices:
            error = {"code": "Not Found", "description": "No data found, symbol may be delisted"}
            return JSONResponse({"chart": {"result": None, "error": error}}, status_code=404)
        chart_range = request.query_params.get("range", "1mo")
        return JSONResponse(yahoo_chart(symbol, self.yahoo_prices[symbol], chart_range))

    def _sec_refusal(self, request: Request) -> Response | None:
        """EDGAR blocks clients whose User-Agent does not say who to contact."""
        if "@" in request.headers.get("user-agent", ""):
            return None
        return Response(
            "Your Request Originates from an Undeclared Automated Tool",
            status_code=403,
            media_type="text/html",
        )

    async def _sec_tickers(self, request: Request) -> Response:
        if refusal := await self._intercept("sec_tickers", request) or self._sec_refusal(request):
            return refusal
        listed = [*self.companies.values(), _Company(1067983, "BRK-B", "BERKSHIRE HATHAWAY INC")]
        return JSONResponse(
            {str(i): {"cik_str": c.cik, "ticker": c.ticker, "title": c.name} for i, c in enumerate(listed)}
        )

    async def _sec_submissions(self, request: Request) -> Response:
        if refusal := await self._intercept("sec_submissions", request) or self._sec_refusal(request):
            return refusal
        cik = request.path_params["cik"]
        company = next((c for c in self.companies.values() if c.cik == cik), None)
        if company is None:
            return Response("Not Found", status_code=404)
        filings = company.filings
        recent = {
            "accessionNumber": [f.accession_number for f in filings],
            "filingDate": [f.filing_date for f in filings],
            "reportDate": [f.filing_date for f in filings],
            "acceptanceDateTime": [f"{f.filing_date}T18:30:00.000Z" for f in filings],
            "act": ["34" for _ in filings],
            "form": [f.form for f in filings],
            "fileNumber": ["" for _ in filings],
            "filmNumber": ["" for _ in filings],
            "items": ["" for _ in filings],
            "core_type": [f.form for f in filings],
            "size": [len(f.xml) or 10_000 for f in filings],
            "isXBRL": [0 for _ in filings],
            "isInlineXBRL": [0 for _ in filings],
            "primaryDocument": [f.primary_document for f in filings],
            "primaryDocDescription": [f.form for f in filings],
        }
        return JSONResponse(
            {
                "cik": str(company.cik),
                "entityType": "operating",
                "name": company.name,
                "tickers": [company.ticker],
                "exchanges": ["Nasdaq"],
                "filings": {"recent": recent, "files": []},
            }
        )

    async def _sec_archive(self, request: Request) -> Response:
        if refusal := await self._intercept("sec_archive", request) or self._sec_refusal(request):
            return refusal
        cik, folder, document = (request.path_params[k] for k in ("cik", "folder", "document"))
        filing = self._filing(cik, folder)
        if filing is not None and filing.xml_document == document and filing.xml:
            return Response(filing.xml, media_type="application/xml")
        return Response("Not Found", status_code=404)

    def _filing(self, cik: int, folder: str) -> _Filing | None:
        """A filing by its archive folder, under the issuer's CIK or a reporting owner's."""
        for company in self.companies.values():
            for filing in company.filings:
                if filing.folder == folder and cik in filing.ciks:
                    return filing
        return None

    def latest_form4s(self) -> list[_Filing]:
        """Every Form 4 and 4/A of the fake archive, newest accepted first (the feed's order)."""
        filings = [f for c in self.companies.values() for f in c.filings if f.form in ("4", "4/A")]
        return sorted(filings, key=lambda f: datetime.fromisoformat(f.accepted_at), reverse=True)

    async def _sec_latest(self, request: Request) -> Response:
        """EDGAR's latest filings (`action=getcurrent`) as its Atom feed: an entry per entity of
        each filing (every reporting owner, then the issuer), `type` matched as a prefix."""
        if refusal := await self._intercept("sec_latest", request) or self._sec_refusal(request):
            return refusal
        query = request.query_params
        if query.get("action") != "getcurrent" or query.get("output") != "atom":
            return Response("<html><body>Latest Filings</body></html>", media_type="text/html")
        wanted = query.get("type", "")
        start, count = int(query.get("start") or 0), int(query.get("count") or 40)
        entries: list[tuple[str, str]] = []  # (accepted at, entry XML)
        if query.get("owner", "include") != "exclude":  # ownership forms are listed only with owners
            for filing in self.latest_form4s():
                company = next(c for c in self.companies.values() if filing in c.filings)
                parties = [(cik, name, "Reporting") for cik, name in filing.owners]
                for cik, name, role in [*parties, (company.cik, company.name, "Issuer")]:
                    entries.append((filing.accepted_at, _atom_entry(filing, cik, name, role)))
        for filing, name in _FEED_NOISE:
            entries.append((filing.accepted_at, _atom_entry(filing, filing.cik, name, "Filer")))
        entries = [e for e in entries if _entry_form(e[1]).startswith(wanted)]
        # A stable sort: a filing's entries stay together.
        entries.sort(key=lambda e: datetime.fromisoformat(e[0]), reverse=True)
        page = entries[start : start + count]
        updated = page[0][0] if page else "2026-11-20T18:00:00-05:00"
        feed = (
            '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom">\n'
            "<title>Latest Filings - Fri, 20 Nov 2026 18:43:27 EST</title>\n"
            '<link rel="alternate" href="/cgi-bin/browse-edgar?action=getcurrent"/>\n'
            '<link rel="self" href="/cgi-bin/browse-edgar?action=getcurrent"/>\n'
            "<id>https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent</id>\n"
            "<author><name>Webmaster</name><email>webmaster@sec.gov</email></author>\n"
            f"<updated>{updated}</updated>\n" + "".join(entry for _, entry in page) + "</feed>\n"
        )
        return Response(feed.encode("latin-1"), media_type="application/atom+xml")

    async def _sec_index(self, request: Request) -> Response:
        """A filing folder's `index.json`, as EDGAR's archive lists it."""
        if refusal := await self._intercept("sec_index", request) or self._sec_refusal(request):
            return refusal
        cik, folder = request.path_params["cik"], request.path_params["folder"]
        filing = self._filing(cik, folder)
        if filing is None:
            return Response("Not Found", status_code=404)
        modified = filing.accepted_at[:19].replace("T", " ")
        items: list[dict[str, str]] = []
        if filing.xsl_folder:
            items.append({"last-modified": modified, "name": filing.xsl_folder, "type": "folder.gif"})
            items[-1]["size"] = ""
        accession = filing.accession_number
        for name, size in (
            (f"{accession}-index-headers.html", ""),
            (f"{accession}-index.html", ""),
            (f"{accession}.txt", str(len(filing.xml) + 2_400)),
            (filing.xml_document, str(len(filing.xml))),
        ):
            items.append({"last-modified": modified, "name": name, "type": "text.gif", "size": size})
        return JSONResponse(
            {
                "directory": {
                    "item": items,
                    "name": f"/Archives/edgar/data/{cik}/{folder}",
                    "parent-dir": f"/Archives/edgar/data/{cik}",
                }
            }
        )

    @staticmethod
    def _apewisdom_pages() -> dict[int, dict[str, Any]]:
        """Page 1 as ApeWisdom serves it; page 2 made of the bundled page's tickers ranked after it."""
        first = _load("apewisdom_all-stocks_page1.json")
        seen = {row["ticker"] for row in first["results"]}
        bundled = json.loads((SAMPLE_DIR / "apewisdom_all-stocks_page1.json").read_text(encoding="utf-8"))
        unseen = [row for row in bundled["results"] if row["ticker"] not in seen]
        second = [row | {"rank": 100 + position} for position, row in enumerate(unseen, start=1)]
        return {
            1: first,
            2: {"count": first["count"], "pages": first["pages"], "current_page": 2, "results": second},
        }
