"""The user's conversations: list (and search), read, rename, export, delete, and stop the run
answering in one."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Response, status

from finch_app.api.deps import BoundedBodyRoute, Context, UserId
from finch_app.api.downloads import attachment
from finch_app.api.schemas import (
    BAD_BODY,
    BAD_QUERY,
    NEEDS_USER,
    NOT_FOUND,
    ApiError,
    ConversationDetail,
    ConversationRename,
    ConversationSummary,
    MessageOut,
    StopResult,
    ToolCallResult,
)
from finch_app.runs.service import RunRefused

CONVERSATION_NOT_FOUND = "Conversation not found"

router = APIRouter(
    prefix="/api/conversations", route_class=BoundedBodyRoute, tags=["conversations"], responses=NEEDS_USER
)


@router.get("", summary="List conversations, most recent first", responses=BAD_QUERY)
async def list_conversations(
    context: Context,
    user_id: UserId,
    q: str = Query("", max_length=200, description="Only conversations whose title or messages contain this"),
) -> list[ConversationSummary]:
    return [ConversationSummary.of(c) for c in await context.reads.conversations(user_id, q)]


@router.get(
    "/{conversation_id}", summary="One conversation: its messages and their tool calls", responses=NOT_FOUND
)
async def get_conversation(conversation_id: str, context: Context, user_id: UserId) -> ConversationDetail:
    found = await context.reads.whole_conversation(user_id, conversation_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND)
    conversation, turns = found
    return ConversationDetail(
        **ConversationSummary.of(conversation).model_dump(),
        messages=[
            MessageOut(
                id=t.message.id,
                role=t.message.role,
                content=t.message.content,
                status=t.message.status,
                needs_auth=t.message.needs_auth,
                error=t.message.error,
                retryable=t.message.retryable,
                run_id=t.message.run_id,
                created_at=t.message.created_at,
                tool_calls=[ToolCallResult.of(c) for c in t.tool_calls],
            )
            for t in turns
        ],
    )


@router.delete(
    "/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a conversation with its messages and tool calls",
    responses=NOT_FOUND,
)
async def delete_conversation(conversation_id: str, context: Context, user_id: UserId) -> Response:
    try:
        await context.runs.delete_conversation(user_id=user_id, conversation_id=conversation_id)
    except RunRefused as exc:
        if exc.status == status.HTTP_404_NOT_FOUND:
            raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND) from exc
        raise
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{conversation_id}/stop",
    summary="Stop the run answering in a conversation (like the Stop button)",
    responses=NOT_FOUND,
)
async def stop_conversation(conversation_id: str, context: Context, user_id: UserId) -> StopResult:
    if await context.reads.conversation(user_id, conversation_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND)
    run_id = await context.runs.live_run(conversation_id) or await context.runs.waiting_run(
        user_id, conversation_id
    )
    return StopResult(stopped=bool(run_id) and await context.runs.stop(run_id))


@router.patch(
    "/{conversation_id}",
    summary="Rename a conversation",
    responses={
        **NOT_FOUND,
        **BAD_BODY,
        400: {"model": ApiError, "description": "Malformed JSON, or a title with nothing visible"},
    },
)
async def rename_conversation(
    conversation_id: str, body: ConversationRename, context: Context, user_id: UserId
) -> ConversationSummary:
    try:
        await context.runs.rename_conversation(
            user_id=user_id, conversation_id=conversation_id, title=body.title
        )
    except RunRefused as exc:
        if exc.status == status.HTTP_404_NOT_FOUND:
            raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND) from exc
        raise
    found = await context.reads.conversation(user_id, conversation_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND)
    return ConversationSummary.of(found)


@router.get(
    "/{conversation_id}/export.md",
    summary="The conversation as a Markdown document, with every table its tools saved",
    responses={**NOT_FOUND, 200: {"content": {"text/markdown": {}}}},
    response_class=Response,
)
async def export_conversation(conversation_id: str, context: Context, user_id: UserId) -> Response:
    exported = await context.reads.export(user_id, conversation_id)
    if exported is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND)
    return Response(
        content=exported.markdown,
        media_type="text/markdown; charset=utf-8",
        headers=attachment(exported.filename, fallback="finch-conversation"),
    )
