"""Finch's benchmark: the Reflex path against Finch's own SSE path, same agent, same tools.

    python -m scripts.bench                  # `make bench`: the full run, `make run`'s defaults
    python -m scripts.bench --config redis   # the team set-up: PostgreSQL and Redis
    python -m scripts.bench --quick          # small counts, no timing targets: what CI runs

Starts Finch in prod mode (`python -m finch_app serve`) on the offline model and bundled
sample data — `--config default` as `make run` serves it (SQLite, one worker, no Redis),
`--config redis` on PostgreSQL and Redis — and measures:

1. the hot path, hop by hop: for each tool card, the time from the event's creation to the tab's
   consumer taking it, the state lock, the delta, the frame queued and written, the frame seen by
   the page and the card in the DOM (`scripts/hoptrace.py` in the server, a probe in the page:
   `scripts/hopbench.py`), at 1, 10 and 20 chats (tabs), next to the plain SSE page on the same
   server (a minimal page served on Finch's origin that reads `/api/chat/stream` and adds the
   same cards), with `FINCH_SAMPLE_LATENCY_MS=300`.
2. websocket bytes per tool event at 0, 100 and 500 prior messages (headless Reflex tab);
3. events/s, p95 emit→client latency and lost/reordered events at 50, 100 and 200 concurrent
   chats: headless clients, Socket.IO for Reflex, httpx for SSE;
4. throughput with two workers on Redis against one;
5. what a page costs the browser while its tool cards run and nothing else moves (% of a core).

Prints a table and writes JSON (`bench-results/`). The targets are reported, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.reflex_client import ReflexTab, TurnWatch, sse_chat  # noqa: E402
from scripts.seed import seed_conversation  # noqa: E402

PROMPT = "trending on reddit and recent house trades"
"""The offline model answers this with two tools started together, then a table."""
USER = "local"
TARGETS = {
    "latency_p95_ratio": 1.5,
    "bytes_500_over_0": 1.1,
    "lost_events": 0,
    "two_worker_ratio": 1.6,
}


@dataclass(frozen=True)
class Plan:
    hop_tabs: tuple[tuple[int, int], ...] = ((1, 10), (10, 3), (20, 2))
    """(tabs, rounds) of the per-hop latency runs."""
    hop_latency_ms: int = 300
    bytes_prior: tuple[int, ...] = (0, 100, 500)
    throughput_clients: tuple[int, ...] = (50, 100, 200)
    throughput_turns: int = 2
    worker_clients: int = 200
    sample_latency_ms: int = 50
    card_seconds: float = 8.0
    """How long the running-card section watches a page whose cards run (they run 4 s longer)."""
    one_server: bool = False
    """Measure the hops on the server the other sections use (one start fewer) rather than on
    one of their own: the trace costs a little per event, which the full run keeps out of its
    throughput figures."""


FULL = Plan()
QUICK = Plan(
    hop_tabs=((1, 2),),
    bytes_prior=(0, 6),
    throughput_clients=(3,),
    throughput_turns=1,
    worker_clients=3,
    sample_latency_ms=300,
    card_seconds=1.0,
    one_server=True,
)


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run client code on a fresh loop in a thread (Playwright's sync API owns the main loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index], 1)


# --- the server -----------------------------------------------------------------------------


@dataclass
class Backing:
    """Where the server keeps its data: PostgreSQL + Redis (team) or SQLite (laptop)."""

    database_url: str | None
    redis_url: str | None
    drop: Any = None

    @property
    def label(self) -> str:
        db = "PostgreSQL" if self.database_url else "SQLite"
        return f"{db} + Redis" if self.redis_url else f"{db}, no Redis"


def backing(args: argparse.Namespace) -> Backing:
    from tests.redis_support import POSTGRES_URL, REDIS_URL, _reachable

    redis_url = None if args.no_redis else (args.redis_url or REDIS_URL)
    if redis_url and not _reachable(redis_url, 6379):
        print(f"! no Redis at {redis_url}: one worker, no Redis", file=sys.stderr)
        redis_url = None
    postgres = None if args.sqlite else (args.postgres_url or POSTGRES_URL)
    if postgres and not _reachable(postgres, 5432):
        print(f"! no PostgreSQL at {postgres}: SQLite", file=sys.stderr)
        postgres = None
    if postgres is None:
        return Backing(None, redis_url)
    from sqlalchemy import create_engine, text

    name = f"finch_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return Backing(postgres.rsplit("/", 1)[0] + f"/{name}", redis_url, drop)


@contextmanager
def finch(
    data_dir: Path,
    back: Backing,
    plan: Plan,
    workers: int = 1,
    latency_ms: int | None = None,
    trace: bool = False,
):
    from tests.e2e.app_server import AppServer

    env = {
        "FINCH_SAMPLE_LATENCY_MS": str(plan.sample_latency_ms if latency_ms is None else latency_ms),
        "FINCH_WORKERS": str(workers),
        "FINCH_CARD_FADE_MS": "60000",  # as most browser tests: their build serves it
        "FINCH_REDIS_PREFIX": f"finch-bench-{uuid.uuid4().hex[:8]}",
        # Every client is the one local user here; 200 chats stand for 200 people.
        "FINCH_MAX_RUNS_PER_USER": "100000",
    }
    if trace:
        env["FINCH_HOPTRACE"] = "1"
    if back.database_url:
        env["DATABASE_URL"] = back.database_url
    if back.redis_url:
        env["REFLEX_REDIS_URL"] = back.redis_url
    else:
        os.environ.pop("REFLEX_REDIS_URL", None)
    server = AppServer(data_dir, env=env, log_path=data_dir / f"server-{workers}w.log")
    with server:
        yield server


def database_url(server: Any, back: Backing) -> str:
    return back.database_url or f"sqlite:///{server.data_dir / 'finch.db'}"


def seed(server: Any, back: Backing, messages: int, count: int) -> list[str]:
    """`count` conversations of `messages` messages each, written straight to the database."""
    from sqlmodel import Session, create_engine

    engine = create_engine(database_url(server, back))
    ids = []
    with Session(engine) as session:
        for _ in range(count):
            ids.append(seed_conversation(session=session, user_id=USER, messages=messages))
        session.commit()
    engine.dispose()
    return ids


# --- 1. emit→screen in Chromium --------------------------------------------------------------

SSE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Finch SSE baseline</title>
<style>
body { font: 15px system-ui, sans-serif; margin: 0; display: flex; height: 100vh; }
main { flex: 1; overflow-y: auto; padding: 20px; }
.row { margin: 8px 0; white-space: pre-wrap; } .user { text-align: right; }
.card { border: 1px solid #ccc; border-radius: 10px; padding: 8px 12px; margin: 6px 0; }
.card[data-status="running"]::after { content: " ⏳"; }
</style></head>
<body><main><div id="thread"></div><div id="live"></div></main>
<script>
let cid = new URLSearchParams(location.search).get("cid") || null;
window.__finchDone = 0;
const thread = document.getElementById("thread"), liveRoot = document.getElementById("live");
function row(role, text) {
  const d = document.createElement("div"); d.className = "row " + role; d.textContent = text; return d;
}
async function history() {
  if (!cid) return;
  const c = await (await fetch("/api/conversations/" + cid)).json();
  for (const m of c.messages.slice(-50)) thread.appendChild(row(m.role, m.content));
}
window.finchAsk = async (message) => {
  const turn = document.createElement("div"), text = document.createElement("div"), cards = {};
  turn.appendChild(row("user", message)); turn.appendChild(text); liveRoot.appendChild(turn);
  const handle = (e) => {
    if (e.type === "run_started") cid = e.conversation_id;
    else if (e.type === "tool_call_start") {
      const el = document.createElement("div");
      el.className = "card";
      el.setAttribute("data-testid", "tool-card");
      el.setAttribute("data-tool", e.tool_name);
      el.setAttribute("data-status", "running");
      el.setAttribute("data-started-at", String(Math.floor(e.timestamp * 1000)));
      el.textContent = "🔧 " + e.tool_name + " — Calling…";
      turn.insertBefore(el, text); cards[e.tool_call_id] = el;
    } else if (e.type === "tool_call_complete" && cards[e.tool_call_id]) {
      cards[e.tool_call_id].setAttribute("data-status", e.status);
      cards[e.tool_call_id].textContent = "🔧 " + e.tool_name + " — " + e.status + " (" + e.duration_ms + " ms)";
    } else if (e.type === "token") text.textContent += e.text;
    else if (e.type === "assistant_message") text.textContent = e.content;
  };
  const response = await fetch("/api/chat/stream", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ message, conversation_id: cid }),
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\\n\\n")) >= 0) {
      const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
      for (const line of block.split("\\n")) if (line.startsWith("data: ")) handle(JSON.parse(line.slice(6)));
    }
  }
  window.__finchDone += 1;
};
history().then(() => { window.__finchReady = true; });
</script></body></html>"""


