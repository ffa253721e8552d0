"""Per-hop latency of a tool card: server hops (scripts/hoptrace.py) joined with a page probe.

    python -m scripts.hopbench --tabs 1 --rounds 10                 # starts Finch (make run defaults)
    python -m scripts.hopbench --tabs 10 --rounds 3 --redis redis://127.0.0.1:6379/5
    python -m scripts.hopbench --url http://127.0.0.1:3900 --anchor --tabs 1 --rounds 10
    python -m scripts.hopbench --tabs 10 --sse                      # also the plain SSE page, same server

Starts Finch as `make run` would (prod, SQLite, one worker, no Redis, offline model) with
`FINCH_HOPTRACE=1` and `FINCH_SAMPLE_LATENCY_MS=300`, unless `--url` names a running server.
The page probe timestamps every websocket message and notes, per `tool_call_id`, when the
frame carrying its running card arrived; a MutationObserver notes when the card entered the
DOM. Both are joined with the server's per-card hops (`GET /__hoptrace`). Prints p50/p95 of
each hop measured from the event's creation, the load average, and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = "trending on reddit and recent house trades"
CPU: list[dict[str, Any]] = []
HOPS = (
    "fed",
    "taken",
    "lock_req",
    "lock",
    "delta",
    "emit",
    "queued",
    "emitted",
    "unlock",
    "write",
    "written",
    "frame",
    "dom",
)

PROBE = r"""(() => {
  window.__hop = {frames: [], dom: [], sizes: []}; const seenF = new Set(), seenD = new Set();
  const O = window.WebSocket;
  window.WebSocket = function (...a) { const ws = new O(...a);
    ws.addEventListener('message', ev => { const t = performance.timeOrigin + performance.now();
      const s = String(ev.data); window.__hop.sizes.push([t, s.length]);
      if (s.indexOf('"running"') < 0) return;
      for (const m of s.matchAll(/"tool_call_id":"([^"]+)","tool_name":"([^"]+)"[^}]*?"status":"running"[^}]*?"started_at_ms":(\d+)/g))
        if (!seenF.has(m[1] + '@' + m[3])) { seenF.add(m[1] + '@' + m[3]); window.__hop.frames.push([m[1], m[2], Number(m[3]), t]); } });
    return ws; };
  window.WebSocket.prototype = O.prototype; Object.assign(window.WebSocket, O);
  const note = el => { const s = el.getAttribute && el.getAttribute('data-started-at');
    if (!s || el.getAttribute('data-status') !== 'running') return;
    const key = s + ':' + (el.getAttribute('data-tool') || el.textContent.split(' ')[0]);
    if (seenD.has(key)) return; seenD.add(key);
    window.__hop.dom.push([Number(s), el.getAttribute('data-tool') || el.textContent.split(' ')[0], performance.timeOrigin + performance.now()]); };
  new MutationObserver(ms => ms.forEach(m => { m.addedNodes.forEach(n => { if (n.querySelectorAll) {
      note(n); n.querySelectorAll('[data-started-at]').forEach(note); } });
    if (m.type === 'attributes') note(m.target); }))
    .observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-status', 'data-started-at']});
})()"""


NO_ANIMATIONS = """document.addEventListener('DOMContentLoaded', () => { const s = document.createElement('style');
  s.textContent = '*, *::before, *::after { animation: none !important; transition: none !important; }';
  document.head.appendChild(s); });"""


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))], 1)


def cpu_by_party(server_pid: int | None) -> dict[str, float]:
    """CPU seconds used so far by Chromium (browser + renderers) and by the server's process group."""
    tick = os.sysconf("SC_CLK_TCK")
    group = os.getpgid(server_pid) if server_pid else None
    total = {"chromium": 0.0, "renderers": 0.0, "server": 0.0}
    procs = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            procs[int(entry.name)] = (stat, (entry / "cmdline").read_bytes())
        except OSError:
            continue

    def mine(pid: int) -> bool:  # our own browser only: other people's Chromium shares the machine
        while pid > 1 and pid in procs:
            if pid == os.getpid():
                return True
            pid = int(procs[pid][0][1])
        return False

    for pid, (stat, cmd) in procs.items():
        used = (int(stat[11]) + int(stat[12])) / tick
        if b"chromium" in cmd and mine(pid):
            total["chromium"] += used
            if b"--type=renderer" in cmd:
                total["renderers"] += used
        elif group is not None and int(stat[2]) == group:
            total["server"] += used
    return total


