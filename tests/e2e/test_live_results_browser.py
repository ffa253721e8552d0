"""Results from live sources (loopback copies the test can hold): parallel tools finish in their
own order, and a long tool's rows join its table as they come.

(Its own module: no other server of this process is running then, so it starts on the port and
reuses the build of the server before it, whose card fade it shares.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_chat_browser import send


@pytest.fixture(scope="module")
def live_sources(tmp_path_factory):
    """Finch in live mode against loopback copies of every data source, which the test can hold."""
    from tests.e2e.app_server import AppServer
    from tests.fakes.data_sources import DataSourcesServer

    with DataSourcesServer() as sources:
        env = {
            **sources.env(),
            "FINCH_DATA_MODE": "live",
            "FINCH_SEC_CONTACT": "tests@finch.example",
            "FINCH_CARD_FADE_MS": "60000",
        }
        with AppServer(tmp_path_factory.mktemp("live"), env=env) as app:
            yield app, sources


def add_holdings(page, *symbols: str) -> None:
    page.get_by_test_id("open-portfolio").click()
    for symbol in symbols:
        page.get_by_placeholder("AAPL").fill(symbol)
        page.get_by_placeholder("10").fill("10")
        page.get_by_test_id("add-holding").click()
        expect(page.get_by_test_id("holding-row").filter(has_text=symbol)).to_be_visible()
    page.get_by_label("Close").click()


def test_parallel_tools_finish_in_their_own_order(live_sources, page):
    app, sources = live_sources
    page.goto(app.url)
    add_holdings(page, "AAPL", "NVDA")
    page.get_by_test_id("new-chat").click()
    sources.hold("yahoo")  # the portfolio's quotes wait; the Senate file does not
    send(page, "compare my portfolio with recent senate trades")
    portfolio = page.locator('[data-testid="tool-card"][data-tool="get_portfolio"]')
    senate = page.locator('[data-testid="tool-card"][data-tool="get_recent_senate_trades"]')
    expect(senate).to_have_attribute("data-status", "completed", timeout=10_000)
    expect(portfolio).to_have_attribute("data-status", "running")
    sources.release("yahoo", 2)
    expect(portfolio).to_have_attribute("data-status", "completed", timeout=10_000)
    expect(page.get_by_test_id("assistant-message")).to_contain_text(
        "Your portfolio vs Senate trades", timeout=10_000
    )
    # Both cards belong to one group, in the order the model asked for them.
    assert page.locator(".finch-cards [data-testid=tool-card]").evaluate_all(
        "els => els.map(e => e.dataset.tool)"
    ) == [
        "get_portfolio",
        "get_recent_senate_trades",
    ]


def test_rows_of_a_long_tool_arrive_in_batches(live_sources, page):
    """Insider activity across a portfolio: each ticker's filings join the table as they come."""
    app, sources = live_sources
    page.goto(app.url)
    page.get_by_test_id("new-chat").click()
    sources.hold("sec_submissions")
    send(page, "insider trades in my portfolio")
    card = page.locator('[data-testid="tool-card"][data-tool="get_portfolio_insider_activity"]')
    expect(card).to_contain_text("0/2 tickers", timeout=10_000)
    expect(page.get_by_test_id("resource-link")).to_have_count(0)

    sources.release("sec_submissions")  # the first ticker's filings
    link = page.get_by_test_id("resource-link")
    expect(link).to_contain_text("rows so far", timeout=10_000)
    first = int(link.inner_text().split(": ")[1].split(" ")[0])
    item = page.get_by_test_id("resource-item")
    expect(item).to_have_attribute("data-partial", "true")
    expect(card).to_have_attribute("data-status", "running")

    sources.release("sec_submissions")  # the second
    expect(card).to_have_attribute("data-status", "completed", timeout=10_000)
    expect(link).to_contain_text("Saved: Insider trades in your holdings (")
    final = int(link.inner_text().split("(")[1].split(" ")[0])
    assert final > first > 0
    expect(item).to_have_attribute("data-partial", "false")
    expect(item).to_have_attribute("data-rows", str(final))