def hop_latency(server: Any, plan: Plan) -> list[dict[str, Any]]:
    """Per-hop latency of tool cards, Reflex page and SSE page, on a server with the trace on."""
    from scripts import hopbench

    rows = []
    for tabs, rounds in plan.hop_tabs:
        args = argparse.Namespace(
            tabs=tabs, rounds=rounds, anchor=False, warmup=1, gap=0.0, no_animations=False
        )
        load = hopbench.loadavg()
        reflex_pages = hopbench.run_pages(server.url, args, sse=False)
        trace = httpx.get(f"{server.url}/__hoptrace", params={"reset": 1}, timeout=60).json()
        reflex = hopbench.table(hopbench.join(reflex_pages, trace), f"Reflex page, {tabs} tab(s)")
        sse = hopbench.table(
            hopbench.join(hopbench.run_pages(server.url, args, sse=True), None),
            f"SSE page, {tabs} tab(s)",
        )
        cpu = [c for c in hopbench.CPU[-2:]]
        row = {
            "tabs": tabs,
            "rounds": rounds,
            "load_before": load,
            "load_after": hopbench.loadavg(),
            "reflex": reflex,
            "sse": sse,
            "cpu": cpu,
            "dom_p95_ratio": _ratio(_hop(reflex, "dom", "p95"), _hop(sse, "dom", "p95")),
        }
        rows.append(row)
    return rows


