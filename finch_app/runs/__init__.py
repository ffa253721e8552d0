"""Runs: one answer to one question, from the saved question to the final rows.

`service.RunService` owns each run (start, follow, stop); `recorder` keeps the database in step
with its events; `history` rebuilds the conversation for the model; `ending` is how an
unfinished run ends; `registry` (and `redis` for several workers) knows which runs are live;
`feed` hands a run's events to one follower, paced for the page.
"""

from finch_app.runs.service import RunRefused, RunService, StartedRun

__all__ = ["RunRefused", "RunService", "StartedRun"]
