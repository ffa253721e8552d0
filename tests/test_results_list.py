"""The Results list: grouped under the question that saved each result, a repeated lookup once."""

from __future__ import annotations

from datetime import UTC, datetime

from finch_app.reads import ResourceSummary
from finch_app.states.results import ResourceItem, ResultGroup, grouped, with_item, without_title

WHEN = datetime(2026, 11, 20, tzinfo=UTC)


def summary(resource_id: str, title: str, run_id: str, question: str, rows: int = 5) -> ResourceSummary:
    return ResourceSummary(
        id=resource_id,
        title=title,
        kind="k",
        row_count=rows,
        partial=False,
        chart=None,
        source=None,
        as_of=None,
        created_at=WHEN,
        conversation_id="c",
        tool_call_id="t",
        run_id=run_id,
        question=question,
    )


def test_results_are_grouped_by_question_and_a_repeated_lookup_is_listed_once():
    summaries = [  # newest first, as the read side gives them
        summary("r5", "Your holdings", "run3", "review my portfolio again"),
        summary("r4", "Quote: AAPL", "run2", "AAPL and my holdings"),
        summary("r3", "Your holdings", "run2", "AAPL and my holdings"),
        summary("r2", "Quote: AAPL", "run2", "AAPL and my holdings"),  # the same lookup twice in one answer
        summary("r1", "Your holdings", "run1", "review my portfolio"),
    ]
    groups = grouped(summaries)
    assert [(g.question, [i.id for i in g.results]) for g in groups] == [
        ("review my portfolio again", ["r5"]),
        ("AAPL and my holdings", ["r4"]),
    ]  # the first question's only result was repeated later: the question is not listed


def test_a_newer_copy_replaces_the_older_one_wherever_it_is():
    item = lambda rid, title: ResourceItem(rid, title, "k", 5, False, "5 rows")  # noqa: E731
    groups = [
        ResultGroup("run2", "q2", [item("a", "Quote: AAPL"), item("b", "Your holdings")]),
        ResultGroup("run1", "q1", [item("c", "Recent Senate trades")]),
    ]
    kept, gone = without_title(groups, "Your holdings")
    assert gone == 1 and [[i.id for i in g.results] for g in kept] == [["a"], ["c"]]
    kept, gone = without_title(kept, "Recent Senate trades")
    assert gone == 1 and [g.key for g in kept] == ["run2"]
    grown = with_item(
        ResultGroup("run3", "q3", [item("x", "Rows")]),
        ResourceItem("x", "Rows", "k", 9, True, "9 rows so far"),
    )
    assert [(i.id, i.label) for i in grown.results] == [("x", "9 rows so far")]
