"""The results a conversation's tools saved: lists, one with its rows, and CSV downloads."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from finch_app.api.deps import BrowserOrUserId, Context, UserId
from finch_app.api.downloads import attachment
from finch_app.api.routes.conversations import CONVERSATION_NOT_FOUND
from finch_app.api.schemas import NEEDS_USER, NOT_FOUND, ResourceColumnOut, ResourceDetail, ResourceInfo
from finch_app.reads import summarize
from finch_app.tables import to_csv

RESOURCE_NOT_FOUND = "Resource not found"

router = APIRouter(prefix="/api", tags=["resources"], responses=NEEDS_USER)


@router.get(
    "/conversations/{conversation_id}/resources",
    summary="The results a conversation's tools saved, newest first (without rows)",
    responses=NOT_FOUND,
)
async def list_conversation_resources(
    conversation_id: str, context: Context, user_id: UserId
) -> list[ResourceInfo]:
    found = await context.reads.resources(user_id, conversation_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND)
    return [ResourceInfo.of(s) for s in found]


@router.get(
    "/resources/{resource_id}.csv",
    summary="A saved result as CSV (safe to open in a spreadsheet)",
    description="Takes a bearer token, or the signed-in browser's session when the link is followed "
    "from Finch's own pages (the Results panel's **Download CSV**).",
    responses={**NOT_FOUND, 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    response_class=Response,
)
async def resource_csv(resource_id: str, context: Context, user_id: BrowserOrUserId) -> Response:
    resource = await context.reads.resource(user_id, resource_id)
    if resource is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, RESOURCE_NOT_FOUND)
    return Response(
        content="\ufeff" + to_csv(resource.columns, resource.rows),  # the BOM makes spreadsheets read UTF-8
        media_type="text/csv; charset=utf-8",
        headers=attachment(f"{resource.title.strip() or 'finch-result'}.csv", fallback="finch-result"),
    )


@router.get(
    "/resources/{resource_id}", summary="A saved result with its columns and rows", responses=NOT_FOUND
)
async def get_resource(resource_id: str, context: Context, user_id: UserId) -> ResourceDetail:
    resource = await context.reads.resource(user_id, resource_id)
    if resource is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, RESOURCE_NOT_FOUND)
    return ResourceDetail(
        **ResourceInfo.of(summarize(resource)).model_dump(),
        columns=[ResourceColumnOut(**c) for c in resource.columns],
        rows=resource.rows,
    )
