"""`GET /api/health`: is the database (and Redis, when configured) answering?

Open to anyone (load balancers and Docker's HEALTHCHECK call it); it names what is down
and the kind of failure, never a URL, a host or a password.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from finch_app.api.deps import Context

CHECK_TIMEOUT_S = 3.0

router = APIRouter(prefix="/api", tags=["health"])


async def _redis(url: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_S, socket_timeout=CHECK_TIMEOUT_S)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _probe(work: Any) -> str:
    try:
        await asyncio.wait_for(work, timeout=CHECK_TIMEOUT_S)
    except TimeoutError:
        return "down: no answer within 3 s"
    except Exception as exc:  # noqa: BLE001 - the kind of failure is the answer
        return f"down: {type(exc).__name__}"
    return "ok"


@router.get("/health", summary="Health of the app and what it depends on")
async def health(context: Context) -> JSONResponse:
    """200 with `"status": "ok"` when every check passes; 503 naming what is down otherwise."""
    settings = context.settings
    checks = {"database": await _probe(context.reads.ping())}
    if settings.redis_url:
        checks["redis"] = await _probe(_redis(settings.redis_url))
    else:
        checks["redis"] = "not configured"
    down = [name for name, result in checks.items() if result.startswith("down")]
    body = {"status": "ok" if not down else "down", "down": down, "checks": checks}
    return JSONResponse(body, status_code=503 if down else 200, headers={"Cache-Control": "no-store"})