def server_pid_for(url: str) -> int | None:
    """The pid of the process listening on the url's address and port (the backend worker).
    Servers may share a port on different loopback addresses (the test suite's do); one that
    listens on every address answers for any of them."""
    import re
    import subprocess
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    hosts = {"127.0.0.1", "::1"} if parts.hostname == "localhost" else {parts.hostname}
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{parts.port}"], capture_output=True, text=True).stdout
    everywhere = None
    for line in out.splitlines():
        fields, pid = line.split(), re.search(r"pid=(\d+)", line)
        if len(fields) < 4 or pid is None:
            continue
        address = fields[3].rsplit(":", 1)[0].strip("[]")
        if address in hosts:
            return int(pid.group(1))
        if address in {"*", "0.0.0.0", "::"} and everywhere is None:
            everywhere = int(pid.group(1))
    return everywhere


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def start_finch(stack: ExitStack, args: argparse.Namespace) -> str:
    from tests.e2e.app_server import AppServer

    data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="finch-hop-")))
    env = {
        "FINCH_HOPTRACE": "1",
        "FINCH_SAMPLE_LATENCY_MS": str(args.latency_ms),
        "FINCH_CARD_FADE_MS": "600000",
        "FINCH_MAX_RUNS_PER_USER": "100000",
        "FINCH_REDIS_PREFIX": f"finch-hop-{uuid.uuid4().hex[:8]}",
    }
    if args.lag:
        env["FINCH_HOPTRACE_LAG"] = "1"
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    if args.redis:
        env["REFLEX_REDIS_URL"] = args.redis
    else:
        os.environ.pop("REFLEX_REDIS_URL", None)
    server = AppServer(data, env=env, log_path=Path(args.log) if args.log else data / "server.log")
    stack.enter_context(server)
    print(f"Finch on {server.url} (pid {server.process.pid}), log {server.log_path}", file=sys.stderr)
    return server.url


def run_pages(url: str, args: argparse.Namespace, sse: bool) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    from scripts.bench import SSE_PAGE
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = []
        for _ in range(args.tabs):
            context = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True)
            context.add_init_script(PROBE)
            if args.no_animations:  # experiment: what the page's CSS animations cost the renderer
                context.add_init_script(NO_ANIMATIONS)
            page = context.new_page()
            page.set_default_timeout(120_000)
            if sse:
                page.route(
                    "**/__bench/sse*", lambda route: route.fulfill(content_type="text/html", body=SSE_PAGE)
                )
                page.goto(f"{url}/__bench/sse")
                page.wait_for_function("window.__finchReady === true")
            elif args.anchor:
                page.goto(url)
                page.locator("#start").wait_for()
            else:
                page.goto(url)
                page.get_by_test_id("send").wait_for()
            pages.append(page)
        if args.warmup and not sse:
            _round(pages, args, sse, 1, 2)
            for page in pages:
                page.evaluate(
                    "() => { window.__hop.frames = []; window.__hop.dom = []; window.__hop.sizes = []; }"
                )
            if not args.anchor:
                httpx.get(f"{url}/__hoptrace", params={"reset": 1}, timeout=30)
        first = 2 if args.warmup and not sse else 1
        server_pid = server_pid_for(url)
        cpu_before, wall = cpu_by_party(server_pid), time.monotonic()
        for n in range(first, first + args.rounds):
            _round(pages, args, sse, n, 2 * (n - first + 1))
            if args.gap:
                time.sleep(args.gap)
        cpu_after, wall = cpu_by_party(server_pid), time.monotonic() - wall
        cpu = {k: round(cpu_after[k] - cpu_before[k], 2) for k in cpu_after}
        print(f"  cpu s over {wall:.1f} s ({'sse' if sse else 'reflex'}): {cpu}", file=sys.stderr)
        CPU.append({"path": "sse" if sse else "reflex", "wall_s": round(wall, 2), **cpu})
        for page in pages:
            results.append(page.evaluate("window.__hop"))
        browser.close()
    return results