def _hop(summary: dict[str, Any], hop: str, q: str) -> float | None:
    return (summary.get(hop) or {}).get(q)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


# --- 2. bytes per tool event -----------------------------------------------------------------


async def _bytes_for(server: Any, cid: str | None) -> dict[str, Any]:
    tab = ReflexTab(server.url)
    watch = TurnWatch()
    await (tab.open(f"/c/{cid}", {"cid": cid}) if cid else tab.open("/"))
    opened = sum(f.size for f in tab.frames)
    tab.listeners.append(watch.on_frame)
    await tab.ask_and_wait(PROMPT)
    await tab.close()
    tool = watch.tool_frames
    return {
        "open_bytes": opened,
        "tool_event_frames": len(tool),
        "bytes_per_tool_event": round(statistics.mean(tool), 1) if tool else None,
        "max_tool_event_frame": max(tool) if tool else None,
    }


async def _sse_bytes(server: Any) -> float | None:
    sizes = []
    async with httpx.AsyncClient(base_url=server.url) as client:
        body = {"message": PROMPT, "conversation_id": None}
        async with client.stream("POST", "/api/chat/stream", json=body, timeout=60) as response:
            async for block in _sse_blocks(response):
                if "event: tool_call_" in block and "tool_call_progress" not in block:
                    sizes.append(len(block.encode()) + 2)
    return round(statistics.mean(sizes), 1) if sizes else None


async def _sse_blocks(response: httpx.Response):
    buffer = ""
    async for text in response.aiter_text():
        buffer += text
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            yield block


def bytes_per_event(server: Any, back: Backing, plan: Plan) -> dict[str, Any]:
    rows = []
    for prior in plan.bytes_prior:
        cid = seed(server, back, prior, 1)[0] if prior else None
        row = {"prior": prior, **run_async(_bytes_for(server, cid))}
        print(f"  bytes    prior={prior:<3}  {row}")
        rows.append(row)
    base, last = rows[0]["bytes_per_tool_event"], rows[-1]["bytes_per_tool_event"]
    return {
        "rows": rows,
        "ratio_last_over_0": _ratio(last, base),
        "sse_bytes_per_tool_event": run_async(_sse_bytes(server)),
    }


