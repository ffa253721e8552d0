"""HTTP hardening for every request the backend gets: pages, assets, the API, uploads and the websocket.

An ASGI middleware on the FastAPI app that Reflex mounts itself into (`api_transformer`),
so in prod mode it also covers the built frontend, `/_upload` and the `/_event` websocket
(Reflex's own app is mounted below ours). Before any route runs it

- answers only for the host names Finch is configured for (`allowed_hosts`): a web page
  that rebinds its own name to 127.0.0.1 (DNS rebinding) gets a 400, websocket included;
- refuses to serve password mode behind a proxy it was not told about (requests carrying
  `X-Forwarded-For` with `FINCH_TRUSTED_PROXIES` empty): everyone would share the proxy's
  address in the sign-in limits, so one person could lock out the company;
- drops a client-sent `asgi-scope-client` header (Reflex stores the real peer under that
  name for the websocket; nobody else may set it);
- caps `/_upload` bodies (declared and streamed) before Reflex buffers them, and notes the
  upload request's own user for the upload's handler (`auth.uploads`).

It then adds the security headers: a Content-Security-Policy that allows what the app needs
and nothing else (scripts from this origin plus the hashes of the build's own inline
scripts; no `unsafe-inline`/`unsafe-eval` for scripts, so `javascript:` URLs and injected
`<script>`/`on*=` handlers cannot run; images only from here or `data:`, so no beacons),
`frame-ancestors 'none'`, `X-Content-Type-Options`, `Referrer-Policy`, …; with accounts on,
it sends page requests without a signed-in user to `/login` (the websocket's events are
checked by the states themselves) and refuses `/_upload`.

It does not authenticate the API (`deps.current_user_id` does).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from finch_app.providers.portfolio import MAX_IMPORT_BYTES

log = logging.getLogger("finch.security")

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
MAX_UPLOAD_BYTES = MAX_IMPORT_BYTES + 64 * 1024
"""The largest `/_upload` body: the largest file Finch imports plus room for the multipart framing."""
PEER_HEADER = b"asgi-scope-client"
"""Where Reflex puts a websocket's real peer address among the tab's headers."""
WRONG_HOST = (
    "Finch does not answer for this host name (protection against DNS rebinding). If people open Finch "
    "at this address, add it to FINCH_ALLOWED_ORIGINS."
)
UNTRUSTED_PROXY = (
    "Finch is behind a proxy but FINCH_TRUSTED_PROXIES is empty, so everyone would share the proxy's "
    "address in the sign-in limits. Set FINCH_TRUSTED_PROXIES to the proxy's address (see Finch's log) "
    "and restart Finch."
)
WARN_EVERY_S = 60.0
_warned: dict[str, float] = {}

_INLINE_SCRIPT = re.compile(rb"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S | re.I)
DOCS_PATHS = ("/api/docs",)
SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0/"
"""The API docs page's Swagger UI: one pinned release, each file checked by the browser against its hash
(Subresource Integrity), so the CDN cannot hand Finch's origin other code."""
SWAGGER_FILES = {
    "swagger-ui-bundle.js": "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9",
    "swagger-ui.css": "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I",
}
PRIVATE_DOCS = (*DOCS_PATHS, "/api/openapi.json")
"""The API's documentation: pages too, so they need a signed-in user (or a token) when accounts are on."""
PUBLIC_PREFIXES = (
    "/login",
    "/api/",
    "/mcp",
    "/_event",
    "/ping",
    "/_health",
    "/assets/",
    "/_next/",
    "/favicon",
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
    """/api/docs loads Swagger UI's pinned release (integrity-checked) from its CDN, and nothing else."""
    scripts = " ".join(["'self'", SWAGGER_UI, *sorted(script_sources)])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            f"style-src 'self' 'unsafe-inline' {SWAGGER_UI}",
            "img-src 'self' data:",
            "font-src 'self' data:",
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
    """Pure ASGI (streams pass through untouched; websockets only get the host and proxy checks)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from finch_app.settings import get_settings

        settings = get_settings()
        _drop_peer_header(scope)
        refusal = _refusal(scope, settings)
        if refusal is not None:
            await _refuse(scope, send, *refusal)
            return
        if scope["type"] == "websocket":
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

        if path.startswith("/_upload") and method == "POST":
            await self._upload(scope, receive, send_with_headers, settings)
            return
        await self.app(scope, receive, send_with_headers)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, settings) -> None:  # type: ignore[no-untyped-def]
        """An upload: refused past `MAX_UPLOAD_BYTES` before Reflex buffers it; its sender noted for
        its handler."""
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            await _too_large(scope, send)
            return
        received, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_UPLOAD_BYTES:
                    over = True  # Reflex sees the client leave; the answer is ours
                    return {"type": "http.disconnect"}
            return message

        async def answer(message: Message) -> None:
            nonlocal started
            if over and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with await _upload_sender(scope, settings):
            try:
                await self.app(scope, counted, answer)
            except Exception:
                if not over:
                    raise
        if over and not started:
            await _too_large(scope, send)

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


async def _upload_sender(scope: Scope, settings) -> contextlib.AbstractContextManager[None]:  # type: ignore[no-untyped-def]
    """While Reflex handles the upload: its request's own user, under the tab's token (`auth.uploads`)."""
    import asyncio

    from finch_app.auth import LOCAL, browser_identity, uploads

    headers = Headers(scope=scope)
    token = headers.get("reflex-client-token", "")
    client = scope.get("client")
    peer = client[0] if client else ""
    if settings.auth == "none":
        identity = LOCAL
    else:
        identity = await asyncio.to_thread(browser_identity, settings, headers, peer)
    if not token or identity is None:
        return contextlib.nullcontext()
    return uploads.sending(token, identity.user_id)


# --- hosts, proxies, peers -----------------------------------------------------------------


def _host_names(origin: str) -> set[str]:
    """`host[:port]` forms a browser sends in `Host` for a page at `origin`."""
    parts = urlsplit(origin.strip())
    if not parts.hostname:
        return set()
    name = parts.netloc.rsplit("@", 1)[-1].lower()
    default = {"http": 80, "ws": 80, "https": 443, "wss": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return set()
    bare = name.rsplit(":", 1)[0] if port is not None else name
    names = {name}
    if port is None and default is not None:
        names.add(f"{name}:{default}")
    elif port == default:
        names.add(bare)
    return names


@lru_cache(maxsize=8)
def allowed_hosts(port: int, origins: tuple[str, ...]) -> frozenset[str]:
    """localhost, 127.0.0.1 and [::1] on Finch's port, and the hosts of its configured origins."""
    hosts = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == 80:
        hosts.update(LOOPBACK_NAMES)
    for origin in origins:
        hosts |= _host_names(origin)
    return frozenset(hosts)


def _configured_origins(settings) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    """FINCH_ALLOWED_ORIGINS, and where the page sends its websocket (Reflex's `api_url`: dev mode's
    backend port, or REFLEX_API_URL when several processes sit behind one address)."""
    origins = [o.strip() for o in settings.allowed_origins.split(",") if o.strip()]
    with contextlib.suppress(Exception):
        from reflex_base.config import get_config

        if api_url := get_config().api_url:
            origins.append(str(api_url))
    return tuple(origins)


def host_allowed(host: str, settings) -> bool:  # type: ignore[no-untyped-def]
    return host.strip().lower() in allowed_hosts(settings.port, _configured_origins(settings))


def _refusal(scope: Scope, settings) -> tuple[int, str] | None:  # type: ignore[no-untyped-def]
    """(status, words) for a request Finch must not serve at all, else None."""
    headers = Headers(scope=scope)
    host = headers.get("host", "")
    if not host_allowed(host, settings):
        _warn(
            f"host:{host}",
            "Refused a request for host %r: not localhost or in FINCH_ALLOWED_ORIGINS",
            host[:100],
        )
        return 400, WRONG_HOST
    if settings.auth == "password" and not settings.trusted_proxies.strip() and "x-forwarded-for" in headers:
        client = scope.get("client")
        peer = client[0] if client else "?"
        _warn(
            "proxy",
            "Requests arrive through a proxy (%s sends X-Forwarded-For) but FINCH_TRUSTED_PROXIES is empty: "
            "Finch refuses them. Set FINCH_TRUSTED_PROXIES=%s/32 (the proxy's address) and restart.",
            peer,
            peer,
        )
        return 503, UNTRUSTED_PROXY
    return None


def _drop_peer_header(scope: Scope) -> None:
    """Nobody but Reflex may name the websocket's peer (`identity_for` believes that header)."""
    headers = scope.get("headers") or []
    if any(name.lower() == PEER_HEADER for name, _ in headers):
        scope["headers"] = [(name, value) for name, value in headers if name.lower() != PEER_HEADER]


def _warn(key: str, message: str, *args: object) -> None:
    now = time.monotonic()
    if now - _warned.get(key, -WARN_EVERY_S) >= WARN_EVERY_S:
        if len(_warned) > 1000:
            _warned.clear()
        _warned[key] = now
        log.warning(message, *args)


async def _refuse(scope: Scope, send: Send, status: int, detail: str) -> None:
    """A JSON answer before any route; a websocket gets it as its handshake's answer when the server can."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if scope["type"] == "websocket":
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})
        return
    headers.append((b"cache-control", b"no-store"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _too_large(scope: Scope, send: Send) -> None:
    limit = f"{MAX_UPLOAD_BYTES / 1_000_000:.1f} MB"
    largest = f"{MAX_IMPORT_BYTES // 1_000_000} MB"
    await _refuse(
        scope, send, 413, f"The upload is larger than {limit}; Finch imports files up to {largest}."
    )


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