def running_card_cpu(url: str, prompt: str, seconds: float) -> dict[str, Any]:
    """What a page costs while its tool cards run and nothing else happens: the spinner and the
    timer are all that move, so the browser's CPU here is theirs (the server's should be ~0)."""
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(url)
        page.get_by_test_id("composer").fill(prompt)
        page.get_by_test_id("send").click()
        running = page.locator('[data-testid="tool-card"][data-status="running"]')
        running.first.wait_for(timeout=60_000)
        time.sleep(0.5)  # the page settles: cards drawn, frames handled
        cards = running.count()
        server_pid = server_pid_for(url)
        before, wall = cpu_by_party(server_pid), time.monotonic()
        time.sleep(seconds)
        after, wall = cpu_by_party(server_pid), time.monotonic() - wall
        # Still running, checked at once (1 ms): the window saw only them.
        expect(running).to_have_count(cards, timeout=1)
        browser.close()
    share = {f"{k}_pct": round((after[k] - before[k]) / wall * 100, 1) for k in after}
    return {"cards": cards, "seconds": round(wall, 1), **share}


def _round(pages: list[Any], args: argparse.Namespace, sse: bool, n: int, cards: int = 0) -> None:
    """Round `n` (1-based, since the page opened); `cards`: how many cards the probe should have seen after it."""
    for page in pages:
        if sse:
            page.evaluate("(m) => { window.finchAsk(m); }", PROMPT)
        elif args.anchor:
            page.click("#start")
        else:
            page.get_by_test_id("composer").fill(PROMPT)
            page.get_by_test_id("send").click()
    for page in pages:
        if sse:
            page.wait_for_function(f"window.__finchDone >= {n}", polling=100)
        elif args.anchor:
            page.wait_for_function(
                f"document.querySelector('#runs').textContent === '{n}'", timeout=120_000, polling=100
            )
        else:
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stop\"]') && "
                "document.querySelector('[data-testid=\"send\"]') && "
                'document.querySelectorAll(\'[data-testid="tool-card"][data-status="running"]\').length === 0 && '
                f"window.__hop.dom.length >= {cards or 2 * n}",
                polling=100,  # not every animation frame: the harness must not load the renderer
            )


