"""What every route depends on: the app's parts, the caller, and a bound on request bodies.

Tests replace `get_context` and `heartbeat_interval` with `app.dependency_overrides`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from finch_app.auth import Identity, api_identity, browser_identity
from finch_app.context import AppContext, app_context
from finch_app.settings import get_settings

HEARTBEAT_S = 15.0
"""Seconds between `: ping` comments, so idle proxies keep the stream open."""
MAX_BODY_BYTES = 256 * 1024
"""Far above the longest allowed message, even JSON-escaped; bigger bodies get a JSON 413."""
UNAUTHORIZED = "Unauthorized"


def get_context() -> AppContext:
    """The app's parts (run service, read side…)."""
    return app_context()


bearer = HTTPBearer(
    auto_error=False,
    description="A personal API token (`python -m finch_app tokens create`, or the Settings page).",
)
"""Declares the token in the OpenAPI document; `api_identity` reads it."""


def current_identity(
    request: Request, _token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None
) -> Identity:
    """The caller: the local user (`FINCH_AUTH=none`), a bearer token's owner, or (header
    mode) the trusted proxy's user. Anything else is a 401 that does not say why."""
    peer = request.client.host if request.client else ""
    identity = api_identity(get_settings(), request.headers, peer)
    if identity is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
        )
    return identity


def current_user_id(identity: Annotated[Identity, Depends(current_identity)]) -> str:
    """The caller's user id (see `current_identity`)."""
    return identity.user_id


def same_site_browser(request: Request) -> bool:
    """Whether a browser sent this from one of Finch's own pages (or the user typed the address):
    its Fetch Metadata says so, and any `Origin` is this host. Cross-site requests carry the
    session cookie on top-level GETs (SameSite=Lax): they must not be believed."""
    site = request.headers.get("sec-fetch-site")
    if site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host", "")


def current_user_or_browser_id(
    request: Request, _token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None
) -> str:
    """Like `current_user_id`, and the signed-in browser too when it asks from Finch's own pages
    (downloads are plain links: they cannot send a bearer token)."""
    peer = request.client.host if request.client else ""
    settings = get_settings()
    identity = api_identity(settings, request.headers, peer)
    if identity is None and same_site_browser(request):
        identity = browser_identity(settings, request.headers, peer)
    if identity is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
        )
    return identity.user_id


def heartbeat_interval() -> float:
    """Seconds between heartbeat comments on a stream."""
    return HEARTBEAT_S


Context = Annotated[AppContext, Depends(get_context)]
UserId = Annotated[str, Depends(current_user_id)]
Caller = Annotated[Identity, Depends(current_identity)]
BrowserOrUserId = Annotated[str, Depends(current_user_or_browser_id)]


class BoundedBodyRoute(APIRoute):
    """Refuses bodies over `MAX_BODY_BYTES` with a JSON 413, before parsing them.

    (FastAPI's own `max_body_size` answers a too-large `Content-Length` in plain text.)
    """

    def get_route_handler(self) -> Callable[[Request], Any]:
        handle = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                raise _too_large()
            body = bytearray()
            async for chunk in request.stream():  # chunked bodies have no Content-Length
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise _too_large()
            # Starlette's cache of the body: FastAPI's `request.body()` returns it from now on.
            request._body = bytes(body)
            return await handle(request)

        return bounded


def _too_large() -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE, f"The request body is larger than {MAX_BODY_BYTES:,} bytes."
    )
