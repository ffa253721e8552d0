"""A chat people would choose, at both widths (a laptop, 1440×900, and a phone, 390×844): the
drawers, the keyboard, confirmations and Undo, copy, edit and resend, rename, search, export,
"Latest" and older messages as you scroll up."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.app_server import AppServer
from tests.e2e.conftest import browser_page

SIZES = {"laptop": (1440, 900), "phone": (390, 844)}
TRANSCRIPT_PAGE = 4


@pytest.fixture(scope="module")
def finch(tmp_path_factory) -> Iterator[AppServer]:
    env = {
        "FINCH_SAMPLE_LATENCY_MS": "300",
        "FINCH_CARD_FADE_MS": "800",
        # A short first page, so a few questions make a conversation with older messages to load.
        "FINCH_TRANSCRIPT_PAGE": str(TRANSCRIPT_PAGE),
    }
    with AppServer(tmp_path_factory.mktemp("finch-habits"), env=env) as server:
        yield server


@pytest.fixture(params=list(SIZES))
def size(request) -> str:
    return request.param


@pytest.fixture
def page(browser, size, request) -> Iterator[Page]:
    width, height = SIZES[size]
    with browser_page(
        browser, request, viewport={"width": width, "height": height}, accept_downloads=True
    ) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        yield page


def phone(page: Page) -> bool:
    return page.viewport_size["width"] < 760


def loaded(page: Page) -> None:
    """Wait for the page's state (the model's name comes with it): React has taken the page over
    by then, and a tap counts. A tap on a page just loaded, before that, can be lost."""
    expect(page.get_by_test_id("model-label").locator("strong")).not_to_be_empty()


def conversations(page: Page) -> None:
    """Show the conversation list (on a phone it is a drawer behind the menu button)."""
    if phone(page):
        loaded(page)
        page.get_by_test_id("open-sidebar").click()
    expect(page.get_by_test_id("new-chat")).to_be_visible()


def new_conversation(server: AppServer, question: str) -> str:
    """A conversation made over the API (fast, and the same store the page reads)."""
    reply = httpx.post(server.url + "/api/chat", json={"message": question}, timeout=30).json()
    return reply["conversation_id"]


def ask(page: Page, question: str) -> None:
    page.get_by_test_id("composer").fill(question)
    page.get_by_test_id("composer").press("Enter")
    expect(page.get_by_test_id("send")).to_be_visible(timeout=20_000)


# --- the phone: drawers ------------------------------------------------------------------------------


def test_the_conversation_list_and_results_are_drawers_on_a_phone(finch, page):
    first = new_conversation(finch, "get recent senate trades")
    page.goto(finch.url)
    sidebar, results = page.get_by_test_id("new-chat"), page.get_by_test_id("results-panel")
    if not phone(page):
        # Beside the chat on a laptop: no menu buttons, nothing to open.
        expect(sidebar).to_be_visible()
        expect(results).to_be_visible()
        expect(page.get_by_test_id("open-sidebar")).to_be_hidden()
        expect(page.get_by_test_id("open-results")).to_be_hidden()
        return

    # A phone starts with both drawers closed: the chat, the suggestions and Send are in view.
    expect(sidebar).to_be_hidden()
    expect(results).to_be_hidden()
    expect(page.get_by_test_id("suggestion").first).to_be_visible()
    expect(page.get_by_test_id("send")).to_be_in_viewport()
    loaded(page)

    page.get_by_test_id("open-sidebar").click()
    expect(sidebar).to_be_in_viewport()
    expect(page.get_by_test_id("open-portfolio")).to_be_visible()
    expect(page.get_by_test_id("settings-link")).to_be_visible()
    page.keyboard.press("Escape")
    expect(sidebar).to_be_hidden()

    # Picking a conversation opens it and closes the drawer.
    page.get_by_test_id("open-sidebar").click()
    page.locator(f'[data-testid="conversation-link"][href="/c/{first}"]').click()
    expect(page).to_have_url(finch.url + f"/c/{first}")
    expect(page.get_by_test_id("assistant-message")).to_contain_text("Recent Senate trades")
    expect(sidebar).to_be_hidden()

    # Results open from the header, and close again.
    page.get_by_test_id("open-results").click()
    expect(results).to_be_in_viewport()
    expect(page.get_by_test_id("resource-item")).to_have_count(1)
    page.get_by_test_id("close-results").click()
    expect(results).to_be_hidden()

    # New chat from the drawer: a fresh page, the drawer closed.
    page.get_by_test_id("open-sidebar").click()
    page.get_by_test_id("new-chat").click()
    expect(page).to_have_url(finch.url + "/")
    expect(sidebar).to_be_hidden()


# --- the keyboard ---------------------------------------------------------------------------------------


def test_focus_returns_to_the_composer_however_a_message_is_sent(finch, page):
    page.goto(finch.url)
    composer = page.get_by_test_id("composer")
    page.get_by_test_id("suggestion").filter(has_text="What's trending on Reddit?").click()
    expect(page.get_by_test_id("assistant-message")).to_contain_text("Trending on Reddit", timeout=20_000)
    expect(composer).to_be_focused()

    composer.fill("get recent house trades")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("assistant-message")).to_have_count(2, timeout=20_000)
    expect(composer).to_be_focused()

    composer.fill("what's the price of AAPL")
    composer.press("Enter")
    expect(page.get_by_test_id("assistant-message")).to_have_count(3, timeout=20_000)
    expect(composer).to_be_focused()
    expect(composer).to_have_value("")


def test_escape_closes_the_portfolio_and_the_table_viewer(finch, page):
    new_conversation(finch, "get recent senate trades")
    page.goto(finch.url)
    conversations(page)
    page.get_by_test_id("open-portfolio").click()
    panel = page.get_by_test_id("portfolio-panel")
    expect(panel).to_be_visible()
    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)

    if phone(page):
        page.get_by_test_id("open-sidebar").click()
    page.get_by_test_id("conversation-link").filter(has_text="Recent Senate trades").first.click()
    if phone(page):
        page.get_by_test_id("open-results").click()
    page.get_by_test_id("resource-item").first.click()
    viewer = page.get_by_test_id("resource-viewer")
    expect(viewer.get_by_test_id("resource-table")).to_be_visible()
    page.keyboard.press("Escape")
    expect(viewer).to_have_count(0)


# --- destructive actions ---------------------------------------------------------------------------------


def test_replacing_or_removing_holdings_asks_or_offers_undo_and_deleting_asks(finch, page, tmp_path):
    export = tmp_path / "Positions.csv"
    export.write_text("Symbol,Quantity,Average Cost Basis\nMSFT,12,$300.00\nAMD,4,$120.00\n")
    page.goto(finch.url)
    conversations(page)
    page.get_by_test_id("open-portfolio").click()
    panel = page.get_by_test_id("portfolio-panel")
    page.get_by_test_id("load-demo").click()
    expect(page.get_by_test_id("holding-row")).to_have_count(8)
    expect(panel.locator(".finch-dropzone")).to_have_css("border-top-style", "dashed")

    # An import replaces everything: the panel says what would change and waits.
    page.get_by_test_id("import-csv").locator("input[type=file]").set_input_files(str(export))
    expect(page.get_by_test_id("import-confirm")).to_contain_text(
        "Replace your 8 holdings with the 2 in Positions.csv?"
    )
    expect(page.get_by_test_id("holding-row")).to_have_count(8)
    page.get_by_test_id("cancel-import").click()
    expect(page.get_by_test_id("import-confirm")).to_have_count(0)
    expect(page.get_by_test_id("holding-row")).to_have_count(8)
    again = tmp_path / "Positions2.csv"  # (the same file again would not change the input)
    again.write_text(export.read_text())
    page.get_by_test_id("import-csv").locator("input[type=file]").set_input_files(str(again))
    page.get_by_test_id("confirm-import").click()
    expect(page.get_by_test_id("holding-row")).to_have_count(2)
    expect(panel).to_contain_text("Imported 2 holdings from Positions2.csv, replacing your 8 holdings.")

    # Undo brings them back; "Remove all" acts at once and offers Undo too.
    page.get_by_test_id("undo-holdings").click()
    expect(page.get_by_test_id("holding-row")).to_have_count(8)
    page.get_by_test_id("remove-all").click()
    expect(page.get_by_test_id("holding-row")).to_have_count(0)
    expect(panel).to_contain_text("Removed all 8 holdings.")
    page.get_by_test_id("undo-holdings").click()
    expect(page.get_by_test_id("holding-row")).to_have_count(8)
    page.keyboard.press("Escape")

    # Deleting a conversation asks first, naming it; Cancel keeps it.
    conversation_id = new_conversation(finch, "what's trending on reddit")
    page.reload()
    conversations(page)
    row = page.locator(".finch-conv").filter(has=page.locator(f'[href="/c/{conversation_id}"]'))
    row.get_by_test_id("conversation-menu").click()
    row.get_by_test_id("delete-conversation").click()
    confirm = page.get_by_test_id("delete-confirm")
    expect(confirm).to_contain_text("Delete “Trending on Reddit”? Its messages and results are removed.")
    page.get_by_test_id("cancel-delete").click()
    expect(page.locator(f'[href="/c/{conversation_id}"]')).to_have_count(1)
    row.get_by_test_id("conversation-menu").click()
    row.get_by_test_id("delete-conversation").click()
    page.get_by_test_id("confirm-delete").click()
    # The confirmation stands in the row's place (no link while it shows): it goes once deleted.
    expect(confirm).to_have_count(0)
    expect(page.locator(f'[href="/c/{conversation_id}"]')).to_have_count(0)
    assert httpx.get(finch.url + f"/api/conversations/{conversation_id}").status_code == 404


# --- copy, edit and resend -------------------------------------------------------------------------------


def test_an_answer_copies_as_markdown_or_as_plain_text(finch, page):
    conversation_id = new_conversation(finch, "review my portfolio")
    page.goto(finch.url + f"/c/{conversation_id}")
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_contain_text("Your portfolio")
    answer.get_by_test_id("copy-markdown").click()
    expect(page.get_by_text("Copied as Markdown")).to_be_visible()  # a toast says so
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("### Your portfolio") and "| Symbol | Value | Gain | Weight |" in copied

    answer.get_by_test_id("copy-text").click()
    expect(page.get_by_text("Copied as plain text")).to_be_visible()
    plain = page.evaluate("navigator.clipboard.readText()")
    assert plain.startswith("Your portfolio\n") and "Symbol\tValue\tGain\tWeight" in plain
    assert "**" not in plain and "](" not in plain and "|" not in plain


def test_a_question_can_be_edited_and_sent_again(finch, page):
    conversation_id = new_conversation(finch, "get recent senate trades")
    httpx.post(
        finch.url + "/api/chat",
        json={"message": "what's trending on reddit", "conversation_id": conversation_id},
        timeout=30,
    )
    page.goto(finch.url + f"/c/{conversation_id}")
    questions = page.get_by_test_id("user-message")
    expect(questions).to_have_count(2)

    page.get_by_test_id("edit-question").first.click()
    composer = page.get_by_test_id("composer")
    expect(composer).to_have_value("get recent senate trades")
    expect(composer).to_be_focused()
    expect(page.get_by_test_id("editing")).to_be_visible()
    composer.fill("get recent house trades")
    composer.press("Enter")

    # The edited question replaced the first one and everything after it.
    expect(questions).to_have_text(["get recent house trades"])
    answers = page.get_by_test_id("assistant-message")
    expect(answers).to_have_count(1, timeout=20_000)
    expect(answers).to_contain_text("Recent House trades")
    expect(page.get_by_test_id("editing")).to_have_count(0)
    page.reload()
    expect(page.get_by_test_id("user-message")).to_have_text(["get recent house trades"])
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)


# --- rename, search, export --------------------------------------------------------------------------------


def test_the_conversation_menu_renames_and_exports_and_the_list_searches(finch, page):
    conversation_id = new_conversation(finch, "insider trades at nvidia")
    page.goto(finch.url + f"/c/{conversation_id}")
    conversations(page)
    link = page.locator(f'[data-testid="conversation-link"][href="/c/{conversation_id}"]')
    row = page.locator(".finch-conv").filter(has=link)

    # The menu is on the keyboard's path: Tab from the conversation's link reaches it.
    link.focus()
    page.keyboard.press("Tab")
    expect(row.get_by_test_id("conversation-menu")).to_be_focused()
    page.keyboard.press("Enter")
    expect(row.get_by_test_id("rename-conversation")).to_be_visible()
    page.keyboard.press("Tab")
    expect(row.get_by_test_id("rename-conversation")).to_be_focused()
    page.keyboard.press("Enter")
    title = page.get_by_test_id("rename-input")
    expect(title).to_be_focused()
    name = f"Nvidia insiders on {page.viewport_size['width']}px"  # the module runs once per width
    title.fill(name)
    title.press("Enter")
    expect(link).to_have_text(name)
    if not phone(page):
        expect(page.locator(".finch-title")).to_have_text(name)

    # Export: the conversation as Markdown, with its table.
    row.get_by_test_id("conversation-menu").click()
    with page.expect_download() as download:
        row.get_by_test_id("export-conversation").click()
    assert download.value.suggested_filename == f"finch-nvidia-insiders-on-{page.viewport_size['width']}px.md"
    document = open(download.value.path(), encoding="utf-8").read()
    assert document.startswith(f"# {name}\n")
    assert "## You\n\ninsider trades at nvidia" in document and "## Tables" in document
    assert re.search(r"### Insider trades: NVDA\n\n_\d+ rows · SEC EDGAR", document)
    assert "| NVDA | NVIDIA CORP |" in document  # its rows, in full

    # Search: by title or by what was said.
    other = new_conversation(finch, "what's trending on reddit")
    page.reload()
    conversations(page)
    search = page.get_by_test_id("conversation-search")
    search.fill(name.upper())
    expect(page.get_by_test_id("conversation-link")).to_have_text([name])
    search.fill("mentions in 24 h")  # words from the Reddit answer, not its title
    expect(page.locator(f'[data-testid="conversation-link"][href="/c/{other}"]')).to_have_count(1)
    expect(link).to_have_count(0)
    search.fill("no such words anywhere")
    expect(page.get_by_test_id("conversation-link")).to_have_count(0)
    expect(page.get_by_text("No conversation matches.")).to_be_visible()
    search.fill("")
    expect(link).to_have_count(1)


# --- long conversations ----------------------------------------------------------------------------------


def test_older_messages_load_as_you_scroll_up_and_latest_brings_you_back(finch, page):
    conversation_id = new_conversation(finch, "question 1: get recent senate trades")
    for n in range(2, 5):
        httpx.post(
            finch.url + "/api/chat",
            json={"message": f"question {n}: get recent senate trades", "conversation_id": conversation_id},
            timeout=30,
        )
    page.goto(finch.url + f"/c/{conversation_id}")
    questions = page.get_by_test_id("user-message")
    expect(questions).to_have_count(TRANSCRIPT_PAGE // 2)  # the latest page only
    jump = page.get_by_test_id("jump-latest")
    expect(jump).to_be_hidden()  # at the newest message

    # Scrolling to the top loads the page before (no button pressed).
    page.get_by_test_id("thread").hover()
    page.mouse.wheel(0, -20_000)
    expect(questions).to_have_count(4)
    expect(questions.first).to_have_text("question 1: get recent senate trades")
    expect(page.get_by_test_id("load-earlier")).to_be_hidden()

    expect(jump).to_be_visible()
    jump.click()
    expect(page.get_by_test_id("assistant-message").last).to_be_in_viewport()
    expect(jump).to_be_hidden()