# --- 3 and 4. many chats at once, headless ----------------------------------------------------


async def _reflex_clients(server: Any, clients: int, turns: int) -> dict[str, Any]:
    tabs = [ReflexTab(server.url) for _ in range(clients)]
    gate = asyncio.Semaphore(20)

    async def connect(tab: ReflexTab) -> None:
        async with gate:
            await tab.open("/", timeout=60)

    await asyncio.gather(*(connect(t) for t in tabs))
    watches: list[TurnWatch] = []
    events = 0
    failures: list[str] = []

    async def chat(tab: ReflexTab) -> None:
        nonlocal events
        for _ in range(turns):
            watch = TurnWatch()
            watches.append(watch)
            tab.listeners[:] = [watch.on_frame]
            try:
                await tab.ask_and_wait(PROMPT, timeout=300)
            except (TimeoutError, ConnectionError, RuntimeError) as exc:
                failures.append(str(exc)[:200])
                return
            events += (watch.seqs[-1] + 1) if watch.seqs else 0
            answer = tab.last_answer
            if answer is None or answer["status"] != "completed":
                failures.append(f"answer {answer['status'] if answer else 'missing'}")

    started = time.monotonic()
    await asyncio.gather(*(chat(t) for t in tabs))
    elapsed = time.monotonic() - started
    await asyncio.gather(*(t.close() for t in tabs), return_exceptions=True)
    latencies = [ms for w in watches for ms in w.latencies_ms()]
    lost = sum(2 - sum(1 for s in w.status.values() if s == "completed") for w in watches)
    return {
        "runs": len(watches),
        "events": events,
        "seconds": round(elapsed, 2),
        "events_per_s": round(events / elapsed, 1),
        "p50_ms": pct(latencies, 50),
        "p95_ms": pct(latencies, 95),
        "lost": lost + len(failures),
        "reordered": sum(w.regressions for w in watches),
        "failures": failures[:5],
    }


async def _sse_clients(server: Any, clients: int, turns: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    events = lost = reordered = 0
    latencies: list[float] = []
    failures: list[str] = []

    async def chat(client: httpx.AsyncClient) -> None:
        nonlocal events, lost, reordered
        cid = None
        for _ in range(turns):
            seqs: list[int] = []
            try:
                async for item in sse_chat(client, PROMPT, cid):
                    data = item.data
                    seqs.append(data["seq"])
                    if data["type"] == "run_started":
                        cid = data["conversation_id"]
                    elif data["type"] == "tool_call_start":
                        latencies.append(item.at * 1000 - data["timestamp"] * 1000)
            except Exception as exc:  # noqa: BLE001 — counted and reported
                failures.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            events += len(seqs)
            reordered += sum(1 for a, b in itertools.pairwise(seqs) if b <= a)
            lost += (max(seqs) + 1 - len(set(seqs))) if seqs else 1

    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=httpx.Timeout(300)) as client:
        started = time.monotonic()
        await asyncio.gather(*(chat(client) for _ in range(clients)))
        elapsed = time.monotonic() - started
    return {
        "runs": clients * turns,
        "events": events,
        "seconds": round(elapsed, 2),
        "events_per_s": round(events / elapsed, 1),
        "p50_ms": pct(latencies, 50),
        "p95_ms": pct(latencies, 95),
        "lost": lost + len(failures),
        "reordered": reordered,
        "failures": failures[:5],
    }


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _processes() -> dict[str, list[int]]:
    """Who shares the machine's cores during a run: Finch, Redis, PostgreSQL (by name)."""
    groups: dict[str, list[int]] = {"redis": [], "postgres": []}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if name.startswith("redis-server"):
                groups["redis"].append(int(entry.name))
            elif name.startswith("postgres"):
                groups["postgres"].append(int(entry.name))
    return groups


