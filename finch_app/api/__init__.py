"""Finch's HTTP API for programs (FastAPI), mounted into the Reflex app with `api_transformer`.

`api` serves `/api/chat`, `/api/chat/stream` (SSE), `/api/conversations` and `/api/resources`,
with the OpenAPI document at `/api/openapi.json` and interactive docs at `/api/docs`.
"""

from __future__ import annotations

from finch_app.api.app import create_api

api = create_api()

__all__ = ["api", "create_api"]
