"""A fake SnapTrade API on a loopback socket, speaking the routes `snaptrade-python-sdk` calls.

Routes: `POST /snapTrade/registerUser`, `POST /snapTrade/login`, `DELETE /snapTrade/deleteUser`,
`GET /accounts/all`, `GET /accounts/{accountId}/positions/all`, and `GET /portal` (the
"connection portal" a login URL points at; `POST /portal/connect` plays the user linking a
brokerage there). Every partner request must carry the signing parts the SDK adds: `clientId`
and `timestamp` in the query and a `Signature` header (their presence is checked, not the
HMAC itself). User routes check `userId` + `userSecret`. Errors have SnapTrade's shape:
`{"detail", "status_code", "code"}`.

Tests drive it through `FakeSnapTrade`: `link(user_id, positions)` plays a user finishing the
portal, `fail_next(status, detail)` makes the next request fail, `hang_s` delays answers.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer


def stock(
    symbol: str,
    units: float,
    cost_basis: float | None,
    *,
    kind: str = "stock",
    description: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """One position as `/accounts/{id}/positions/all` returns it (numbers as decimal strings)."""
    return {
        "instrument": {
            "kind": kind,
            "id": f"instr-{symbol.lower()}",
            "symbol": symbol,
            "raw_symbol": symbol.split(":")[0],
            "description": description or f"{symbol} Inc.",
            "currency": "USD",
            "exchange": "XNAS",
        },
        "units": str(units),
        "price": "100.00",
        "cost_basis": None if cost_basis is None else str(cost_basis),
        "currency": "USD",
        **extra,
    }


def option(underlying: str, units: float) -> dict[str, Any]:
    return {
        "instrument": {
            "kind": "option",
            "id": f"opt-{underlying.lower()}",
            "symbol": f"{underlying}  261218C00200000",
            "option_type": "CALL",
            "strike_price": "200",
            "expiration_date": "2026-12-18",
            "multiplier": "100",
            "underlying": {"symbol": underlying},
        },
        "units": str(units),
        "price": "3.10",
        "cost_basis": "2.50",
        "currency": "USD",
    }


@dataclass
class FakeUser:
    secret: str
    accounts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """account id → its positions."""


@dataclass
class FakeSnapTrade:
    client_id: str = "FINCH-TEST"
    consumer_key: str = "consumer-key-0123456789abcdef"
    users: dict[str, FakeUser] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    """Every request: method, path, query, headers (lower-case names), body."""
    hang_s: float = 0.0
    _failures: list[tuple[int, str, str]] = field(default_factory=list)
    server: LoopbackServer | None = None

    # --- test controls ----------------------------------------------------------------

    def start(self) -> FakeSnapTrade:
        self.server = LoopbackServer(self.app(), name="fake-snaptrade").start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return self.server.base_url

    def link(
        self, snaptrade_user_id: str, positions: list[dict[str, Any]], *, account_id: str | None = None
    ) -> str:
        """The user finished the portal: one more brokerage account with these positions."""
        account_id = account_id or str(uuid.uuid4())  # SnapTrade's ids are UUIDs (the SDK checks)
        self.users[snaptrade_user_id].accounts[account_id] = positions
        return account_id

    def fail_next(self, status: int, detail: str, code: str = "1000") -> None:
        self._failures.append((status, detail, code))

    # --- the API --------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/snapTrade/registerUser", self._register, methods=["POST"]),
                Route("/snapTrade/login", self._login, methods=["POST"]),
                Route("/snapTrade/deleteUser", self._delete_user, methods=["DELETE"]),
                Route("/accounts/all", self._accounts, methods=["GET"]),
                Route("/accounts/{account_id}/positions/all", self._positions, methods=["GET"]),
                Route("/portal", self._portal, methods=["GET"]),
                Route("/portal/connect", self._portal_connect, methods=["POST"]),
            ]
        )

    @staticmethod
    def _error(status: int, detail: str, code: str = "1000") -> JSONResponse:
        return JSONResponse({"detail": detail, "status_code": status, "code": code}, status_code=status)

    async def _partner(self, request: Request) -> Response | None:
        """Record the request; refuse it unless it is signed and names our client."""
        body: Any = None
        raw = await request.body()
        if raw:
            try:
                body = await request.json()
            except ValueError:
                body = raw.decode(errors="replace")
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": body,
            }
        )
        if self.hang_s:
            import asyncio

            await asyncio.sleep(self.hang_s)
        if self._failures:
            status, detail, code = self._failures.pop(0)
            return self._error(status, detail, code)
        query = request.query_params
        if not request.headers.get("Signature") or not query.get("timestamp"):
            return self._error(401, "Unable to verify signature sent.", "1076")
        if query.get("clientId") != self.client_id:
            return self._error(401, "Invalid clientId.", "1077")
        return None

    def _user(self, request: Request) -> FakeUser | Response:
        user = self.users.get(request.query_params.get("userId", ""))
        if user is None:
            return self._error(404, "User not found.", "1010")
        if not secrets.compare_digest(user.secret, request.query_params.get("userSecret", "")):
            return self._error(401, "Invalid userID or userSecret provided.", "1083")
        return user

    async def _register(self, request: Request) -> Response:
        if refused := await self._partner(request):
            return refused
        body = self.requests[-1]["body"] or {}
        user_id = str(body.get("userId", ""))
        if not user_id:
            return self._error(400, "userId is required.", "1011")
        if user_id in self.users:
            return self._error(400, "User already exist.", "1010")
        self.users[user_id] = FakeUser(secret=secrets.token_urlsafe(24))
        return JSONResponse({"userId": user_id, "userSecret": self.users[user_id].secret})

    async def _login(self, request: Request) -> Response:
        if refused := await self._partner(request):
            return refused
        user = self._user(request)
        if isinstance(user, Response):
            return user
        session = secrets.token_hex(8)
        user_id = request.query_params["userId"]
        return JSONResponse(
            {"redirectURI": f"{self.base_url}/portal?user={user_id}&session={session}", "sessionId": session}
        )

    async def _delete_user(self, request: Request) -> Response:
        if refused := await self._partner(request):
            return refused
        user_id = request.query_params.get("userId", "")
        if self.users.pop(user_id, None) is None:
            return self._error(404, "User not found.", "1010")
        return JSONResponse({"status": "deleted", "detail": "User deletion queued.", "userId": user_id})

    async def _accounts(self, request: Request) -> Response:
        if refused := await self._partner(request):
            return refused
        user = self._user(request)
        if isinstance(user, Response):
            return user
        return JSONResponse(
            {
                "results": [
                    {
                        "kind": "investment",
                        "id": account_id,
                        "connection_id": str(uuid.uuid5(uuid.NAMESPACE_URL, account_id)),
                        "masked_account_number": "****" + account_id[-4:].rjust(4, "0"),
                        "sync_status": {},
                        "is_paper": False,
                        "display_name": f"Brokerage {account_id}",
                        "institution_id": "inst-1",
                        "cash_or_margin": "cash",
                        "net_value": None,
                    }
                    for account_id in user.accounts
                ]
            }
        )

    async def _positions(self, request: Request) -> Response:
        if refused := await self._partner(request):
            return refused
        user = self._user(request)
        if isinstance(user, Response):
            return user
        positions = user.accounts.get(request.path_params["account_id"])
        if positions is None:
            return self._error(404, "Account not found.", "1015")
        as_of = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return JSONResponse({"results": positions, "data_freshness": {"as_of": as_of}})

    async def _portal(self, request: Request) -> Response:
        """What a popup opened on a login URL shows: one button that links a demo brokerage."""
        user = request.query_params.get("user", "")
        return HTMLResponse(
            "<!doctype html><title>SnapTrade (fake)</title>"
            f'<form method="post" action="/portal/connect?user={user}">'
            '<button type="submit" data-testid="fake-portal-connect">Connect Fake Brokerage</button></form>'
        )

    async def _portal_connect(self, request: Request) -> Response:
        user = request.query_params.get("user", "")
        if user not in self.users:
            return HTMLResponse("unknown user", status_code=404)
        self.link(
            user,
            [
                stock("AAPL", 10, 150.0, description="Apple Inc."),
                stock("MSFT", 5, 300.0, description="Microsoft Corp."),
            ],
        )
        return HTMLResponse(
            "<!doctype html><p data-testid='fake-portal-done'>Connected. You can close this window.</p>"
        )
