"""Screenshots of Finch as a new user sees it: laptop (1440×900) and phone (390×844), light and dark.

Starts the prod-mode app on the offline model (its own data dir), walks a short session in
Chromium and saves PNGs under `test-artifacts/screens/` (or `--out`). For looking at the UI
after a change; not a test.

    .venv/bin/python -m scripts.screens [--out DIR] [--only phone|laptop]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.app_server import AppServer
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"laptop": (1440, 900), "phone": (390, 844)}


def _send(page: Page, text: str) -> None:
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("composer").press("Enter")
    expect(page.get_by_test_id("send")).to_be_visible(timeout=30_000)


def _session(page: Page, base: str, out: Path, name: str, phone: bool) -> None:
    def shot(what: str, full: bool = False) -> None:
        page.screenshot(path=str(out / f"{name}-{what}.png"), full_page=full)

    page.goto(base)
    expect(page.get_by_test_id("composer")).to_be_visible()
    page.wait_for_timeout(800)
    shot("01-empty")
    if phone:
        page.get_by_test_id("open-sidebar").click()
        expect(page.get_by_test_id("new-chat")).to_be_visible()
        page.wait_for_timeout(300)
        shot("02-sidebar")
    page.get_by_test_id("open-portfolio").click()
    panel = page.get_by_test_id("portfolio-panel")
    expect(panel).to_be_visible()
    page.get_by_test_id("load-demo").click()
    expect(page.get_by_test_id("holding-row")).to_have_count(8)
    page.wait_for_timeout(300)
    shot("03-portfolio")
    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)
    page.get_by_test_id("composer").fill("compare my portfolio with recent senate trades")
    page.get_by_test_id("composer").press("Enter")
    page.wait_for_timeout(700)
    shot("04-running")
    expect(page.get_by_test_id("send")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(300)
    shot("05-answer")
    page.wait_for_timeout(6000)
    shot("05b-answer-settled")
    _send(page, "insider trades in my portfolio")
    page.wait_for_timeout(6500)
    shot("06-insiders")
    _send(page, "show me NVDA over the last 6 months")
    page.wait_for_timeout(500)
    shot("07-price")
    page.get_by_test_id("composer").fill("I bought 10 shares of NVDA at 120")
    page.get_by_test_id("composer").press("Enter")
    expect(page.get_by_test_id("approve")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(300)
    shot("07b-approval-waiting")
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("send")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(6500)  # the cards fade; the answer's steps line takes their place
    page.get_by_test_id("assistant-message").last.locator("summary").click()
    page.wait_for_timeout(300)
    shot("07c-approval-audit")
    if phone:
        page.get_by_test_id("open-results").click()
        page.wait_for_timeout(300)
    shot("08-results")
    page.get_by_test_id("resource-item").first.click()
    expect(page.get_by_test_id("resource-table")).to_be_visible()
    page.wait_for_timeout(800)
    shot("09-viewer")
    page.keyboard.press("Escape")
    if phone:
        page.get_by_test_id("open-sidebar").click()
    page.get_by_test_id("conversation-menu").first.click()
    page.wait_for_timeout(300)
    shot("10-menu")
    page.get_by_test_id("delete-conversation").first.click()
    page.wait_for_timeout(300)
    shot("11-confirm-delete")
    page.get_by_test_id("cancel-delete").click()
    page.goto(base + "/settings")
    page.wait_for_timeout(800)
    shot("12-settings", full=True)
    page.goto(base)
    page.get_by_test_id("composer").press("Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.wait_for_timeout(200)
    shot("13-focus")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "screens")
    parser.add_argument("--only", choices=sorted(SIZES))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="finch-screens-"))
    env = {"FINCH_SAMPLE_LATENCY_MS": "900", "FINCH_CARD_FADE_MS": "5000"}
    with AppServer(data, env=env) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for scheme in ("light", "dark"):
            for size, (width, height) in SIZES.items():
                if args.only and size != args.only:
                    continue
                context = browser.new_context(
                    viewport={"width": width, "height": height},
                    color_scheme=scheme,
                    device_scale_factor=1,
                    has_touch=size == "phone",
                )
                page = context.new_page()
                page.set_default_timeout(20_000)
                try:
                    _session(page, server.url, args.out, f"{size}-{scheme}", size == "phone")
                except Exception as exc:  # noqa: BLE001 - keep the screenshots taken so far
                    page.screenshot(path=str(args.out / f"{size}-{scheme}-failed.png"))
                    print(f"{size} {scheme}: {exc}")
                context.close()
        browser.close()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
