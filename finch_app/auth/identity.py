"""Who is asking: the one answer both adapters use (Reflex states and the HTTP API).

- `FINCH_AUTH=none`: always the local user.
- `password`: the browser's `finch_session` cookie (HttpOnly, set by `POST /api/auth/login`);
  the API's `Authorization: Bearer <token>`.
- `header`: whoever the proxy names in `FINCH_AUTH_HEADER`, believed only from an address
  in `FINCH_TRUSTED_PROXIES` (otherwise ignored, with a warning in the log); the API also
  takes bearer tokens.

Every call asks the database, so a disabled user or an ended session stops working at
the next request or event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from finch_app.auth import proxy, store
from finch_app.settings import Settings

SESSION_COOKIE = "finch_session"


@dataclass(frozen=True)
class Identity:
    user_id: str
    name: str
    is_admin: bool = False


LOCAL = Identity(user_id=store.LOCAL_USER_ID, name="local", is_admin=True)


class NotSignedIn(Exception):
    """The request or event needs a signed-in user and has none."""

    def __init__(self, message: str = "Sign in to continue.") -> None:
        super().__init__(message)


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name.lower())
    if value is None:
        value = headers.get(name, "")
    return value or ""


def parse_cookies(header: str) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in cookies:
            cookies[name] = value.strip().strip('"')
    return cookies


def session_token(headers: Mapping[str, str]) -> str:
    return parse_cookies(_header(headers, "cookie")).get(SESSION_COOKIE, "")


def bearer_token(headers: Mapping[str, str]) -> str:
    scheme, _, token = _header(headers, "authorization").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _identity(account: store.Account | None) -> Identity | None:
    return Identity(account.id, account.name, account.is_admin) if account else None


def proxy_identity(settings: Settings, headers: Mapping[str, str], peer: str) -> Identity | None:
    """`header` mode: the user the proxy names, if the request came from a trusted proxy."""
    value = _header(headers, settings.auth_header).strip()
    if not value:
        return None
    if not proxy.is_trusted(peer, settings.trusted_proxies):
        proxy.warn_untrusted(peer, settings.auth_header)
        return None
    return _identity(store.header_user(value))


def browser_identity(settings: Settings, headers: Mapping[str, str], peer: str) -> Identity | None:
    """The user of a page request or websocket connection; None when signed out."""
    if settings.auth == "none":
        return LOCAL
    if settings.auth == "header":
        return proxy_identity(settings, headers, peer)
    return _identity(store.session_user(session_token(headers)))


def api_identity(settings: Settings, headers: Mapping[str, str], peer: str) -> Identity | None:
    """The user of an HTTP API request; None without valid credentials."""
    if settings.auth == "none":
        return LOCAL
    token = bearer_token(headers)
    if token:
        return _identity(store.token_user(token))
    if settings.auth == "header":
        return proxy_identity(settings, headers, peer)
    return None


def is_https(headers: Mapping[str, str], scheme: str) -> bool:
    """Whether the browser reached us over HTTPS (directly, or through a TLS-terminating proxy)."""
    forwarded = _header(headers, "x-forwarded-proto").split(",")[0].strip().lower()
    return scheme in ("https", "wss") or forwarded == "https"
