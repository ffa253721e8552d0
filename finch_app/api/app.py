"""The FastAPI app Reflex mounts with `api_transformer`: the routes, error answers and the OpenAPI document."""

from __future__ import annotations

import copy
import html
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.routing import Match, Route
from starlette.types import Message, Receive, Scope, Send

from finch_app.agent.events import agent_event_adapter
from finch_app.api.routes import approvals, auth, chat, conversations, health, resources
from finch_app.api.security import SWAGGER_FILES, SWAGGER_UI, SecurityHeaders
from finch_app.mcp.endpoint import PATH as MCP_PATH
from finch_app.mcp.endpoint import McpEndpoint
from finch_app.runs.service import RunRefused
from finch_app.settings import get_settings


async def _run_refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RunRefused)
    return JSONResponse({"detail": exc.message}, status_code=exc.status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's schema errors, with a `detail` a person can act on."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        position = bad_json["loc"][-1] if len(bad_json["loc"]) > 1 else "?"
        reason = bad_json.get("ctx", {}).get("error", "JSON decode error")
        detail = f"The request body is not valid JSON ({reason} at position {position})."
        return JSONResponse({"detail": detail}, status_code=status.HTTP_400_BAD_REQUEST)
    not_text = next((e for e in errors if e.get("type") == "string_unicode"), None)
    if not_text is not None:
        where = ".".join(str(part) for part in not_text.get("loc", ()) if part != "body") or "the body"
        detail = f"{where} contains a lone surrogate (half of a UTF-16 pair), which is not text; remove it."
        return JSONResponse({"detail": detail}, status_code=status.HTTP_400_BAD_REQUEST)
    problems = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        if not where:
            problems.append(
                'the body must be a JSON object such as {"message": "..."} sent as application/json'
            )
        else:
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
    detail = "Invalid request: " + "; ".join(dict.fromkeys(problems)) + "."
    safe = [{k: v for k, v in e.items() if k in {"type", "loc", "msg"}} for e in errors]
    return JSONResponse({"detail": detail, "errors": safe}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _with_event_schemas(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document, with the stream's events described (OpenAPI 3.2 `itemSchema`), and the
    bearer token required only when accounts are on (`FINCH_AUTH=none` needs none)."""
    default = app.openapi
    documents: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        settings = get_settings()
        mode, key = settings.auth, f"{settings.auth}:{settings.max_message_chars}"
        if key in documents:
            return documents[key]
        app.openapi_schema = None
        document = copy.deepcopy(default())
        union = agent_event_adapter.json_schema(
            mode="serialization", ref_template="#/components/schemas/{model}"
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in union.pop("$defs", {}).items():
            schemas.setdefault(name, schema)
        event_names = sorted(union["discriminator"]["mapping"])
        item = {
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": {"type": "string", "enum": event_names},
                "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": union},
            },
        }
        ok = document["paths"]["/api/chat/stream"]["post"]["responses"]["200"]
        ok["content"] = {"text/event-stream": {"itemSchema": item}}
        if mode == "none":
            document["components"].pop("securitySchemes", None)
            for operations in document["paths"].values():
                for operation in operations.values():
                    operation.pop("security", None)
                    operation.get("responses", {}).pop("401", None)  # nobody signs in
        schemas["ChatRequest"]["properties"]["message"]["maxLength"] = settings.max_message_chars
        documents[key] = document
        return document

    return openapi


def _docs_page(openapi_url: str) -> HTMLResponse:
    """The interactive API docs (Swagger UI from its pinned release, integrity-checked)."""
    css, js = f"{SWAGGER_UI}swagger-ui.css", f"{SWAGGER_UI}swagger-ui-bundle.js"
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Finch API</title>
<link rel="stylesheet" href="{css}" integrity="{SWAGGER_FILES["swagger-ui.css"]}" crossorigin="anonymous">
<link rel="icon" href="/favicon.ico">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{js}" integrity="{SWAGGER_FILES["swagger-ui-bundle.js"]}" crossorigin="anonymous"></script>
<script>
SwaggerUIBundle({{url: {html.escape(repr(openapi_url))}, dom_id: "#swagger-ui", deepLinking: true}});
</script>
</body>
</html>
"""
    return HTMLResponse(page)


class ApiFallback:
    """Every `/api/...` request no route took: JSON always, never the web app's HTML 404.

    A path that exists with other methods answers 405 with an `Allow` header (OPTIONS: 204 with it),
    HEAD runs the path's GET without its body, anything else is a JSON 404."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def _match(self, scope: Scope, method: str) -> tuple[Any, Scope] | None:
        """The route (and its scope) that serves `method` on this path, if any."""
        probe = {**scope, "method": method}
        for route in self.app.router.routes:
            if getattr(route, "endpoint", None) is self:
                break  # only the API's own routes: what follows is Reflex's app
            match, child = route.matches(probe)
            if match is Match.FULL:
                return route, {**probe, **child}
        return None

    def allowed(self, scope: Scope) -> set[str]:
        methods = {m for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if self._match(scope, m) is not None}
        if "GET" in methods:
            methods.add("HEAD")
        return methods | {"OPTIONS"} if methods else set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        allowed = self.allowed(scope)
        if method == "HEAD" and "GET" in allowed:
            await self._head(scope, receive, send)
            return
        if not allowed:
            response = JSONResponse({"detail": "Not Found"}, status_code=status.HTTP_404_NOT_FOUND)
        elif method == "OPTIONS":
            response = JSONResponse(None, status_code=status.HTTP_204_NO_CONTENT)
        else:
            response = JSONResponse(
                {"detail": "Method Not Allowed"}, status_code=status.HTTP_405_METHOD_NOT_ALLOWED
            )
        if allowed:
            response.headers["Allow"] = ", ".join(sorted(allowed))
        if response.status_code == status.HTTP_204_NO_CONTENT:
            response.body = b""
            del response.headers["content-type"]
            response.headers["content-length"] = "0"
        await response(scope, receive, send)

    async def _head(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._match(scope, "GET")
        assert found is not None
        route, child = found

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await route.handle(child, receive, headers_only)


def create_api() -> FastAPI:
    """The FastAPI app Reflex mounts with `api_transformer` (Reflex's own routes go below it)."""
    app = FastAPI(
        title="Finch API",
        version="0.1.0",
        summary="Chat with Finch's agent from programs; see every tool call as it happens.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    for routes in (chat, approvals, conversations, resources, auth, health):
        app.include_router(routes.router)
    app.add_api_route("/api/docs", lambda: _docs_page("/api/openapi.json"), include_in_schema=False)
    # Finch's tools for MCP clients (Streamable HTTP); it authenticates its callers itself.
    app.state.mcp_server = McpEndpoint()
    mcp_route = Route(MCP_PATH, endpoint=app.state.mcp_server, methods=["GET", "POST", "DELETE"])
    app.router.routes.append(mcp_route)
    # Last of our routes (Reflex mounts its own app below them): no /api request reaches the web app.
    fallback = ApiFallback(app)
    app.router.routes.append(Route("/api", fallback, include_in_schema=False))
    app.router.routes.append(Route("/api/{rest:path}", fallback, include_in_schema=False))
    # Outermost: covers these routes and, in prod mode, Reflex's pages and assets mounted below.
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(RunRefused, _run_refused)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.openapi = _with_event_schemas(app)  # type: ignore[method-assign]
    return app
