"""The SnapTrade client: register a user, open the connection portal, sync positions, disconnect.

The SDK is blocking (urllib3): every call runs in a worker thread. Its errors carry request URLs,
and SnapTrade puts `userSecret` in the query string, so they never leave this module as they
are: `BrokerageError` messages say what failed in words, with SnapTrade's own `detail` scrubbed
of secrets.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from finch_app.db import crud
from finch_app.db.engine import session_scope
from finch_app.providers.base import Position
from finch_app.providers.brokerage.errors import BrokerageError
from finch_app.providers.brokerage.secrets import SecretBox
from finch_app.providers.portfolio import MAX_HOLDINGS, HoldingError, validate_position
from finch_app.redact import redact
from finch_app.settings import Settings

log = logging.getLogger("finch.brokerage")
T = TypeVar("T")

SECURITY_KINDS = frozenset({"stock", "adr", "etf", "mutualfund", "cef", "equity"})
"""Instrument kinds that are a ticker Finch can quote; the rest (options, futures, crypto…) are skipped."""


# --- SnapTrade positions → Finch positions ------------------------------------------------------


@dataclass
class Conversion:
    positions: list[Position] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Why positions were left out → how many ("option", "cash equivalent", "short"…)."""

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value))
    except ValueError:
        return None


def positions_from_snaptrade(raw_positions: list[dict[str, Any]]) -> Conversion:
    """Positions (from every account) as Finch holdings: one per symbol, average cost merged."""
    result = Conversion()
    merged: dict[str, Position] = {}
    for raw in raw_positions:
        instrument = raw.get("instrument") or {}
        kind = str(instrument.get("kind") or "other")
        if kind not in SECURITY_KINDS:
            result.skip(kind.replace("_", " "))
            continue
        if raw.get("cash_equivalent"):
            result.skip("cash equivalent")
            continue
        units = _number(raw.get("units"))
        if units is None or units == 0:
            result.skip("no quantity")
            continue
        if units < 0:
            result.skip("short")
            continue
        cost = _number(raw.get("cost_basis"))
        name = str(instrument.get("description") or "")
        position = None
        for candidate in (instrument.get("symbol"), instrument.get("raw_symbol")):
            try:
                position = validate_position(str(candidate or ""), units, max(cost or 0.0, 0.0), name)
                break
            except HoldingError:
                continue
        if position is None:
            result.skip("unreadable symbol")
            continue
        if (earlier := merged.get(position.symbol)) is not None:
            shares = earlier.shares + position.shares
            average = (earlier.cost_basis * earlier.shares + position.cost_basis * position.shares) / shares
            position = Position(position.symbol, earlier.name or position.name, shares, round(average, 4))
        merged[position.symbol] = position
    result.positions = sorted(merged.values(), key=lambda p: p.symbol)[:MAX_HOLDINGS]
    return result


# --- the client ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    snaptrade_user_id: str
    connected_at: datetime
    last_synced_at: datetime | None


@dataclass
class SyncResult:
    positions: list[Position]
    accounts: int
    """Brokerage accounts SnapTrade knows for the user; 0 until they finish the portal."""
    skipped: dict[str, int]
    synced_at: datetime

    def summary(self) -> str:
        if not self.accounts:
            return "No brokerage account is linked yet: finish connecting in the SnapTrade window, then sync again."
        text = f"Synced {len(self.positions)} holdings from {self.accounts} account{'s' if self.accounts != 1 else ''}"
        if self.skipped:
            text += " (left out: " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) + ")"
        return text + "."


def snaptrade_user_id(user_id: str) -> str:
    """SnapTrade's id for a Finch user: derived, so stable, and without the user's name or e-mail."""
    return "finch-" + hashlib.sha256(f"finch-user:{user_id}".encode()).hexdigest()[:32]


def base_url_problem(url: str) -> str | None:
    """Why the SDK would refuse `url` as its host, or None when it is fine."""
    from snaptrade_client.configuration import check_url
    from snaptrade_client.exceptions import OpenApiException

    try:
        check_url(url.strip().rstrip("/"))
    except OpenApiException:
        return (
            "must be an http(s) URL whose host is a dotted name or an IP address, without a query "
            "(e.g. https://api.snaptrade.com or http://127.0.0.1:8080; the SDK refuses `localhost`)."
        )
    return None


