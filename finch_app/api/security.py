"""HTTP hardening for every response the backend sends: pages, assets and the API.

An ASGI middleware on the FastAPI app that Reflex mounts itself into (`api_transformer`),
so in prod mode it also covers the built frontend. It

- adds the security headers: a Content-Security-Policy that allows what the app needs
  and nothing else (scripts from this origin plus the hashes of the build's own inline
  scripts; no `unsafe-inline`/`unsafe-eval` for scripts, so `javascript:` URLs and
  injected `<script>`/`on*=` handlers cannot run; images only from here or `data:`, so
  no beacons), `frame-ancestors 'none'`, `X-Content-Type-Options`, `Referrer-Policy`, …;
- with accounts on, sends page requests without a signed-in user to `/login` (the
  websocket's events are checked by the states themselves) and refuses `/_upload`.

It does not authenticate the API (`routes.current_user_id` does).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_INLINE_SCRIPT = re.compile(rb"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S | re.I)
DOCS_PATHS = ("/api/docs", "/api/redoc")
DOCS_CDN = "https://cdn.jsdelivr.net"
PRIVATE_DOCS = (*DOCS_PATHS, "/api/openapi.json")
"""The API's documentation: pages too, so they need a signed-in user (or a token) when accounts are on."""
PUBLIC_PREFIXES = (
    "/login", "/api/", "/mcp", "/_event", "/ping", "/_health", "/assets/", "/_next/", "/favicon"
)
"""Paths any visitor may load; every other page needs a signed-in user when accounts are on.
(`/mcp` authenticates its callers itself: finch_app/mcp/server.py.)"""


def script_hashes(html: bytes) -> set[str]:
    """CSP source expressions for the inline scripts of one HTML document."""
    hashes = set()
    for match in _INLINE_SCRIPT.finditer(html):
        if b"src=" in match.group("attrs").lower():
            continue
        digest = hashlib.sha256(match.group("body")).digest()
        hashes.add(f"'sha256-{base64.b64encode(digest).decode()}'")
    return hashes


def _static_dir() -> Path | None:
    try:
        from reflex.utils import prerequisites
        from reflex_base import constants

        return prerequisites.get_web_dir() / constants.Dirs.STATIC
    except Exception:  # noqa: BLE001 - no build, no inline scripts to allow
        return None


@lru_cache(maxsize=4)
def _build_hashes(directory: str, stamp: float) -> frozenset[str]:
    hashes: set[str] = set()
    for page in Path(directory).rglob("*.html"):
        try:
            hashes |= script_hashes(page.read_bytes())
        except OSError:
            continue
    return frozenset(hashes)


def frontend_script_hashes() -> frozenset[str]:
    """Hashes of the inline scripts in the built frontend (recomputed after a rebuild)."""
    directory = _static_dir()
    index = directory / "index.html" if directory else None
    if index is None or not index.exists():
        return frozenset()
    return _build_hashes(str(directory), index.stat().st_mtime)


def app_csp(script_sources: Iterable[str]) -> str:
    scripts = " ".join(["'self'", *sorted(script_sources)])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            # Emotion (Reflex's style props) and Radix add style elements at run time.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "media-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def docs_csp(script_sources: Iterable[str]) -> str:
    """FastAPI's /api/docs and /api/redoc load Swagger UI / ReDoc from their CDN."""
    scripts = " ".join(["'self'", DOCS_CDN, *sorted(script_sources)])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            f"style-src 'self' 'unsafe-inline' {DOCS_CDN} https://fonts.googleapis.com",
            f"img-src 'self' data: {DOCS_CDN} https://fastapi.tiangolo.com",
            "font-src 'self' data: https://fonts.gstatic.com",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it, browsers send `Origin: null` on our own form posts.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def _is_page(path: str) -> bool:
    if path.startswith(PUBLIC_PREFIXES):
        return False
    last = path.rsplit("/", 1)[-1]
    return "." not in last or last.endswith(".html")


class SecurityHeaders:
    """Pure ASGI (streams pass through untouched; websockets are not touched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        guard = await self._guard(scope, path, method)
        if guard is not None:
            await guard(scope, receive, send)
            return
        if path.startswith(DOCS_PATHS):
            await self._buffered_docs(scope, receive, send)
            return
        https = _scope_https(scope)
        csp = app_csp(frontend_script_hashes())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                _apply(headers, csp, https, api=path.startswith("/api/"))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _guard(self, scope: Scope, path: str, method: str):  # type: ignore[no-untyped-def]
        """A response for requests that need a signed-in user and have none (else None)."""
        from finch_app.settings import get_settings

        settings = get_settings()
        if settings.auth == "none":
            return None
        is_page = method in ("GET", "HEAD") and (_is_page(path) or path.startswith(PRIVATE_DOCS))
        is_upload = path.startswith("/_upload")
        if not (is_page or is_upload):
            return None
        if await _signed_in(scope, settings, tokens=path.startswith(PRIVATE_DOCS)):
            return None
        from starlette.responses import JSONResponse, RedirectResponse

        if is_upload:
            response = JSONResponse({"detail": "Unauthorized"}, status_code=401)
        else:
            query = scope.get("query_string", b"").decode("latin-1")
            target = path + (f"?{query}" if query else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
        _apply(response.headers, app_csp(()), _scope_https(scope), api=True)
        return response

    async def _buffered_docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        body = bytearray()

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, collect)
        assert start is not None
        headers = MutableHeaders(scope=start)
        _apply(headers, docs_csp(script_hashes(bytes(body))), _scope_https(scope), api=False)
        headers["Content-Length"] = str(len(body))
        await send(start)
        await send({"type": "http.response.body", "body": bytes(body)})


async def _signed_in(scope: Scope, settings, *, tokens: bool = False) -> bool:  # type: ignore[no-untyped-def]
    """A browser's session (or proxy header); with `tokens`, an API token does as well."""
    import asyncio

    from finch_app.auth import api_identity, browser_identity

    headers = Headers(scope=scope)
    client = scope.get("client")
    peer = client[0] if client else ""
    if await asyncio.to_thread(browser_identity, settings, headers, peer) is not None:
        return True
    return tokens and await asyncio.to_thread(api_identity, settings, headers, peer) is not None


def _scope_https(scope: Scope) -> bool:
    from finch_app.auth.identity import is_https

    return is_https(Headers(scope=scope), scope.get("scheme", "http"))


def _apply(headers: MutableHeaders, csp: str, https: bool, *, api: bool) -> None:
    headers["Content-Security-Policy"] = csp
    for name, value in BASE_HEADERS.items():
        headers[name] = value
    if https:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if api and "cache-control" not in headers:
        headers["Cache-Control"] = "no-store"
