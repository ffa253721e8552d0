"""Long conversations for tests and the benchmark: rows written straight to the database.

`seed_conversation` writes what a long chat leaves behind — alternating questions and
answers, each answer with its run and tool calls — in one transaction, so a 500-message
conversation with 1,000 tool calls takes a fraction of a second to create.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from finch_app.db.models import Conversation, Message, Run, ToolCall

_TOOLS = (
    "get_portfolio",
    "get_reddit_trending_stocks",
    "get_recent_senate_trades",
    "get_recent_house_trades",
)


def _answer(i: int) -> str:
    return (
        f"## Update {i}\n\nYou hold **{8 + i % 5} positions** worth about **${84_210 + 37 * i:,}**.\n\n"
        "| Ticker | Shares | Gain |\n|---|---:|---:|\n"
        f"| AAPL | {12 + i} | +{4.1 + i / 10:.1f}% |\n| NVDA | {30 + i} | -{1.3 + i / 20:.1f}% |\n\n"
        f"- GME is trending on Reddit (rank {1 + i % 9}).\n- Two senators bought MSFT in the last 30 days.\n\n"
        "> Not investment advice."
    )


def seed_conversation(
    *,
    session: Session,
    user_id: str,
    messages: int,
    tools_per_answer: int = 4,
    title: str = "A long conversation",
) -> str:
    """Create a conversation of `messages` rows (questions and answers); return its id."""
    start = datetime.now(UTC) - timedelta(seconds=10 * messages + 60)
    conversation = Conversation(user_id=user_id, title=title, created_at=start, updated_at=start)
    session.add(conversation)
    session.flush()
    rows: list[object] = []
    question_id = ""
    for k in range(messages):
        at = start + timedelta(seconds=10 * k)
        i = k // 2
        if k % 2 == 0:
            question = Message(
                conversation_id=conversation.id,
                user_id=user_id,
                role="user",
                created_at=at,
                content=f"How is my portfolio doing this week, and what changed since update {i}?",
            )
            question_id = question.id
            rows.append(question)
            continue
        run_id = f"run_seed_{conversation.id[:8]}_{i}"
        rows.append(
            Run(
                id=run_id,
                conversation_id=conversation.id,
                user_id=user_id,
                user_message_id=question_id,
                status="completed",
                model="Offline model",
                started_at=at,
                finished_at=at,
            )
        )
        for position in range(tools_per_answer):
            name = _TOOLS[position % len(_TOOLS)]
            rows.append(
                ToolCall(
                    run_id=run_id,
                    conversation_id=conversation.id,
                    user_id=user_id,
                    tool_call_id=f"call_{i}_{position}",
                    position=position,
                    name=name,
                    arguments={"limit": 10} if position else {},
                    status="completed",
                    started_at=at,
                    finished_at=at + timedelta(milliseconds=400),
                    duration_ms=400,
                    summary=f"{10 + position} rows",
                    output='{"rows": []}',
                )
            )
        rows.append(
            Message(
                conversation_id=conversation.id,
                user_id=user_id,
                role="assistant",
                run_id=run_id,
                content=_answer(i),
                created_at=at + timedelta(seconds=1),
            )
        )
    # Runs before the tool calls and messages that point at them (PostgreSQL checks the keys).
    session.add_all([r for r in rows if isinstance(r, Run)])
    session.flush()
    session.add_all([r for r in rows if not isinstance(r, Run)])
    session.flush()
    return conversation.id