def describe_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%b %d, %Y %H:%M UTC") if value else "never"


class SnapTradeLink:
    """One Finch's SnapTrade client: connect, sync and disconnect a user's brokerage."""

    def __init__(
        self,
        *,
        client_id: str,
        consumer_key: str,
        base_url: str | None = None,
        timeout_s: float = 20.0,
        box: SecretBox | Callable[[], SecretBox],
    ) -> None:
        from snaptrade_client import SnapTrade
        from snaptrade_client.auth import SnapTradeAuth
        from snaptrade_client.exceptions import OpenApiException

        self._secrets = [consumer_key]
        self._box = box
        self._locks: dict[str, asyncio.Lock] = {}
        self.timeout_s = timeout_s
        extra: dict[str, Any] = {"host": base_url.rstrip("/")} if base_url else {}
        try:
            self._client = SnapTrade(
                auth=SnapTradeAuth.commercial_api_key(consumer_key=consumer_key, client_id=client_id), **extra
            )
        except OpenApiException as exc:  # e.g. a host that is not a URL
            raise BrokerageError(f"FINCH_SNAPTRADE_BASE_URL is not usable: {exc}") from None
        self._limit_requests()

    @classmethod
    def from_settings(cls, settings: Settings) -> SnapTradeLink | None:
        """The link, or None when SnapTrade is not configured."""
        if not settings.brokerage_available:
            return None
        assert settings.snaptrade_consumer_key is not None and settings.snaptrade_client_id
        box: SecretBox | None = None

        def lazy_box() -> SecretBox:  # the key file is made when a secret is first stored or read
            nonlocal box
            if box is None:
                box = SecretBox.from_settings(settings)
            return box

        return cls(
            client_id=settings.snaptrade_client_id.strip(),
            consumer_key=settings.snaptrade_consumer_key.get_secret_value().strip(),
            base_url=(settings.snaptrade_base_url or "").strip() or None,
            timeout_s=settings.snaptrade_timeout_s,
            box=lazy_box,
        )

    def _limit_requests(self) -> None:
        """Bound every request: the SDK's public methods take no timeout (and urllib3 then waits
        forever), and retry a refused connection three times by default."""
        import urllib3

        rest = self._client.authentication.api_client.rest_client  # one ApiClient, shared by every API group
        rest.pool_manager.connection_pool_kw["retries"] = urllib3.Retry(total=1, read=0, redirect=0, status=0)
        unbounded = rest.request
        timeout = urllib3.Timeout(connect=min(self.timeout_s, 10.0), read=self.timeout_s)

        def request(*args: Any, **kwargs: Any) -> Any:
            if not kwargs.get("timeout"):
                kwargs["timeout"] = timeout
            return unbounded(*args, **kwargs)

        rest.request = request  # type: ignore[method-assign]

    @property
    def box(self) -> SecretBox:
        return self._box() if callable(self._box) else self._box

    # --- SDK calls, off the event loop -----------------------------------------------------

    def _scrub(self, text: str, extra: tuple[str, ...] = ()) -> str:
        for secret in (*self._secrets, *extra):
            if secret and len(secret) >= 4:
                text = text.replace(secret, "[redacted]")
        text = re.sub(r"(?i)(user_?secret[\"']?\s*[=:]\s*[\"']?)[^&\s\"',}]+", r"\1[redacted]", text)
        return redact(text)

    def _failure(self, doing: str, exc: BaseException, secrets: tuple[str, ...]) -> BrokerageError:
        from snaptrade_client.exceptions import ApiException

        if isinstance(exc, ApiException) and exc.status:
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = str(body.get("detail") or body.get("message") or exc.reason or "").strip()
            detail = self._scrub(detail[:300], secrets)
            code = f", code {body['code']}" if body.get("code") else ""
            status = int(exc.status)
            if status == 429:
                return BrokerageError(
                    f"SnapTrade is rate-limiting Finch while {doing}; try again in a minute."
                )
            if status >= 500:
                return BrokerageError(
                    f"SnapTrade is failing (HTTP {status}{code}) while {doing}: {detail or 'no detail'}"
                )
            return BrokerageError(f"SnapTrade refused {doing} (HTTP {status}{code}): {detail or 'no detail'}")
        if isinstance(exc, ApiException):  # status 0: the SDK's wrapper of a TLS failure
            return BrokerageError(f"SnapTrade could not be reached securely while {doing} (TLS error).")
        kind = type(exc).__name__
        reason = getattr(exc, "reason", None)
        if reason is not None and not isinstance(reason, str):
            kind = f"{kind}: {type(reason).__name__}"  # e.g. MaxRetryError: NewConnectionError
        if "timeout" in kind.lower() or "timeout" in repr(reason).lower():
            return BrokerageError(f"SnapTrade did not answer within {self.timeout_s:g} s while {doing}.")
        if "NewConnectionError" in kind or "ConnectionError" in kind or "ProtocolError" in kind:
            return BrokerageError(f"SnapTrade is unreachable while {doing} ({kind}).")
        return BrokerageError(f"SnapTrade's answer could not be used while {doing} ({kind}).")

    async def _call(self, doing: str, fn: Callable[[], T], *, secrets: tuple[str, ...] = ()) -> T:
        """Run blocking SDK work in a thread; any failure becomes a `BrokerageError` without secrets."""
        try:
            return await asyncio.to_thread(fn)
        except BrokerageError:
            raise
        except Exception as exc:  # noqa: BLE001 - urllib3, the SDK's own and validation errors alike
            error = self._failure(doing, exc, secrets)
            log.warning("SnapTrade: %s", error)
            raise error from None  # the original names the URL, which carries the user's secret

    # --- connections ------------------------------------------------------------------------

    async def connection(self, user_id: str) -> Connection | None:
        def read() -> Connection | None:
            with session_scope() as session:
                row = crud.get_brokerage_connection(session=session, user_id=user_id)
                if row is None:
                    return None
                return Connection(row.snaptrade_user_id, row.created_at, row.last_synced_at)

        return await asyncio.to_thread(read)

    async def _credentials(self, user_id: str) -> tuple[str, str] | None:
        """(SnapTrade user id, user secret) of a connected user; None when not connected."""

        def read() -> tuple[str, str] | None:
            with session_scope() as session:
                row = crud.get_brokerage_connection(session=session, user_id=user_id)
                return None if row is None else (row.snaptrade_user_id, row.encrypted_secret)

        stored = await asyncio.to_thread(read)
        if stored is None:
            return None
        return stored[0], self.box.decrypt(stored[1])

    async def _register(self, user_id: str) -> tuple[str, str]:
        remote_id = snaptrade_user_id(user_id)
        box = self.box  # a bad FINCH_SECRET_KEY fails here, before SnapTrade has a user to forget

        def register() -> dict[str, Any]:
            return self._client.authentication.register_snap_trade_user(user_id=remote_id).body

        try:
            body = await self._call("registering your Finch user", register)
        except BrokerageError as exc:
            if "already exist" in str(exc).lower():
                raise BrokerageError(
                    f"SnapTrade already has a user for this Finch account ({remote_id}) but Finch lost its secret "
                    "(its database was reset, or another Finch uses the same SnapTrade keys). Delete that user in "
                    "the SnapTrade dashboard, then connect again."
                ) from None
            raise
        secret = str(body.get("userSecret") or "") if isinstance(body, dict) else ""
        if not secret:
            raise BrokerageError("SnapTrade registered the user but sent no user secret.")
        encrypted = box.encrypt(secret)

        def store() -> None:
            with session_scope() as session:
                crud.add_brokerage_connection(
                    session=session, user_id=user_id, snaptrade_user_id=remote_id, encrypted_secret=encrypted
                )

        try:
            await asyncio.to_thread(store)
        except Exception:  # noqa: BLE001 - the database failed: undo, or SnapTrade keeps a user Finch cannot use
            log.exception("Could not store the new SnapTrade user; deleting it at SnapTrade")
            try:
                await self._call(
                    "undoing the registration",
                    lambda: self._client.authentication.delete_snap_trade_user(user_id=remote_id),
                )
            except BrokerageError:
                pass
            raise BrokerageError("Finch could not store the brokerage connection; try again.") from None
        return remote_id, secret

    def _lock(self, user_id: str) -> asyncio.Lock:
        return self._locks.setdefault(user_id, asyncio.Lock())

    async def connect_url(self, user_id: str) -> str:
        """A Connection Portal URL (valid ~5 minutes) where the user links a brokerage; the first
        call registers the user with SnapTrade and stores its secret, encrypted."""
        async with self._lock(user_id):
            credentials = await self._credentials(user_id) or await self._register(user_id)
        remote_id, secret = credentials

        def login() -> Any:
            return self._client.authentication.login_snap_trade_user(
                user_id=remote_id, user_secret=secret
            ).body

        body = await self._call("opening the connection portal", login, secrets=(secret,))
        url = body.get("redirectURI") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise BrokerageError("SnapTrade sent no connection portal link.")
        return url

    async def fetch(self, user_id: str) -> SyncResult | None:
        """The user's positions across all their brokerage accounts, now; None when not connected."""
        credentials = await self._credentials(user_id)
        if credentials is None:
            return None
        remote_id, secret = credentials
        info = self._client.account_information

        def pull() -> tuple[int, list[dict[str, Any]]]:
            accounts = info.list_all_user_accounts(user_id=remote_id, user_secret=secret).body
            investment = [
                a
                for a in (accounts.get("results") or [])
                if isinstance(a, dict) and a.get("kind", "investment") == "investment"
            ]
            raw: list[dict[str, Any]] = []
            for account in investment:
                answer = info.get_all_account_positions(
                    account_id=str(account["id"]), user_id=remote_id, user_secret=secret
                ).body
                raw.extend(p for p in (answer.get("results") or []) if isinstance(p, dict))
            return len(investment), raw

        accounts, raw = await self._call("reading your brokerage positions", pull, secrets=(secret,))
        converted = positions_from_snaptrade(raw)
        return SyncResult(converted.positions, accounts, converted.skipped, datetime.now(UTC))

    async def sync(self, user_id: str) -> SyncResult:
        """Pull the positions and keep them as the user's holdings (replacing them), unless no
        account is linked yet (then the holdings are left alone)."""
        async with self._lock(user_id):
            return await self._sync(user_id)

    async def sync_if_stale(self, user_id: str, max_age_s: float) -> SyncResult | None:
        """`sync`, unless the last one is younger than `max_age_s` (then None). Concurrent callers
        for one user wait for the sync under way and then find it fresh."""
        async with self._lock(user_id):
            connection = await self.connection(user_id)
            last = connection.last_synced_at if connection else None
            if last is not None and (datetime.now(UTC) - last).total_seconds() < max_age_s:
                return None
            return await self._sync(user_id)

    async def _sync(self, user_id: str) -> SyncResult:
        result = await self.fetch(user_id)
        if result is None:
            raise BrokerageError("No brokerage is connected yet: use “Connect brokerage” first.")
        if not result.accounts:
            return result

        def store() -> None:
            with session_scope() as session:
                crud.clear_holdings(session=session, user_id=user_id)
                for p in result.positions[:MAX_HOLDINGS]:
                    crud.upsert_holding(
                        session=session,
                        user_id=user_id,
                        symbol=p.symbol,
                        shares=p.shares,
                        cost_basis=p.cost_basis,
                        name=p.name,
                    )
                crud.mark_brokerage_synced(session=session, user_id=user_id, at=result.synced_at)

        try:
            await asyncio.to_thread(store)  # one transaction: the holdings and their sync time together
        except Exception:  # noqa: BLE001 - e.g. another worker syncing the same user at once
            log.exception("Could not keep the synced brokerage positions; they are used for this answer only")
        return result

    async def disconnect(self, user_id: str) -> None:
        """Forget the connection: SnapTrade deletes the user (and its broker links), Finch its secret.
        The holdings of the last sync stay, as ordinary holdings."""
        connection = await self.connection(user_id)
        if connection is None:
            return

        def delete_remote() -> Any:
            return self._client.authentication.delete_snap_trade_user(user_id=connection.snaptrade_user_id)

        try:
            await self._call("disconnecting your brokerage", delete_remote)
        except BrokerageError as exc:
            if "not found" not in str(exc).lower():
                raise

        def forget() -> None:
            with session_scope() as session:
                crud.delete_brokerage_connection(session=session, user_id=user_id)

        await asyncio.to_thread(forget)
