"""The walking skeleton as a user sees it, in a real browser against the prod-mode app."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect


def conversation_url(server) -> re.Pattern[str]:
    return re.compile(re.escape(server.url) + r"/c/[0-9a-f]{32}$")


def send(page, text: str) -> None:
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("send").click()


def ensure_demo_portfolio(page) -> None:
    page.get_by_test_id("open-portfolio").click()
    page.get_by_test_id("load-demo").click()
    expect(page.get_by_test_id("holding-row")).to_have_count(8)
    page.get_by_label("Close").click()


def test_tool_card_runs_live_then_answer_then_history_survives_reload(finch, page):
    page.goto(finch.url)
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    page.get_by_test_id("open-portfolio").click()  # start as a user with no holdings
    if page.get_by_role("button", name="Remove all").count():
        page.get_by_role("button", name="Remove all").click()
    expect(page.get_by_test_id("holding-row")).to_have_count(0)
    page.get_by_label("Close").click()
    send(page, "review my portfolio")

    # A new user has no holdings yet: the tool says so and the answer offers the way out.
    card = page.locator('[data-testid="tool-card"][data-tool="get_portfolio"]')
    expect(card).to_have_attribute("data-status", "completed", timeout=10_000)
    expect(card).to_contain_text("No holdings yet")
    expect(page.get_by_test_id("needs-auth")).to_be_visible()
    sent_at_ms = time.time() * 1000
    page.get_by_test_id("load-demo-and-ask").click()

    # The question is answered again, now with the demo portfolio.
    expect(card).to_have_attribute("data-status", "running", timeout=5_000)
    # While the tool still runs there is no answer yet, and the card says so.
    assert page.get_by_test_id("assistant-message").count() == 0
    expect(card).to_contain_text("Calling…")
    expect(page.get_by_test_id("stop")).to_be_visible()
    started_at = int(card.get_attribute("data-started-at"))
    assert sent_at_ms - 5_000 < started_at < sent_at_ms + 5_000

    expect(card).to_have_attribute("data-status", "completed", timeout=10_000)
    expect(card).to_contain_text(re.compile(r"Completed \((1\.[5-9]|[23]\.\d) s\)"))
    expect(card).to_contain_text("8 holdings")
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_count(1, timeout=10_000)
    expect(answer.locator("table")).to_be_visible()
    expect(answer).to_contain_text("sample data as of Nov 20, 2026")
    # The sample tool sleeps 1.5 s; the label reports what it measured.
    expect(answer.locator("summary")).to_have_text(re.compile(r"^Used 1 tool · (1\.[5-9]|[23]\.\d) s$"))
    expect(page.get_by_test_id("send")).to_be_visible()
    # The URL names the conversation, so a reload or a shared link opens it.
    expect(page).to_have_url(conversation_url(finch))

    # The completed card fades away (about 5 s) and leaves the summary on the answer.
    expect(card).to_have_css("opacity", "0", timeout=10_000)
    answer.locator("summary").click()
    expect(answer.get_by_test_id("tool-steps")).to_contain_text("get_portfolio")

    page.reload()
    link = page.get_by_test_id("conversation-link").filter(has_text="Portfolio review")
    expect(link).to_be_visible()
    expect(page.get_by_test_id("user-message")).to_have_text("review my portfolio")
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)
    expect(page.get_by_test_id("assistant-message")).to_contain_text("Your portfolio")


def test_holdings_can_be_added_and_removed_in_the_panel(finch, page):
    page.goto(finch.url)
    page.get_by_test_id("open-portfolio").click()
    panel = page.get_by_test_id("portfolio-panel")
    panel.get_by_placeholder("AAPL").fill("tsla")
    panel.get_by_placeholder("10").fill("3")
    panel.get_by_placeholder("150.00").fill("201.5")
    page.get_by_test_id("add-holding").click()
    expect(panel).to_contain_text("Saved TSLA: 3 shares at $201.50.")
    row = page.get_by_test_id("holding-row").filter(has_text="TSLA")
    expect(row).to_contain_text("$201.50")
    panel.get_by_placeholder("AAPL").fill("not a ticker")
    panel.get_by_placeholder("10").fill("1")
    page.get_by_test_id("add-holding").click()
    expect(panel.get_by_role("alert")).to_contain_text("is not a ticker symbol")
    row.get_by_role("button", name="Remove TSLA").click()
    expect(page.get_by_test_id("holding-row").filter(has_text="TSLA")).to_have_count(0)


def test_a_broker_csv_import_replaces_the_holdings(finch, page, tmp_path):
    export = tmp_path / "Portfolio_Positions.csv"
    export.write_text(
        "Account Number,Symbol,Description,Quantity,Average Cost Basis\n"
        "Z1,SPAXX**,MONEY MARKET,,\nZ1,MSFT,MICROSOFT CORP,12,$300.00\nZ1,AMD,ADVANCED MICRO,4,$120.00\n"
    )
    page.goto(finch.url)
    page.get_by_test_id("open-portfolio").click()
    expect(page.get_by_test_id("portfolio-panel")).to_be_visible()  # with the holdings (one update)
    before = page.get_by_test_id("holding-row").count()
    page.get_by_test_id("import-csv").locator("input[type=file]").set_input_files(str(export))
    if before:  # replacing holdings asks first, saying what changes
        expect(page.get_by_test_id("import-confirm")).to_contain_text(
            f"Replace your {before} holdings with the 2 in Portfolio_Positions.csv?"
        )
        page.get_by_test_id("confirm-import").click()
    expect(page.get_by_test_id("portfolio-panel")).to_contain_text(
        "Imported 2 holdings from Portfolio_Positions.csv"
    )
    expect(page.get_by_test_id("holding-row")).to_have_count(2)
    # The same file chosen again, as a user does (the drop zone opens the file chooser): it is taken
    # again and asks again (nothing stays selected that would have to be cleared).
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("import-csv").click()
    chooser.value.set_files(str(export))
    expect(page.get_by_test_id("import-confirm")).to_contain_text(
        "Replace your 2 holdings with the 2 in Portfolio_Positions.csv?"
    )
    page.get_by_test_id("cancel-import").click()
    expect(page.get_by_test_id("import-confirm")).to_have_count(0)
    page.get_by_label("Close").click()
    ensure_demo_portfolio(page)  # leave the shared server's user with the demo portfolio


def test_two_tools_for_a_combined_question_and_markdown_is_not_raw_html(finch, page):
    page.goto(finch.url)
    ensure_demo_portfolio(page)
    page.get_by_test_id("new-chat").click()
    send(page, "compare my portfolio with recent senate trades <img src=x onerror=alert(1)>")
    cards = page.get_by_test_id("tool-card")
    expect(cards).to_have_count(2)
    expect(page.locator('[data-testid="tool-card"][data-status="running"]')).to_have_count(2)
    expect(page.locator('[data-testid="tool-card"][data-status="completed"]')).to_have_count(
        2, timeout=10_000
    )
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_contain_text("Your portfolio vs Senate trades", timeout=10_000)
    expect(answer.locator("summary")).to_contain_text("Used 2 tools")
    # The user's text is shown as text, never parsed as HTML.
    expect(page.get_by_test_id("user-message").last).to_contain_text("<img src=x onerror=alert(1)>")
    assert page.locator("img[src=x]").count() == 0


def test_suggestion_chip_sends_and_new_chat_starts_fresh(finch, page):
    page.goto(finch.url)
    page.get_by_test_id("new-chat").click()
    page.get_by_text("What's trending on Reddit?").click()
    expect(page.locator('[data-testid="tool-card"][data-tool="get_reddit_trending_stocks"]')).to_be_visible()
    expect(page.get_by_test_id("assistant-message")).to_contain_text("Trending on Reddit", timeout=15_000)
    page.get_by_test_id("new-chat").click()
    expect(page.get_by_test_id("assistant-message")).to_have_count(0)
    expect(page).to_have_url(finch.url + "/")
    # The chat just left is listed, whichever tests ran before this one on this server.
    expect(page.get_by_test_id("conversation-link").filter(has_text="trending on Reddit")).not_to_have_count(
        0
    )


def test_empty_and_oversized_messages_are_refused_without_losing_text(finch, page):
    page.goto(finch.url)
    page.get_by_test_id("new-chat").click()
    send(page, "   ")
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("user-message")).to_have_count(0)
    long_text = "a" * 8_001
    send(page, long_text)
    expect(page.get_by_test_id("notice")).to_contain_text("limit is 8,000")
    assert page.get_by_test_id("composer").input_value() == long_text
    expect(page.get_by_test_id("user-message")).to_have_count(0)


def test_the_http_api_is_served_by_the_prod_app_and_shares_its_history(finch, page):
    import httpx

    assert httpx.get(finch.url + "/api/openapi.json").json()["info"]["title"] == "Finch API"
    reply = httpx.post(
        finch.url + "/api/chat", json={"message": "get recent senate trades"}, timeout=30
    ).json()
    assert reply["tool_calls"][0]["name"] == "get_recent_senate_trades"
    assert reply["tool_calls"][0]["status"] == "completed"
    assert "Recent Senate trades" in reply["content"]
    # Runs started over HTTP appear in the UI's conversation list.
    page.goto(finch.url)
    page.get_by_test_id("conversation-link").filter(has_text="Recent Senate trades").click()
    expect(page.get_by_test_id("assistant-message")).to_contain_text("Recent Senate trades")


def test_other_websites_cannot_use_the_backend(finch):
    import httpx

    foreign = httpx.options(
        finch.url + "/api/chat",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert foreign.headers.get("access-control-allow-origin") != "https://evil.example"
    assert foreign.headers.get("access-control-allow-origin") != "*"
    own = httpx.options(
        finch.url + "/api/chat", headers={"Origin": finch.url, "Access-Control-Request-Method": "POST"}
    )
    assert own.headers.get("access-control-allow-origin") == finch.url