def join(pages: list[dict[str, Any]], server: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per card: each hop in ms after the event's creation."""
    cards = (server or {}).get("cards", {})
    rows = []
    for page in pages:
        frame_of = {(started, tool): (tcid, t) for tcid, tool, started, t in page["frames"]}
        for started, tool, t_dom in page["dom"]:
            tcid, t_frame = frame_of.get((started, tool), (None, None))
            hops = dict(cards.get(f"{tcid}@{started}", {})) if tcid else {}
            if hops.get("collision"):
                continue
            t0 = hops.get("t0") or started / 1000
            row = {"tool_call_id": tcid, "tool": tool or hops.get("tool"), "t0": t0}
            for hop in HOPS[:-2]:
                if isinstance(hops.get(hop), float):
                    row[hop] = (hops[hop] - t0) * 1000
            if t_frame is not None:
                row["frame"] = t_frame - t0 * 1000
            row["dom"] = t_dom - t0 * 1000
            row["batch"] = hops.get("batch")
            row["frame_bytes"] = hops.get("frame_bytes")
            rows.append(row)
    return rows


def table(rows: list[dict[str, Any]], title: str) -> dict[str, Any]:
    summary: dict[str, Any] = {"cards": len(rows)}
    print(f"\n{title} — {len(rows)} cards")
    print(f"  {'hop':<10} {'p50 ms':>8} {'p95 ms':>8} {'max':>8}   {'step p50':>8} {'step p95':>8}")
    previous = None
    for hop in HOPS:
        values = [r[hop] for r in rows if hop in r]
        if not values:
            continue
        steps = [r[hop] - r[previous] for r in rows if hop in r and previous in r] if previous else values
        summary[hop] = {
            "p50": pct(values, 50),
            "p95": pct(values, 95),
            "max": pct(values, 100),
            "step_p50": pct(steps, 50),
            "step_p95": pct(steps, 95),
        }
        s = summary[hop]
        print(
            f"  {hop:<10} {s['p50']!s:>8} {s['p95']!s:>8} {s['max']!s:>8}   {s['step_p50']!s:>8} {s['step_p95']!s:>8}"
        )
        previous = hop
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.hopbench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (default: start Finch)")
    parser.add_argument("--anchor", action="store_true", help="the server is the bare Reflex anchor app")
    parser.add_argument("--tabs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--sse", action="store_true", help="also measure the plain SSE page on the same server"
    )
    parser.add_argument("--only-sse", action="store_true")
    parser.add_argument("--redis", help="REFLEX_REDIS_URL for the started server")
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the started server")
    parser.add_argument("--lag", action="store_true", help="record event-loop stalls (5 ms ticker)")
    parser.add_argument("--warmup", type=int, default=1, help="an unmeasured first round (default 1)")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between rounds")
    parser.add_argument(
        "--no-animations", action="store_true", help="experiment: CSS animations off in the page"
    )
    parser.add_argument("--hold", action="store_true", help="keep the started server until Enter (profiling)")
    parser.add_argument("--label", default="")
    parser.add_argument("--log", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("FINCH_ENV_FILE", os.devnull)
    report: dict[str, Any] = {
        "label": args.label,
        "tabs": args.tabs,
        "rounds": args.rounds,
        "argv": sys.argv[1:] if argv is None else argv,
        "load_before": loadavg(),
    }
    with ExitStack() as stack:
        url = args.url or start_finch(stack, args)
        traced = not args.anchor
        if traced and args.lag:
            httpx.get(f"{url}/__hoptrace", params={"reset": 1, "lag": 1}, timeout=30)
        if not args.only_sse:
            pages = run_pages(url, args, sse=False)
            server = None
            try:
                server = httpx.get(f"{url}/__hoptrace", params={"reset": 1}, timeout=60).json()
                report["server_cards"] = server.get("cards", {})
            except (httpx.HTTPError, ValueError):
                pass
            rows = join(pages, server)
            report["reflex"] = table(
                rows, f"{args.label or ('anchor' if args.anchor else 'Finch')} tabs={args.tabs}"
            )
            report["reflex_rows"] = rows
            if server:
                report["pushes"] = server.get("pushes", [])
                report["frames"] = server.get("frames", [])
                report["lag"] = server.get("lag", [])
                if report["lag"]:
                    lags = [ms for _, ms in report["lag"]]
                    print(f"  loop stalls > 2 ms: {len(lags)}, p50 {pct(lags, 50)} ms, max {max(lags)} ms")
        if args.sse or args.only_sse:
            pages = run_pages(url, args, sse=True)
            rows = join(pages, None)
            report["sse"] = table(rows, f"SSE page tabs={args.tabs}")
        report["load_after"] = loadavg()
        report["cpu"] = CPU
        print(f"\n  load average before {report['load_before']}, after {report['load_after']}")
        if args.hold:
            input("server held; Enter to stop ")
    out = args.out or ROOT / "bench-results" / f"hop-{args.label or 'run'}-{time.strftime('%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"  JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