def _measured(server: Any, coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """Run a load, and note the CPU seconds each party used (the client is this process)."""
    group = os.getpgid(server.process.pid)
    finch_pids = [
        int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _pgid(int(p.name)) == group
    ]
    others = _processes()
    before = {
        "finch": _cpu_seconds(finch_pids),
        "client": time.process_time(),
        **{k: _cpu_seconds(v) for k, v in others.items()},
    }
    result = run_async(coro)
    after = {
        "finch": _cpu_seconds(finch_pids),
        "client": time.process_time(),
        **{k: _cpu_seconds(v) for k, v in others.items()},
    }
    result["cpu_s"] = {k: round(after[k] - before[k], 1) for k in before}
    return result


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def throughput(server: Any, plan: Plan, clients_list: tuple[int, ...]) -> list[dict[str, Any]]:
    rows = []
    for clients in clients_list:
        row = {
            "clients": clients,
            "reflex": _measured(server, _reflex_clients(server, clients, plan.throughput_turns)),
            "sse": _measured(server, _sse_clients(server, clients, plan.throughput_turns)),
        }
        print(f"  many     chats={clients:<3}  reflex {_brief(row['reflex'])}  sse {_brief(row['sse'])}")
        rows.append(row)
    return rows


def _brief(r: dict[str, Any]) -> str:
    cpu = " ".join(f"{k} {v}" for k, v in r.get("cpu_s", {}).items())
    return f"{r['events_per_s']} ev/s p95 {r['p95_ms']} ms lost {r['lost']} reord {r['reordered']} (cpu s: {cpu})"


# --- report ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    memory = ""
    try:
        memory = f"{int(open('/proc/meminfo').readline().split()[1]) // 1024 // 1024} GiB"
    except (OSError, ValueError, IndexError):
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    )
    from importlib.metadata import version

    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "reflex": version("reflex"),
        "commit": commit + ("+dirty" if dirty else ""),
    }


