"""Runs that behave: stop, progress, reload, a second tab, retry (a server that dies:
`test_crash_browser.py`)."""

from __future__ import annotations

import re
import sqlite3

import pytest
from playwright.sync_api import expect

from tests.e2e.app_server import AppServer
from tests.e2e.conftest import browser_page, on_conversation_page
from tests.e2e.test_chat_browser import ensure_demo_portfolio

SLOW_MS = 6000


@pytest.fixture(scope="module")
def slow_finch(tmp_path_factory):
    """Sample tools that take 6 s, so a test can act (open a second tab, reload) while a card runs, even on a busy machine."""
    with AppServer(
        tmp_path_factory.mktemp("finch-slow"), env={"FINCH_SAMPLE_LATENCY_MS": str(SLOW_MS)}
    ) as server:
        yield server


def conversation_url(server) -> re.Pattern[str]:
    return re.compile(re.escape(server.url) + r"/c/[0-9a-f]{32}$")


def send(page, text: str) -> None:
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("send").click()


def rows(server: AppServer, sql: str) -> list[tuple]:
    with sqlite3.connect(server.data_dir / "finch.db") as db:
        return db.execute(sql).fetchall()


SHOWN_TEXT = """timer => {
    // What the odometer shows: each digit column that is showing has its strip of 0-9 slid up
    // one line per unit (the transform the compositor animates).
    let text = "";
    for (const digit of timer.querySelectorAll(".finch-digit")) {
        const box = digit.getBoundingClientRect();
        if (box.width === 0) continue;
        const shift = -new DOMMatrix(getComputedStyle(digit.firstElementChild).transform).m42;
        text += (digit.classList.contains("finch-digit-tenths") ? "." : "") + Math.round(shift / box.height) % 10;
    }
    return text;
}"""


def shown_seconds(timer) -> float:
    return float(timer.evaluate(SHOWN_TEXT))


def running_card(page, tool: str = "get_portfolio"):
    """The running card of `tool`, on the page of its conversation (where a click on Stop lands)."""
    on_conversation_page(page)
    card = page.locator(f'[data-testid="tool-card"][data-tool="{tool}"]')
    expect(card).to_have_attribute("data-status", "running", timeout=5_000)
    return card


def test_stop_cancels_the_tool_and_the_next_message_works(slow_finch, page):
    page.goto(slow_finch.url)
    send(page, "latest house trades")
    card = running_card(page, "get_recent_house_trades")
    page.get_by_test_id("stop").click()
    expect(card).to_have_attribute("data-status", "cancelled", timeout=3_000)  # its tool takes 6 s
    expect(card).to_contain_text("Cancelled")
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_attribute("data-status", "cancelled")
    expect(answer).to_contain_text("Stopped")
    expect(page.get_by_test_id("send")).to_be_visible()

    assert rows(slow_finch, "select status from run") == [("cancelled",)]
    assert rows(slow_finch, "select name, status from toolcall") == [("get_recent_house_trades", "cancelled")]
    assert ("cancelled",) in rows(slow_finch, "select status from message where role = 'assistant'")

    send(page, "what's trending on reddit?")
    expect(page.locator('[data-testid="tool-card"][data-tool="get_reddit_trending_stocks"]')).to_be_visible()
    expect(page.get_by_test_id("assistant-message").last).to_contain_text(
        "Trending on Reddit", timeout=15_000
    )
    # The stopped turn stayed in the transcript, marked.
    expect(page.locator('[data-testid="assistant-message"][data-status="cancelled"]')).to_have_count(1)


def test_progress_and_live_timer_show_on_a_running_card(slow_finch, page):
    page.goto(slow_finch.url)
    ensure_demo_portfolio(page)
    page.get_by_test_id("new-chat").click()
    send(page, "review my portfolio")
    card = running_card(page)
    expect(card).to_contain_text("Pricing 8 holdings…")
    expect(card.locator('[role="progressbar"]')).to_be_visible()
    timer = card.locator(".finch-timer")
    expect(timer).to_be_visible()
    # It counts up on its own, from 0.x to whole seconds (a digit per column, no leading zeros).
    page.wait_for_function(
        f"""() => parseFloat(({SHOWN_TEXT})(document.querySelector('[data-status="running"] .finch-timer'))) >= 1.2"""
    )
    assert re.fullmatch(r"[1-9]\.\d", timer.evaluate(SHOWN_TEXT))
    expect(card).to_have_attribute("data-status", "completed", timeout=15_000)
    expect(timer).to_be_hidden()


def test_reload_mid_run_keeps_the_cards_and_gets_the_answer(slow_finch, page):
    page.goto(slow_finch.url)
    page.get_by_test_id("new-chat").click()
    send(page, "get recent senate trades")
    running_card(page, "get_recent_senate_trades")
    page.wait_for_timeout(1_000)
    page.reload()
    card = page.locator('[data-testid="tool-card"][data-tool="get_recent_senate_trades"]')
    expect(card).to_have_attribute("data-status", "running", timeout=3_000)
    # The live timer resumes from the time already spent instead of restarting at 0.
    assert shown_seconds(card.locator(".finch-timer")) >= 1.0
    expect(page.get_by_test_id("user-message")).to_have_text("get recent senate trades")
    expect(card).to_have_attribute("data-status", "completed", timeout=15_000)
    expect(page.get_by_test_id("assistant-message")).to_contain_text("Recent Senate trades", timeout=15_000)


def test_a_second_tab_sees_the_run_and_its_result(slow_finch, browser, page, request):
    page.goto(slow_finch.url)
    page.get_by_test_id("new-chat").click()
    send(page, "latest house trades")
    running_card(page, "get_recent_house_trades")
    expect(page).to_have_url(conversation_url(slow_finch))

    with browser_page(browser, request) as other:
        other.goto(page.url)
        expect(other.get_by_test_id("user-message")).to_have_text("latest house trades")
        card = other.locator('[data-testid="tool-card"][data-tool="get_recent_house_trades"]')
        expect(card).to_have_attribute("data-status", "running")
        expect(card).to_have_attribute("data-status", "completed", timeout=15_000)
        expect(other.get_by_test_id("assistant-message")).to_contain_text(
            "Recent House trades", timeout=15_000
        )
        expect(page.get_by_test_id("assistant-message")).to_contain_text("Recent House trades")


def test_retry_after_a_stop_answers_the_same_question(slow_finch, page):
    page.goto(slow_finch.url)
    page.get_by_test_id("new-chat").click()
    send(page, "what's trending on reddit?")
    running_card(page, "get_reddit_trending_stocks")
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("assistant-message")).to_have_attribute("data-status", "cancelled")
    page.get_by_test_id("retry").click()
    expect(page.get_by_test_id("user-message")).to_have_count(1)
    expect(page.get_by_test_id("assistant-message")).to_contain_text("Trending on Reddit", timeout=15_000)
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)
    expect(page.get_by_test_id("regenerate")).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)
    expect(page.get_by_test_id("assistant-message")).to_have_attribute("data-status", "completed")
