"""Sign-in and sign-out over plain HTTP form posts, so the session cookie can be HttpOnly.

`/login` (a Reflex page) posts its form to `POST /api/auth/login`; on success the answer
sets `finch_session` (HttpOnly, SameSite=Lax, Secure over HTTPS) and redirects to the page
asked for. Only browsers (whose form posts accept `text/html`) get redirects; programs get
JSON with the status the OpenAPI document declares. Both routes refuse posts from other sites
(their `Origin` must be this host).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse

from finch_app.api.schemas import ApiError, ApiModel
from finch_app.auth import SESSION_COOKIE, api_identity, browser_identity, signin, store
from finch_app.auth.identity import Identity, is_https, session_token
from finch_app.auth.proxy import is_trusted
from finch_app.settings import Settings, get_settings

log = logging.getLogger("finch.auth")

MAX_FORM_BYTES = 16 * 1024
CLEAR_STORAGE = '"storage"'
"""`Clear-Site-Data`: the tab's Reflex token (sessionStorage) goes, so no state of the
previous user is ever sent to the next one in the same tab."""

router = APIRouter(prefix="/api/auth", tags=["auth"])


class SignedIn(ApiModel):
    ok: bool = True
    next: str
    """The page to open next (the form's `next`, if it is one of Finch's own)."""


class SignedOut(ApiModel):
    ok: bool = True


class Me(ApiModel):
    name: str
    is_admin: bool
    auth: str
    """How Finch signs people in: `none`, `password` or `header`."""


_CREDENTIALS = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "password": {"type": "string"},
        "next": {"type": "string", "description": "A page of Finch's to open after signing in"},
    },
}
_ERROR = {"model": ApiError}
_REDIRECT = {"description": "Browsers (Accept: text/html): to the next page, or back to the form"}


async def answer_delay(seconds: float) -> None:
    """Waits before a wrong password's answer; tests observe it through `dependency_overrides`."""
    await asyncio.sleep(seconds)


def answer_delayer() -> Callable[[float], Awaitable[None]]:
    return answer_delay


def client_address(request: Request, settings: Settings) -> str:
    """The browser's address: the peer, or what a trusted proxy says in X-Forwarded-For."""
    peer = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-for", "")
    if forwarded and settings.trusted_proxies and is_trusted(peer, settings.trusted_proxies):
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return peer


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith("/login"):
        return "/"
    return target


def _same_origin(request: Request) -> bool:
    """Whether a browser sent this from one of our own pages (programs send no Origin)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or (origin == "null" and site == "same-origin"):
        return True
    allowed = {o.rstrip("/") for o in get_settings().cors_origins}
    return urlsplit(origin).netloc == request.headers.get("host", "") or origin.rstrip("/") in allowed


def _wants_json(request: Request) -> bool:
    """Programs get JSON; a browser's form post (which accepts HTML) gets redirects."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept or "text/html" not in accept


async def _form(request: Request) -> dict[str, str]:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "The form is too large.")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = {}
        return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _cookie_secure(request: Request, settings: Settings) -> bool:
    if settings.cookie_secure != "auto":
        return settings.cookie_secure == "always"
    return is_https(request.headers, request.url.scheme)


@router.post(
    "/login",
    summary="Sign in with a name and password (sets the session cookie)",
    response_model=SignedIn,
    responses={
        303: _REDIRECT,
        401: {**_ERROR, "description": "Wrong name or password"},
        403: {**_ERROR, "description": "Posted from another site"},
        404: {**_ERROR, "description": "Password sign-in is not enabled (FINCH_AUTH is not `password`)"},
        413: {**_ERROR, "description": "The form is too large"},
        429: {**_ERROR, "description": "Too many failed sign-ins: wait `Retry-After` seconds"},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {"schema": _CREDENTIALS},
                "application/json": {"schema": _CREDENTIALS},
            }
        }
    },
)
async def login(
    request: Request, delay: Annotated[Callable[[float], Awaitable[None]], Depends(answer_delayer)]
) -> Response:
    settings = get_settings()
    if settings.auth != "password":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Sign-in with a password is not enabled.")
    if not _same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Cross-site sign-in refused.")
    form = await _form(request)
    target = safe_next(form.get("next"))
    address = client_address(request, settings)
    result = await asyncio.to_thread(
        signin.sign_in, settings, form.get("name", ""), form.get("password", ""), address
    )
    if result.token is None:
        if result.delay_s:
            await delay(result.delay_s)
        log.info("Refused a sign-in from %s (%s)", address or "?", result.error)
        code = status.HTTP_429_TOO_MANY_REQUESTS if result.error == "locked" else status.HTTP_401_UNAUTHORIZED
        headers = {"Retry-After": str(result.retry_after_s)} if result.retry_after_s else {}
        if _wants_json(request):
            return JSONResponse({"detail": result.message}, status_code=code, headers=headers)
        minutes = f"&m={max(1, -(-result.retry_after_s // 60))}" if result.retry_after_s else ""
        location = f"/login?error={result.error}{minutes}&next={quote(target, safe='/')}"
        return RedirectResponse(location, status_code=status.HTTP_303_SEE_OTHER, headers=headers)
    response: Response
    if _wants_json(request):
        response = JSONResponse(SignedIn(next=target).model_dump())
    else:
        response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=int(settings.session_days * 86400),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_cookie_secure(request, settings),
    )
    response.headers["Clear-Site-Data"] = CLEAR_STORAGE
    return response


@router.post(
    "/logout",
    summary="Sign out (ends the session)",
    response_model=SignedOut,
    responses={303: _REDIRECT, 403: {**_ERROR, "description": "Posted from another site"}},
)
async def logout(request: Request) -> Response:
    settings = get_settings()
    if not _same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Cross-site sign-out refused.")
    token = session_token(request.headers)
    if token:
        await asyncio.to_thread(store.end_session, token)
    response: Response
    if _wants_json(request):
        response = JSONResponse(SignedOut().model_dump())
    else:
        response = RedirectResponse("/login?signed_out=1", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_cookie_secure(request, settings)
    )
    response.headers["Clear-Site-Data"] = CLEAR_STORAGE
    return response


def _browser_user(request: Request) -> Identity | None:
    settings = get_settings()
    return browser_identity(settings, request.headers, request.client.host if request.client else "")


@router.get(
    "/me",
    summary="Who is signed in (the browser's session, or the API token)",
    response_model=Me,
    responses={401: {**_ERROR, "description": "Nobody is signed in"}},
)
def me(request: Request, user: Annotated[Identity | None, Depends(_browser_user)]) -> Response:
    settings = get_settings()
    if user is None:
        user = api_identity(settings, request.headers, request.client.host if request.client else "")
    if user is None:
        return JSONResponse({"detail": "Unauthorized"}, status_code=status.HTTP_401_UNAUTHORIZED)
    return JSONResponse(Me(name=user.name, is_admin=user.is_admin, auth=settings.auth).model_dump())
