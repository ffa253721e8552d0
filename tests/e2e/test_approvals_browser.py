"""Changes ask first, in a real browser: the card waits with its buttons, Approve lets the run go
on, Deny gets an answer that says so, and the question survives a reload and a server restart.

The model is the scripted loopback OpenAI server, so the test says exactly which change is asked
for; the tools, the approval flow and the database are the real ones.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.app_server import AppServer
from tests.e2e.conftest import on_conversation_page
from tests.e2e.test_chat_browser import ensure_demo_portfolio
from tests.fakes.openai_server import OpenAIServer, text, tool_call, tool_calls

BUY = {"ticker": "NVDA", "side": "buy", "shares": 10, "price": 120}
ASKED = "Record a purchase of 10 shares of NVDA at $120.00 (adds to your holding)"


def app_env(server: OpenAIServer) -> dict[str, str]:
    # The same settings baked into the page as the OpenAI module: the build is reused.
    return {
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": server.base_url,
        "FINCH_MODEL": "gpt-test",
        "FINCH_SAMPLE_LATENCY_MS": "300",
        "FINCH_CARD_FADE_MS": "60000",
    }


@pytest.fixture(scope="module")
def llm(tmp_path_factory) -> Iterator[tuple[OpenAIServer, AppServer]]:
    with OpenAIServer() as server:
        app = AppServer(tmp_path_factory.mktemp("finch-approvals-e2e"), env=app_env(server))
        with app:
            yield server, app


@pytest.fixture
def fake(llm) -> Iterator[OpenAIServer]:
    server, _ = llm
    server.reset()
    yield server
    server.reset()


def send(page, message: str) -> None:
    page.get_by_test_id("composer").fill(message)
    page.get_by_test_id("send").click()


def waiting_card(page):
    # The paused turn has moved into the transcript (its card is remounted there, so anything
    # typed into the live card before the move would be gone), and so has the page (a reason
    # typed before it moved to /c/<id> would be gone too).
    on_conversation_page(page)
    expect(page.get_by_test_id("assistant-message").last).to_have_attribute(
        "data-status", "awaiting_approval", timeout=10_000
    )
    card = page.locator('[data-testid="tool-card"][data-tool="record_trade"]')
    expect(card).to_have_attribute("data-status", "awaiting_approval")
    expect(card.get_by_test_id("approval-description")).to_have_text(ASKED)
    expect(card.get_by_test_id("approve")).to_be_visible()
    expect(card.get_by_test_id("deny")).to_be_visible()
    return card


def test_the_card_waits_and_approving_completes_it(fake, llm, page):
    _, app = llm
    fake.enqueue(
        tool_calls(tool_call("record_trade", BUY, id="call_trade")), text("Recorded: you now hold 65 NVDA.")
    )
    page.goto(app.url)
    ensure_demo_portfolio(page)
    send(page, "I bought 10 shares of NVDA at 120")
    card = waiting_card(page)
    expect(page.get_by_test_id("send")).to_be_visible()  # nothing runs while it waits
    card.get_by_test_id("approve").click()

    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_contain_text("Recorded: you now hold 65 NVDA.", timeout=10_000)
    expect(answer).to_have_attribute("data-status", "completed")
    done = page.locator('[data-testid="tool-card"][data-tool="record_trade"]')
    expect(done).to_have_attribute("data-status", "completed")
    # The decision is kept with the step: after a reload the answer's steps show who approved it.
    page.reload()
    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_have_attribute("data-status", "completed")
    # Open the steps without a click: right after a reload the page may still be showing the
    # just-ended turn, whose steps line waits for its cards to fade.
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    expect(answer.get_by_test_id("step-audit")).to_contain_text("Approved by you in the browser · ")
    page.get_by_test_id("open-portfolio").click()
    expect(page.get_by_test_id("holding-row").filter(has_text="NVDA")).to_contain_text("65")
    fake.assert_complete()


def test_denying_with_a_reason_gets_an_answer_that_says_so(fake, llm, page):
    _, app = llm
    fake.enqueue(
        tool_calls(tool_call("record_trade", BUY, id="call_trade")),
        text("Understood: I did not record the purchase."),
    )
    page.goto(app.url)
    ensure_demo_portfolio(page)
    send(page, "I bought 10 shares of NVDA at 120")
    card = waiting_card(page)
    card.get_by_test_id("deny-reason").fill("wrong price")
    card.get_by_test_id("deny").click()

    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_contain_text("did not record the purchase", timeout=10_000)
    expect(page.locator('[data-testid="tool-card"][data-tool="record_trade"]')).to_have_attribute(
        "data-status", "denied"
    )
    told = [m for m in fake.requests[-1]["messages"] if m["role"] == "tool"]
    assert "Denied" in told[-1]["content"] and "wrong price" in told[-1]["content"]
    page.get_by_test_id("open-portfolio").click()
    expect(page.get_by_test_id("holding-row").filter(has_text="NVDA")).to_contain_text("55")


def test_a_reload_while_waiting_keeps_the_question_and_its_buttons(fake, llm, page):
    _, app = llm
    fake.enqueue(
        tool_calls(tool_call("record_trade", BUY, id="call_trade")), text("Recorded after the reload.")
    )
    page.goto(app.url)
    ensure_demo_portfolio(page)
    send(page, "I bought 10 shares of NVDA at 120")
    waiting_card(page)
    page.reload()
    card = waiting_card(page)
    expect(page.get_by_test_id("stop")).to_be_visible()
    card.get_by_test_id("approve").click()
    expect(page.get_by_test_id("assistant-message").last).to_contain_text(
        "Recorded after the reload.", timeout=10_000
    )


def pause_saved(server, conversation_id: str) -> None:
    """Wait for the pause to be written (what a restart reads): the page is told first, and the
    run's rows follow a moment later (finch_app/runs/recorder.py)."""
    for _ in range(100):
        detail = httpx.get(f"{server.url}/api/conversations/{conversation_id}", timeout=10).json()
        if detail["messages"][-1]["status"] == "awaiting_approval":
            return
        time.sleep(0.1)
    raise AssertionError(f"the pause was never saved: {detail['messages'][-1]}")


def test_a_server_killed_while_waiting_goes_on_after_a_restart(llm, page):
    fake, server = llm  # the module's server: killed and started again on its data dir and build
    fake.reset()
    fake.enqueue(
        tool_calls(tool_call("record_trade", BUY, id="call_trade")), text("Recorded after the restart.")
    )
    try:
        page.goto(server.url)
        ensure_demo_portfolio(page)
        send(page, "I bought 10 shares of NVDA at 120")
        waiting_card(page)
        conversation = page.url.removeprefix(server.url)
        pause_saved(server, conversation.removeprefix("/c/"))
        server.kill(signal.SIGKILL)

        server.start()  # same data dir, a new process
        page.goto(server.url + conversation)
        waiting_card(page).get_by_test_id("approve").click()
        expect(page.get_by_test_id("assistant-message").last).to_contain_text(
            "Recorded after the restart.", timeout=15_000
        )
        page.get_by_test_id("open-portfolio").click()
        expect(page.get_by_test_id("holding-row").filter(has_text="NVDA")).to_contain_text("65")
        fake.assert_complete()
    finally:
        fake.reset()
