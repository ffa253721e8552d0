"""What the page's main thread does between a card's event and the card's frame: a Chromium trace.

    python -m scripts.browser_trace http://127.0.0.1:3911 --rounds 4 --out /tmp/trace.json
    python -m scripts.browser_trace --analyse /tmp/trace.json

One tab asks `--rounds` questions (after one unmeasured round) under Chromium tracing. The page
probe of scripts/hopbench.py marks each card frame with its wall-clock arrival, which aligns the
trace's clock with the server's. The analysis prints the renderer main thread's busy time by
kind (script, paint, style, layout…) and, per card, the main-thread tasks that ran between the
event's creation and the frame's delivery to the page (what the frame waited behind).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CATEGORIES = [
    "devtools.timeline",
    "blink.user_timing",
    "v8.execute",
    "toplevel",
    "disabled-by-default-devtools.timeline",
    "blink",
    "renderer.scheduler",
]
KINDS = (
    "FunctionCall",
    "RunMicrotasks",
    "Paint",
    "PrePaint",
    "Commit",
    "UpdateLayoutTree",
    "Layout",
    "FireAnimationFrame",
    "Layerize",
    "EventDispatch",
    "MinorGC",
    "MajorGC",
    "HitTest",
)


def capture(url: str, rounds: int, out: Path, css: str = "") -> None:
    from playwright.sync_api import sync_playwright

    from scripts.hopbench import PROBE, PROMPT
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    probe = PROBE.replace(
        "window.__hop.frames.push([m[1], m[2], Number(m[3]), t]);",
        "window.__hop.frames.push([m[1], m[2], Number(m[3]), t]); performance.mark('W' + t);",
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True)
        context.add_init_script(probe)
        page = context.new_page()
        page.goto(url)
        page.get_by_test_id("send").wait_for()
        if css:
            page.add_style_tag(content=css)

        def ask(cards: int) -> None:
            page.get_by_test_id("composer").fill(PROMPT)
            page.get_by_test_id("send").click()
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stop\"]') && "
                'document.querySelectorAll(\'[data-testid="tool-card"][data-status="running"]\').length === 0 && '
                f"window.__hop.dom.length >= {cards}",
                polling=100,
            )

        ask(2)
        page.evaluate("() => { window.__hop.frames = []; window.__hop.dom = []; }")
        browser.start_tracing(page=page, path=str(out), categories=CATEGORIES)
        for n in range(1, rounds + 1):
            ask(2 * n)
        browser.stop_tracing()
        out.with_suffix(".hop.json").write_text(json.dumps(page.evaluate("window.__hop")))
        browser.close()


def analyse(path: Path) -> None:
    data = json.loads(path.read_text())
    events = data["traceEvents"] if isinstance(data, dict) else data
    hop = json.loads(path.with_suffix(".hop.json").read_text())
    names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name"
    }
    mains = [k for k, v in names.items() if v == "CrRendererMain"]
    main = max(mains, key=lambda k: sum(1 for e in events if (e.get("pid"), e.get("tid")) == k))
    spans = sorted(
        (e for e in events if (e.get("pid"), e.get("tid")) == main and e.get("ph") == "X"),
        key=lambda e: e["ts"],
    )
    marks = [e for e in events if e.get("name", "").startswith("W1")]
    offset = float(marks[0]["name"][1:]) * 1000 - marks[0]["ts"]  # wall µs = trace µs + offset
    tasks = [e for e in spans if e["name"] == "ThreadControllerImpl::RunTask"]
    wall = (spans[-1]["ts"] - spans[0]["ts"]) / 1e6
    print(f"renderer main thread: {sum(t['dur'] for t in tasks) / 1e6:.2f} s busy over {wall:.1f} s")
    kinds = collections.Counter()
    for e in spans:
        if e["name"] in KINDS:
            kinds[e["name"]] += e.get("dur", 0)
    for name, us in kinds.most_common():
        print(f"  {name:<18} {us / 1e6:6.2f} s")
    for _tcid, tool, started, arrived in hop["frames"]:
        begin, end = started * 1000 - offset, arrived * 1000 - offset
        print(
            f"\ncard {tool}: frame seen {arrived - started:.1f} ms after the event; main-thread tasks before it:"
        )
        for task in tasks:
            if task["ts"] + task["dur"] > begin and task["ts"] < end and task["dur"] > 1000:
                inner = collections.Counter()
                for e in spans:
                    if (
                        e is not task
                        and task["ts"] <= e["ts"] < task["ts"] + task["dur"]
                        and e["name"] in KINDS
                    ):
                        inner[e["name"]] += e.get("dur", 0)
                what = ", ".join(f"{n} {d / 1000:.1f}" for n, d in inner.most_common(4))
                print(f"  {(task['ts'] - begin) / 1000:+7.1f} ms  {task['dur'] / 1000:5.1f} ms  {what}")


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.browser_trace", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("url", nargs="?")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("/tmp/finch-trace.json"))
    parser.add_argument("--analyse", type=Path)
    parser.add_argument("--css", default="", help="a style sheet to add: what does the page cost without X?")
    args = parser.parse_args()
    if args.url:
        capture(args.url, args.rounds, args.out, args.css)
    analyse(args.analyse or args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
