"""The FastAPI app Reflex mounts with `api_transformer`: the routes, error answers and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.routing import Route

from finch_app.agent.events import agent_event_adapter
from finch_app.api.routes import approvals, auth, chat, conversations, health, resources
from finch_app.api.security import SecurityHeaders
from finch_app.mcp.server import PATH as MCP_PATH
from finch_app.mcp.server import FinchMcpServer
from finch_app.runs.service import RunRefused


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
    problems = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        if not where:
            problems.append('the body must be a JSON object such as {"message": "..."} sent as application/json')
        else:
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
    detail = "Invalid request: " + "; ".join(dict.fromkeys(problems)) + "."
    safe = [{k: v for k, v in e.items() if k in {"type", "loc", "msg"}} for e in errors]
    return JSONResponse({"detail": detail, "errors": safe}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _with_event_schemas(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document, with the stream's events described (OpenAPI 3.2 `itemSchema`)."""
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = default()
        union = agent_event_adapter.json_schema(mode="serialization", ref_template="#/components/schemas/{model}")
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
        return document

    return openapi


def create_api() -> FastAPI:
    """The FastAPI app Reflex mounts with `api_transformer` (Reflex's own routes go below it)."""
    app = FastAPI(
        title="Finch API",
        version="0.1.0",
        summary="Chat with Finch's agent from programs; see every tool call as it happens.",
        docs_url="/api/docs",
        redoc_url="/api/redoc",
        openapi_url="/api/openapi.json",
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
    )
    for routes in (chat, approvals, conversations, resources, auth, health):
        app.include_router(routes.router)
    # Finch's tools for MCP clients (Streamable HTTP); it authenticates its callers itself.
    app.state.mcp_server = FinchMcpServer()
    mcp_route = Route(MCP_PATH, endpoint=app.state.mcp_server, methods=["GET", "POST", "DELETE"])
    app.router.routes.append(mcp_route)
    # Outermost: covers these routes and, in prod mode, Reflex's pages and assets mounted below.
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(RunRefused, _run_refused)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.openapi = _with_event_schemas(app)  # type: ignore[method-assign]
    return app
