"""The benchmark still runs: `python -m scripts.bench --quick` (small counts, no timing targets)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.app_server import ROOT, web_root


def test_the_quick_benchmark_runs_and_loses_no_events(tmp_path):
    out = tmp_path / "bench.json"
    web_root()  # the benchmark's servers start from the session's installed node modules
    done = subprocess.run(
        # The team set-up (PostgreSQL, Redis, two workers) when they are here: it covers the most.
        [sys.executable, "-m", "scripts.bench", "--quick", "--config", "redis", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["mode"] == "quick" and report["machine"]["cpus"]
    for row in report["latency"]:
        assert row["reflex"]["cards"] > 0 and row["sse"]["cards"] > 0, row
        assert row["reflex"]["frame"]["p50"] is not None and row["reflex"]["taken"]["p50"] is not None, row
    for row in report["bytes"]["rows"]:
        # Cards that start together go out in one frame: two tools, at least their starts and ends.
        assert row["tool_event_frames"] >= 2 and row["bytes_per_tool_event"], row
    rows = list(report["throughput"])
    if "one" in report["workers"]:
        rows += [report["workers"]["one"], report["workers"]["two"]]
    for row in rows:
        for path in ("reflex", "sse"):
            assert row[path]["lost"] == 0 and row[path]["reordered"] == 0, row
            assert row[path]["events"] > 0, row
    # The two cards of its prompt ran through the whole window, and the browser was measured.
    assert report["card"]["cards"] == 2 and report["card"]["chromium_pct"] > 0, report["card"]
    assert "1. tool card, hop by hop" in done.stdout and "5. a page whose tool cards run" in done.stdout
    assert "JSON:" in done.stdout
