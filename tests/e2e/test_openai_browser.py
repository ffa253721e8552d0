"""The real-model path as a user sees it: the whole app, in a real browser, talking to the
scripted loopback OpenAI server (streaming, parallel tool calls, clean failures).

One fake server (in this process, on a background thread) and one prod-mode app
(pointed at it through OPENAI_BASE_URL) serve every test of the module; each test scripts
the fake first, then drives the UI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e.app_server import AppServer
from tests.e2e.test_chat_browser import ensure_demo_portfolio
from tests.fakes.openai_server import OpenAIServer, http_error, text, tool_call, tool_calls

MODEL = "gpt-test"
TOOL_LATENCY_MS = 2000
MAX_RETRIES = 1


@pytest.fixture(scope="module")
def llm(tmp_path_factory) -> Iterator[tuple[OpenAIServer, AppServer]]:
    """The scripted OpenAI server and Finch configured to use it."""
    with OpenAIServer() as server:
        app = AppServer(
            tmp_path_factory.mktemp("finch-openai-e2e"),
            env={
                "OPENAI_API_KEY": "test-key",
                "OPENAI_BASE_URL": server.base_url,  # http://127.0.0.1:<port>/v1
                "FINCH_MODEL": MODEL,
                "FINCH_SAMPLE_LATENCY_MS": str(TOOL_LATENCY_MS),
                "FINCH_MODEL_TIMEOUT_S": "8",
                "FINCH_MODEL_MAX_RETRIES": str(MAX_RETRIES),
                "FINCH_CARD_FADE_MS": "60000",
            },
        )
        with app:
            yield server, app


@pytest.fixture
def fake(llm) -> Iterator[OpenAIServer]:
    server, _ = llm
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def app(llm) -> AppServer:
    return llm[1]


def send(page, message: str) -> None:
    page.get_by_test_id("composer").fill(message)
    page.get_by_test_id("send").click()


def cards(page, status: str | None = None, tool: str | None = None):
    selector = '[data-testid="tool-card"]'
    if tool:
        selector += f'[data-tool="{tool}"]'
    if status:
        selector += f'[data-status="{status}"]'
    return page.locator(selector)


def test_parallel_tool_calls_run_together_then_streamed_answer(fake, app, page):
    answer_text = "You hold NVDA, and Senators bought NVDA recently. Both look active."
    fake.enqueue(
        tool_calls(
            tool_call("get_portfolio", {}, id="call_pf"),
            tool_call("get_recent_senate_trades", {"limit": 5}, id="call_senate"),
            interleave=True,
        ),
        text(answer_text),
    )
    page.goto(app.url)
    expect(page.get_by_test_id("model-label")).to_contain_text(MODEL)
    expect(page.get_by_test_id("offline-banner")).to_have_count(0)
    ensure_demo_portfolio(page)  # so get_portfolio has quotes to fetch and takes its 2 s

    send(page, "compare my portfolio with recent senate trades")
    expect(cards(page)).to_have_count(2, timeout=10_000)
    expect(cards(page, tool="get_portfolio")).to_have_count(1)
    expect(cards(page, tool="get_recent_senate_trades")).to_have_count(1)
    # Both calls of the one response run at the same time (each takes 2 s).
    expect(cards(page, status="running")).to_have_count(2)
    expect(page.get_by_test_id("stop")).to_be_visible()
    expect(cards(page, tool="get_recent_senate_trades")).to_contain_text("limit=5")

    expect(cards(page, status="completed")).to_have_count(2, timeout=10_000)
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_count(1, timeout=10_000)
    expect(answer).to_have_attribute("data-status", "completed")
    expect(answer).to_contain_text(answer_text)
    expect(answer.locator("summary")).to_contain_text("Used 2 tools")
    expect(page.get_by_test_id("send")).to_be_visible()
    # After its first answer the model names the conversation; the list and the header say so.
    fake_title = fake.title
    expect(page.locator(".finch-title")).to_have_text(fake_title, timeout=10_000)
    expect(page.get_by_test_id("conversation-link").filter(has_text=fake_title)).to_have_count(1)
    assert (
        "compare my portfolio with recent senate trades" in fake.title_requests[0]["messages"][1]["content"]
    )

    fake.assert_complete()
    assert len(fake.requests) == 2
    first, second = fake.requests
    assert first["model"] == MODEL and first["stream"] is True
    assert {t["function"]["name"] for t in first["tools"]} >= {"get_portfolio", "get_recent_senate_trades"}
    messages = second["messages"]
    asked = [m for m in messages if m["role"] == "assistant" and m.get("tool_calls")]
    assert len(asked) == 1
    assert [c["id"] for c in asked[0]["tool_calls"]] == ["call_pf", "call_senate"]
    tool_messages = [m for m in messages if m["role"] == "tool"]
    assert len(tool_messages) == 2
    assert {m["tool_call_id"] for m in tool_messages} == {"call_pf", "call_senate"}
    # The tool results follow the assistant message that asked for them.
    assert messages.index(asked[0]) < min(messages.index(m) for m in tool_messages)
    assert all(m["content"] for m in tool_messages)


def test_answer_streams_into_the_page_before_it_is_final(fake, app, page):
    words = [f"word{i:02d}" for i in range(60)]
    full = "STREAM-BEGIN " + " ".join(words) + " STREAM-END"
    fake.enqueue(text(full, chunks=40, delay_s=0.08))
    page.goto(app.url)
    # Record every text the streaming bubble shows, as the DOM changes.
    page.evaluate(
        """() => {
            window.__streamed = [];
            new MutationObserver(() => {
                const el = document.querySelector('[data-testid="streaming-message"]');
                if (el) {
                    const t = el.textContent;
                    if (window.__streamed[window.__streamed.length - 1] !== t) window.__streamed.push(t);
                }
            }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    send(page, "tell me a long story")

    streaming = page.get_by_test_id("streaming-message")
    expect(streaming).to_contain_text("STREAM-BEGIN", timeout=10_000)
    # Partial text is on screen while the answer is still arriving.
    assert page.get_by_test_id("assistant-message").count() == 0
    assert "STREAM-END" not in streaming.inner_text()

    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_count(1, timeout=15_000)
    expect(answer).to_contain_text("STREAM-END")
    expect(answer).to_contain_text("word59")
    expect(answer).to_have_attribute("data-status", "completed")
    expect(streaming).to_have_count(0)

    snapshots = page.evaluate("window.__streamed")
    partial = [s for s in snapshots if "STREAM-BEGIN" in s and "STREAM-END" not in s]
    assert len(partial) >= 3, f"expected several partial renders, saw {snapshots!r}"
    lengths = [len(s) for s in partial]
    assert lengths == sorted(lengths), "streamed text should only grow"
    fake.assert_complete()


def test_rejected_api_key_is_a_clear_persisted_error(fake, app, page):
    fake.enqueue(http_error(401))
    page.goto(app.url)
    send(page, "review my portfolio please")

    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_count(1, timeout=10_000)
    expect(answer).to_have_attribute("data-status", "error")
    expect(answer).to_contain_text("OPENAI_API_KEY")
    expect(answer).to_contain_text("HTTP 401")
    expect(answer).not_to_contain_text("you can try again")
    expect(page.get_by_test_id("user-message")).to_have_text("review my portfolio please")
    expect(page.get_by_test_id("send")).to_be_visible()
    assert cards(page, status="running").count() == 0
    assert "test-key" not in page.content()
    assert len(fake.requests) == 1  # a 401 is not retried

    # The URL names the conversation (page.url is read by the matcher, not before it).
    expect(page).to_have_url(re.compile(re.escape(app.url) + r"/c/[0-9a-f]+$"))
    page.reload()
    expect(page.get_by_test_id("user-message")).to_have_text("review my portfolio please")
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_count(1)
    expect(answer).to_have_attribute("data-status", "error")
    expect(answer).to_contain_text("OPENAI_API_KEY")
    fake.assert_complete()


def test_broken_tool_arguments_fail_that_card_only(fake, app, page):
    fake.enqueue(
        tool_calls(
            tool_call("get_recent_house_trades", '{"limit": 5', id="call_broken"),
            tool_call("get_portfolio", {}, id="call_ok"),
        ),
        text("The House data could not be read, but here is your portfolio."),
    )
    page.goto(app.url)
    send(page, "house trades and my portfolio")

    broken = cards(page, tool="get_recent_house_trades")
    ok = cards(page, tool="get_portfolio")
    expect(broken).to_have_attribute("data-status", "error", timeout=10_000)
    expect(broken).to_contain_text("Error:")
    expect(broken).to_contain_text("not valid JSON")
    expect(ok).to_have_attribute("data-status", "completed", timeout=10_000)
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_contain_text("here is your portfolio", timeout=10_000)
    expect(answer).to_have_attribute("data-status", "completed")
    assert cards(page, status="running").count() == 0

    fake.assert_complete()
    tool_messages = {m["tool_call_id"]: m for m in fake.requests[1]["messages"] if m["role"] == "tool"}
    assert set(tool_messages) == {"call_broken", "call_ok"}
    assert tool_messages["call_broken"]["content"].startswith("Error:")


def test_server_errors_after_retries_say_try_again(fake, app, page):
    fake.enqueue(*[http_error(500, retry_after_ms=50) for _ in range(MAX_RETRIES + 1)])
    page.goto(app.url)
    send(page, "what is trending on reddit")

    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_count(1, timeout=10_000)
    expect(answer).to_have_attribute("data-status", "error")
    expect(answer).to_contain_text("HTTP 500")
    expect(answer).to_contain_text("you can try again")
    expect(page.get_by_test_id("user-message")).to_have_text("what is trending on reddit")
    assert cards(page, status="running").count() == 0
    fake.assert_complete()
    assert len(fake.requests) == MAX_RETRIES + 1
