"""Changes waiting for the user's yes: list them, decide one, follow the run that goes on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sse_starlette import EventSourceResponse

from finch_app.agent.approvals import Decision
from finch_app.api.deps import BoundedBodyRoute, Caller, Context, UserId, heartbeat_interval
from finch_app.api.routes.chat import follow_stream
from finch_app.api.schemas import BAD_BODY, NEEDS_USER, NOT_FOUND, DecisionIn, DecisionOut, PendingApprovalOut
from finch_app.runs import RunRefused

RUN_NOT_FOUND = "Run not found"

router = APIRouter(prefix="/api", route_class=BoundedBodyRoute, tags=["approvals"], responses=NEEDS_USER)


@router.get("/approvals", summary="The changes waiting for your approval, oldest first")
async def list_approvals(context: Context, user_id: UserId) -> list[PendingApprovalOut]:
    timeout = context.settings.approval_timeout_s
    return [PendingApprovalOut.of(p, timeout) for p in await context.reads.pending_approvals(user_id)]


@router.post(
    "/runs/{run_id}/approvals/{tool_call_id}",
    summary="Approve or deny a change a run waits for",
    responses={
        **NOT_FOUND,
        **BAD_BODY,
    },
)
async def decide(
    run_id: str, tool_call_id: str, body: DecisionIn, context: Context, caller: Caller
) -> DecisionOut:
    """Record the decision (once: deciding again changes nothing) and, when it was the last one the
    run waited for, let the run go on: follow it with `GET /api/runs/{run_id}/stream`. A denial's
    `reason` is told to the model. Someone else's run answers 404, like one that does not exist."""
    decision = Decision(
        approved=body.decision == "approve", reason=body.reason.strip(), decided_by=caller.name, via="api"
    )
    try:
        outcome = await context.runs.decide(
            user_id=caller.user_id,
            run_id=run_id,
            tool_call_id=tool_call_id,
            decision=decision,
            always_allow=body.always_allow,
        )
    except RunRefused as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, exc.message) from exc
    return DecisionOut(
        decided=outcome.decided,
        approved=outcome.approved,
        resumed=outcome.resumed,
        run_id=outcome.run_id,
        conversation_id=outcome.conversation_id,
    )


@router.get(
    "/runs/{run_id}/stream",
    response_class=EventSourceResponse,
    summary="Follow a run's events (SSE), from the start or after a given `seq`",
    responses={200: {"description": "A `text/event-stream` of agent events"}, **NOT_FOUND},
)
async def follow_run(
    run_id: str,
    context: Context,
    user_id: UserId,
    heartbeat_s: Annotated[float, Depends(heartbeat_interval)],
    after: Annotated[
        int, Query(ge=-1, description="Only events with a higher `seq` (the last one you saw)")
    ] = -1,
) -> EventSourceResponse:
    """The run's events so far, then each as it happens, until it ends (a run that went on after an
    approval streams its whole life: pass `after` to skip what you saw). Leaving does not stop it.
    A run that ended in the last two minutes replays whole, whichever worker ran it; an older one
    streams nothing (read it with `GET /api/conversations/{id}`)."""
    if not await context.reads.owns_run(user_id, run_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, RUN_NOT_FOUND)
    return follow_stream(await context.runs.follow(run_id, ended=True), heartbeat_s, after=after)
