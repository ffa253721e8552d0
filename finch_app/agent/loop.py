"""The agent loop: model round → tool calls (concurrent) → results back → next round.

Owns the order of events and the fate of every tool task: each `tool_call_start` is
yielded before its tool body runs, each task ends in exactly one `tool_call_complete`
(or is cancelled and awaited when the consumer goes away), and every stream ends with
exactly one `done` or `error`. Knows nothing of Reflex, HTTP or storage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic

from pydantic import BaseModel

from finch_app.agent.approvals import (
    ApprovalRule,
    Decision,
    PendingCall,
    ResumeState,
    ask_when_data_changes,
    denied_result,
)
from finch_app.agent.events import (
    AgentEvent,
    AssistantMessage,
    Done,
    Error,
    EventStamp,
    ResourceSaved,
    Token,
    ToolApprovalDecided,
    ToolApprovalRequired,
    ToolCallComplete,
    ToolCallProgress,
    ToolCallStart,
)
from finch_app.agent.model import (
    ChatMessage,
    ChatModel,
    ModelError,
    TextDelta,
    ToolCallRequest,
)
from finch_app.agent.resources import (
    ResourceDraft,
    ResourceSink,
    SavedResource,
    resource_note,
    result_resource,
)
from finch_app.agent.status import ToolStatus
from finch_app.agent.tools import (
    DepsT,
    ToolArgumentError,
    ToolContext,
    ToolError,
    ToolRegistry,
    ToolSpec,
    result_needs_auth,
    result_summary,
    result_to_text,
)

log = logging.getLogger(__name__)

CANCELLED_TOOL_RESULT = "Cancelled: the user stopped this run before the tool finished."


@dataclass
class _Finished:
    call: ToolCallRequest
    result: Any = None
    error: str | None = None
    duration_ms: int = 0
    resource_id: str | None = None
    resource_title: str | None = None


@dataclass
class _Saved:
    call_id: str
    saved: SavedResource


@dataclass
class _Progress:
    call_id: str
    message: str
    fraction: float | None


@dataclass
class Agent(Generic[DepsT]):
    """A model, the tools it may call and their dependencies."""

    model: ChatModel
    registry: ToolRegistry
    deps: DepsT
    system_prompt: str
    max_rounds: int = 6
    tool_result_max_chars: int = 50_000

    async def run(
        self,
        *,
        history: list[ChatMessage],
        user_message: str,
        stamp: EventStamp,
        user_id: str,
        resources: ResourceSink | None = None,
        needs_approval: ApprovalRule = ask_when_data_changes,
    ) -> AsyncIterator[AgentEvent]:
        """Answer `user_message` given the earlier conversation, as a stream of events.

        Args:
            stamp: Numbers the events; the run's owner shares it, so its own events
                (`run_started`, the closing ones of a stopped run) take their place in order.
            resources: Where tool results are kept as resources; None keeps nothing.
            needs_approval: Which calls wait for the user's yes (a round with one pauses the run).
        """
        messages = [
            ChatMessage(role="system", content=self.system_prompt),
            *history,
            ChatMessage(role="user", content=user_message),
        ]
        rounds = self._rounds(messages, ResumeState(), stamp, user_id, resources, needs_approval)
        async with aclosing(rounds) as events:
            async for event in events:
                yield event

    async def resume(
        self,
        *,
        history: list[ChatMessage],
        user_message: str,
        state: ResumeState,
        decisions: dict[str, Decision],
        stamp: EventStamp,
        user_id: str,
        resources: ResourceSink | None = None,
        needs_approval: ApprovalRule = ask_when_data_changes,
    ) -> AsyncIterator[AgentEvent]:
        """Go on with a paused run once every waiting call has a decision: approved calls run now,
        denied ones tell the model so; then the next model round, exactly as if it had never paused."""
        messages = [
            ChatMessage(role="system", content=self.system_prompt),
            *history,
            ChatMessage(role="user", content=user_message),
            *state.messages,
        ]
        results = dict(state.results)
        needs_auth_calls: set[str] = set()
        approved: list[tuple[ToolCallRequest, ToolSpec, BaseModel]] = []
        for pending in state.pending:
            call, decision = pending.call, decisions[pending.call.id]
            yield ToolApprovalDecided(
                **stamp(),
                tool_call_id=call.id,
                approved=decision.approved,
                reason=decision.reason,
                decided_by=decision.decided_by,
                via=decision.via,
            )
            spec = self.registry.get(call.name)
            if decision.approved and spec is not None:
                approved.append((call, spec, spec.parse_arguments(call.arguments)))
                continue
            if decision.approved:
                # Approved, but its tool is gone meanwhile (e.g. another server's tool list changed).
                error = f"The tool {call.name} is no longer available, so it did not run."
                results[call.id] = f"Error: {error}"
            else:
                error = decision.reason or "Not approved"
                results[call.id] = denied_result(decision.reason)
            yield ToolCallComplete(
                **stamp(),
                tool_call_id=call.id,
                tool_name=call.name,
                status=ToolStatus.DENIED if not decision.approved else ToolStatus.ERROR,
                duration_ms=0,
                error=error,
                output=results[call.id],
            )
        if approved:
            async with aclosing(
                self._execute(approved, stamp, user_id, results, needs_auth_calls, resources)
            ) as events:
                async for event in events:
                    yield event
        paused_round = next(m for m in reversed(messages) if m.role == "assistant" and m.tool_calls)
        messages.extend(
            ChatMessage(role="tool", tool_call_id=call.id, name=call.name, content=results[call.id])
            for call in paused_round.tool_calls
        )
        needs_auth = (state.needs_auth or bool(needs_auth_calls)) and not self._changed_data(
            approved, results
        )
        carried = ResumeState(answer=state.answer, needs_auth=needs_auth, rounds=state.rounds)
        rounds = self._rounds(messages, carried, stamp, user_id, resources, needs_approval)
        async with aclosing(rounds) as events:
            async for event in events:
                yield event

    async def call(
        self,
        *,
        call: ToolCallRequest,
        stamp: EventStamp,
        user_id: str,
        resources: ResourceSink | None = None,
    ) -> AsyncIterator[AgentEvent]:
        """One tool call asked for directly, not by the model (another program calling Finch's tool):
        its events as in any run, then an answer that is the call's outcome in one line. No model
        round and no approval: callers may only be offered tools that read."""
        results: dict[str, str] = {}
        outcome: ToolCallComplete | None = None
        tools = self._run_tools([call], stamp, user_id, results, set(), resources, _never_ask, [])
        async with aclosing(tools) as events:
            async for event in events:
                if isinstance(event, ToolCallComplete):
                    outcome = event
                yield event
        if outcome is None or outcome.status != ToolStatus.COMPLETED:
            content = f"Error: {outcome.error if outcome else 'the call did not run'}"
        else:
            content = outcome.summary or "Done."
        yield AssistantMessage(**stamp(), content=content)
        yield Done(**stamp())

    async def _rounds(
        self,
        messages: list[ChatMessage],
        carried: ResumeState,
        stamp: EventStamp,
        user_id: str,
        resources: ResourceSink | None,
        needs_approval: ApprovalRule,
    ) -> AsyncIterator[AgentEvent]:
        """Model rounds from `carried.rounds` on, until an answer, an error, a pause or the limit."""
        question_at = max(i for i, m in enumerate(messages) if m.role == "user")
        answer = carried.answer
        needs_auth = carried.needs_auth
        for round_number in range(carried.rounds, self.max_rounds):
            round_text = ""
            calls: list[ToolCallRequest] = []
            try:
                async with aclosing(self.model.stream(messages, self.registry.schemas())) as outputs:
                    async for output in outputs:
                        if isinstance(output, TextDelta):
                            if not output.text:
                                continue
                            if answer and not round_text:
                                # Keep text of separate rounds apart in the streamed answer too.
                                yield Token(**stamp(), text="\n\n")
                                answer += "\n\n"
                            round_text += output.text
                            answer += output.text
                            yield Token(**stamp(), text=output.text)
                        else:
                            calls.append(output)
            except ModelError as exc:
                yield Error(**stamp(), error=exc.message, details=exc.details, retryable=exc.retryable)
                return
            except Exception as exc:  # a bug or an unexpected client failure
                log.exception("The model failed unexpectedly")
                yield Error(
                    **stamp(),
                    error="The model failed unexpectedly. Try again; if it keeps happening, tell whoever runs Finch.",
                    details=f"{type(exc).__name__}: {exc}",
                    retryable=True,
                )
                return
            if not calls:
                yield AssistantMessage(**stamp(), content=answer, needs_auth=needs_auth)
                yield Done(**stamp())
                return
            messages.append(ChatMessage(role="assistant", content=round_text or None, tool_calls=calls))
            results: dict[str, str] = {}
            needs_auth_calls: set[str] = set()
            pending: list[PendingCall] = []
            # aclosing: if our consumer goes away, the tool tasks are cancelled now, not at GC.
            tools = self._run_tools(
                calls, stamp, user_id, results, needs_auth_calls, resources, needs_approval, pending
            )
            async with aclosing(tools) as events:
                async for event in events:
                    yield event
            needs_auth = needs_auth or bool(needs_auth_calls)
            ran = [(c, spec, None) for c in calls if (spec := self.registry.get(c.name)) is not None]
            if self._changed_data(ran, results):
                needs_auth = (
                    False  # e.g. the user's first holding was just added: the portfolio is no longer missing
                )
            if pending:
                state = ResumeState(
                    messages=messages[question_at + 1 :],
                    answer=answer,
                    needs_auth=needs_auth,
                    rounds=round_number + 1,
                    results=results,
                    pending=pending,
                )
                yield Done(**stamp(), status="awaiting_approval", resume=state)
                return
            for call in calls:
                messages.append(
                    ChatMessage(role="tool", tool_call_id=call.id, name=call.name, content=results[call.id])
                )
        note = (
            f"I stopped after {self.max_rounds} rounds of tool calls without reaching a "
            "final answer. Try asking a narrower question."
        )
        separator = "\n\n" if answer else ""
        yield Token(**stamp(), text=separator + note)
        yield AssistantMessage(**stamp(), content=answer + separator + note, needs_auth=needs_auth)
        yield Done(**stamp())

    @staticmethod
    def _changed_data(calls: list[tuple[ToolCallRequest, ToolSpec, Any]], results: dict[str, str]) -> bool:
        """Whether a call that changes the user's data ran and succeeded."""
        return any(
            spec.changes_data
            and call.id in results
            and not results[call.id].startswith(("Error:", "Denied:"))
            for call, spec, _ in calls
        )

    async def _run_tools(
        self,
        calls: list[ToolCallRequest],
        stamp: EventStamp,
        user_id: str,
        results: dict[str, str],
        needs_auth_calls: set[str],
        resources: ResourceSink | None,
        needs_approval: ApprovalRule,
        pending: list[PendingCall],
    ) -> AsyncIterator[AgentEvent]:
        """Start every call of one round at once and yield their events as they happen; calls
        that must wait for the user's yes are announced and left in `pending`."""
        runnable: list[tuple[ToolCallRequest, ToolSpec, BaseModel]] = []
        rejected: list[tuple[ToolCallRequest, str]] = []
        for call in calls:
            spec = self.registry.get(call.name)
            try:
                if spec is None:
                    known = ", ".join(self.registry.names())
                    raise ToolArgumentError(f"Unknown tool {call.name!r}. Available tools: {known}.")
                params = spec.parse_arguments(call.arguments)
            except ToolArgumentError as exc:
                rejected.append((call, str(exc)))
                yield ToolCallStart(
                    **stamp(), tool_call_id=call.id, tool_name=call.name, arguments=_raw_arguments(call)
                )
                continue
            arguments = params.model_dump(mode="json")
            yield ToolCallStart(**stamp(), tool_call_id=call.id, tool_name=call.name, arguments=arguments)
            if needs_approval(spec.name, spec.changes_data):
                description = spec.describe_call(params)
                pending.append(PendingCall(call=call, description=description))
                yield ToolApprovalRequired(
                    **stamp(),
                    tool_call_id=call.id,
                    tool_name=call.name,
                    arguments=arguments,
                    description=description,
                )
                continue
            runnable.append((call, spec, params))
        for call, message in rejected:
            results[call.id] = f"Error: {message}"
            yield ToolCallComplete(
                **stamp(),
                tool_call_id=call.id,
                tool_name=call.name,
                status=ToolStatus.ERROR,
                duration_ms=0,
                error=message,
                output=results[call.id],
            )
        if not runnable:
            return
        async with aclosing(
            self._execute(runnable, stamp, user_id, results, needs_auth_calls, resources)
        ) as events:
            async for event in events:
                yield event

    async def _execute(
        self,
        runnable: list[tuple[ToolCallRequest, ToolSpec, BaseModel]],
        stamp: EventStamp,
        user_id: str,
        results: dict[str, str],
        needs_auth_calls: set[str],
        resources: ResourceSink | None,
    ) -> AsyncIterator[AgentEvent]:
        """Run validated calls concurrently; their progress, saved rows and completions as they happen."""
        inbox: asyncio.Queue[_Progress | _Saved | _Finished] = asyncio.Queue()
        tasks = [
            asyncio.create_task(
                self._invoke(call, spec, params, user_id, inbox, resources),
                name=f"tool:{call.name}:{call.id}",
            )
            for call, spec, params in runnable
        ]
        try:
            remaining = len(tasks)
            while remaining:
                item = await inbox.get()
                if isinstance(item, _Progress):
                    yield ToolCallProgress(
                        **stamp(), tool_call_id=item.call_id, message=item.message, fraction=item.fraction
                    )
                    continue
                if isinstance(item, _Saved):
                    saved = item.saved
                    yield ResourceSaved(
                        **stamp(),
                        resource_id=saved.resource_id,
                        title=saved.title,
                        kind=saved.kind,
                        row_count=saved.row_count,
                        tool_call_id=item.call_id,
                        partial=saved.partial,
                    )
                    continue
                remaining -= 1
                status = ToolStatus.COMPLETED if item.error is None else ToolStatus.ERROR
                if item.error is None:
                    results[item.call.id] = result_to_text(item.result, self.tool_result_max_chars)
                    if item.resource_id and item.resource_title:
                        results[item.call.id] += resource_note(item.resource_title, item.resource_id)
                    if result_needs_auth(item.result):
                        needs_auth_calls.add(item.call.id)
                else:
                    results[item.call.id] = f"Error: {item.error}"
                yield ToolCallComplete(
                    **stamp(),
                    tool_call_id=item.call.id,
                    tool_name=item.call.name,
                    status=status,
                    duration_ms=item.duration_ms,
                    error=item.error,
                    summary=result_summary(item.result) if item.error is None else None,
                    resource_id=item.resource_id,
                    output=results[item.call.id],
                )
        finally:
            # The consumer went away (stop, disconnect) or we are done: no task outlives the run.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _invoke(
        self,
        call: ToolCallRequest,
        spec: ToolSpec,
        params: BaseModel,
        user_id: str,
        inbox: asyncio.Queue[_Progress | _Saved | _Finished],
        resources: ResourceSink | None,
    ) -> None:
        resource_id: str | None = None
        resource_title: str | None = None
        # A tool may publish rows from several tasks at once: one save at a time, so every
        # batch updates the one resource the first save created (never a second, stuck partial).
        saving = asyncio.Lock()

        async def report_progress(message: str, fraction: float | None = None) -> None:
            inbox.put_nowait(_Progress(call.id, message, fraction))

        async def keep(draft: ResourceDraft, *, partial: bool) -> None:
            nonlocal resource_id, resource_title
            if resources is None:
                return
            async with saving:
                try:
                    saved = await resources.save(
                        tool_call_id=call.id, draft=draft, partial=partial, resource_id=resource_id
                    )
                except Exception:  # keeping a copy must never fail the tool itself
                    log.exception("Could not save the resource of %s", call.name)
                    return
                resource_id, resource_title = saved.resource_id, saved.title
                inbox.put_nowait(_Saved(call.id, saved))

        async def publish_rows(draft: ResourceDraft) -> None:
            await keep(draft, partial=True)

        ctx = ToolContext(
            deps=self.deps, user_id=user_id, report_progress=report_progress, publish_rows=publish_rows
        )
        started = time.perf_counter()
        try:
            result = await spec(ctx, params)
        except asyncio.CancelledError:
            raise
        except ToolError as exc:
            message = str(exc) or f"{call.name} failed."
            inbox.put_nowait(_Finished(call, error=message, duration_ms=_elapsed_ms(started)))
            return
        except Exception:
            # Raw exception text can name hosts, URLs or SQL: it goes to the log, not to the card or the model.
            log.exception("Tool %s failed inside Finch", call.name)
            message = f"{call.name} failed inside Finch (the details are in Finch's log)."
            inbox.put_nowait(_Finished(call, error=message, duration_ms=_elapsed_ms(started)))
            return
        draft = result_resource(result)
        if draft is not None:
            await keep(draft, partial=False)
        inbox.put_nowait(
            _Finished(
                call,
                result=result,
                duration_ms=_elapsed_ms(started),
                resource_id=resource_id,
                resource_title=resource_title,
            )
        )


def _never_ask(tool_name: str, changes_data: bool) -> bool:
    return False


def _elapsed_ms(started: float) -> int:
    return int(round((time.perf_counter() - started) * 1000))


def _raw_arguments(call: ToolCallRequest) -> dict[str, Any]:
    """Best-effort arguments for a card when they failed validation."""
    try:
        data = json.loads(call.arguments)
    except (json.JSONDecodeError, TypeError):
        return {"_raw": call.arguments}
    return data if isinstance(data, dict) else {"_raw": call.arguments}