def print_report(report: dict[str, Any]) -> None:
    print(
        f"\nFinch benchmark — {report['mode']} — {report['machine']['cpus']} CPUs ({report['machine']['cpu']}) — {report['backing']}"
    )
    if lat := report.get("latency"):
        print("\n1. tool card, hop by hop (ms after the event; p50 / p95)")
        hops = ("taken", "lock", "delta", "queued", "written", "frame", "dom")
        print(
            f"  {'tabs':>4}  "
            + "  ".join(f"{h:>13}" for h in hops)
            + f"  {'SSE dom':>13}  {'dom p95 ratio':>13}"
        )
        for r in lat:
            cells = [f"{_hop(r['reflex'], h, 'p50')!s:>6}/{_hop(r['reflex'], h, 'p95')!s:<6}" for h in hops]
            sse = f"{_hop(r['sse'], 'dom', 'p50')!s:>6}/{_hop(r['sse'], 'dom', 'p95')!s:<6}"
            print(
                f"  {r['tabs']:>4}  "
                + "  ".join(cells)
                + f"  {sse}  {r['dom_p95_ratio']!s:>13}   load {r['load_before']}"
            )
    if b := report.get("bytes"):
        print("\n2. websocket bytes per tool event (Reflex)")
        for r in b["rows"]:
            print(
                f"  prior {r['prior']:>3}: {r['bytes_per_tool_event']} B/event (max {r['max_tool_event_frame']} B); opening the page {r['open_bytes']} B"
            )
        print(
            f"  last/0 ratio {b['ratio_last_over_0']}; SSE for comparison {b['sse_bytes_per_tool_event']} B/event"
        )
    if t := report.get("throughput"):
        print("\n3. many chats at once (headless clients)")
        print(
            f"  {'chats':>5}  {'Reflex ev/s':>11} {'p95 ms':>7} {'lost':>4} {'reord':>5}  {'SSE ev/s':>8} {'p95 ms':>7} {'lost':>4} {'reord':>5}"
        )
        for r in t:
            x, s = r["reflex"], r["sse"]
            print(
                f"  {r['clients']:>5}  {x['events_per_s']:>11} {x['p95_ms']!s:>7} {x['lost']:>4} {x['reordered']:>5}  "
                f"{s['events_per_s']:>8} {s['p95_ms']!s:>7} {s['lost']:>4} {s['reordered']:>5}"
            )
    if w := report.get("workers"):
        print("\n4. two workers on Redis vs one")
        if w.get("skipped"):
            print(f"  skipped: {w['skipped']}")
        else:
            for path in ("reflex", "sse"):
                print(
                    f"  {path:<6} {w['clients']} chats: 1 worker {w['one'][path]['events_per_s']} ev/s, "
                    f"2 workers {w['two'][path]['events_per_s']} ev/s → ×{w['ratio'][path]}"
                )
    if c := report.get("card"):
        print("\n5. a page whose tool cards run, nothing else moving (% of a core)")
        print(
            f"  {c['cards']} running cards over {c['seconds']} s: Chromium {c['chromium_pct']}% "
            f"(renderers {c['renderers_pct']}%), server {c['server_pct']}%"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small counts (CI): checks the benchmark still runs"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON file (default bench-results/bench-<time>.json)"
    )
    parser.add_argument(
        "--only", default="latency,bytes,throughput,workers,card", help="comma-separated sections"
    )
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--postgres-url", default=None, help="server to create a scratch database on")
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument(
        "--config",
        choices=("default", "redis"),
        default="default",
        help="default: as `make run` serves (SQLite, one worker, no Redis); redis: PostgreSQL and Redis",
    )
    args = parser.parse_args(argv)
    if args.config == "default":
        args.no_redis, args.sqlite = True, True
    plan = QUICK if args.quick else FULL
    sections = set(args.only.split(","))
    os.environ.setdefault("FINCH_ENV_FILE", os.devnull)
    back = backing(args)
    report: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m scripts.bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "config": args.config,
        "backing": back.label,
        "plan": {k: v for k, v in plan.__dict__.items()},
        "prompt": PROMPT,
        "targets": TARGETS,
    }
    out = args.out or ROOT / "bench-results" / f"bench-{datetime.now():%Y%m%d-%H%M%S}.json"
    try:
        with tempfile.TemporaryDirectory(prefix="finch-bench-") as tmp:
            if "latency" in sections and not plan.one_server:
                print(f"Starting Finch with the per-hop trace (1 worker, {back.label})…")
                with finch(
                    Path(tmp) / "hops", back, plan, latency_ms=plan.hop_latency_ms, trace=True
                ) as server:
                    report["latency"] = hop_latency(server, plan)
            print(f"Starting Finch (1 worker, {back.label})…")
            with finch(Path(tmp) / "one", back, plan, trace=plan.one_server) as server:
                if "latency" in sections and plan.one_server:
                    report["latency"] = hop_latency(server, plan)
                if "bytes" in sections:
                    report["bytes"] = bytes_per_event(server, back, plan)
                if "throughput" in sections:
                    report["throughput"] = throughput(server, plan, plan.throughput_clients)
                if "workers" in sections and back.redis_url:
                    one = throughput(server, plan, (plan.worker_clients,))[0]
            if "workers" in sections:
                if not back.redis_url:
                    report["workers"] = {"skipped": "no Redis"}
                else:
                    print("Starting Finch (2 workers)…")
                    with finch(Path(tmp) / "two", back, plan, workers=2) as server:
                        two = throughput(server, plan, (plan.worker_clients,))[0]
                    report["workers"] = {
                        "clients": plan.worker_clients,
                        "one": one,
                        "two": two,
                        "ratio": {
                            p: _ratio(two[p]["events_per_s"], one[p]["events_per_s"])
                            for p in ("reflex", "sse")
                        },
                    }
            if "card" in sections:
                print("Starting Finch (tools that take a while)…")
                with finch(
                    Path(tmp) / "card", back, plan, latency_ms=int((plan.card_seconds + 4) * 1000)
                ) as server:
                    from scripts import hopbench

                    report["card"] = hopbench.running_card_cpu(server.url, PROMPT, plan.card_seconds)
    finally:
        if back.drop:
            back.drop()
    report["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print_report(report)
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
