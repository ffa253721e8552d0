"""Connecting a brokerage from the browser: the "no portfolio yet" answer offers SnapTrade, the
portal opens in a popup (a loopback fake of SnapTrade's API and portal), and asking again
answers with the brokerage's positions. Without SnapTrade credentials there is no such button."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e.app_server import AppServer
from tests.fakes.snaptrade import FakeSnapTrade


@pytest.fixture(scope="module")
def snaptrade() -> Iterator[FakeSnapTrade]:
    fake = FakeSnapTrade().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def linked_finch(tmp_path_factory, snaptrade) -> Iterator[AppServer]:
    env = {
        "SNAPTRADE_CLIENT_ID": snaptrade.client_id,
        "SNAPTRADE_CONSUMER_KEY": snaptrade.consumer_key,
        "FINCH_SNAPTRADE_BASE_URL": snaptrade.base_url,
        "FINCH_SNAPTRADE_SYNC_INTERVAL_S": "0",
        "FINCH_SAMPLE_LATENCY_MS": "100",
    }
    with AppServer(tmp_path_factory.mktemp("finch-brokerage-e2e"), env=env) as server:
        yield server


def send(page, text: str) -> None:
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("send").click()


def test_connect_in_a_popup_then_ask_again_uses_the_brokerage(linked_finch, snaptrade, page):
    page.goto(linked_finch.url)
    send(page, "review my portfolio")
    callout = page.get_by_test_id("needs-auth")
    expect(callout).to_be_visible(timeout=10_000)
    expect(callout).to_contain_text("connect your brokerage")
    for label in ("Add holdings", "Import CSV", "Connect brokerage", "Load demo portfolio"):
        expect(callout.get_by_role("button", name=label)).to_be_visible()

    with page.expect_popup() as opened:
        callout.get_by_test_id("connect-brokerage").click()
    portal = opened.value
    expect(portal).to_have_url(f"{snaptrade.base_url}/portal?user=" + portal.url.split("user=")[1])
    portal.get_by_test_id("fake-portal-connect").click()
    expect(portal.get_by_test_id("fake-portal-done")).to_be_visible()
    portal.close()

    callout.get_by_test_id("ask-again").click()
    card = page.locator('[data-testid="tool-card"][data-tool="get_portfolio"]')
    expect(card).to_have_attribute("data-status", "completed", timeout=10_000)
    expect(card).to_contain_text("2 holdings")
    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_contain_text("Positions synced from your brokerage", timeout=10_000)
    expect(answer).to_contain_text("AAPL")
    expect(answer).to_contain_text("MSFT")

    # The panel knows the link, and syncs on demand.
    page.get_by_test_id("open-portfolio").click()
    panel = page.get_by_test_id("portfolio-panel")
    expect(panel.get_by_test_id("brokerage")).to_contain_text("linked through SnapTrade")
    expect(page.get_by_test_id("holding-row")).to_have_count(2)
    panel.get_by_test_id("sync-brokerage").click()
    expect(panel).to_contain_text("Synced 2 holdings from 1 account.")
    # No secret reached the page.
    secret = next(iter(snaptrade.users.values())).secret
    assert secret not in page.content()


def test_without_snaptrade_there_is_no_connect_button(finch, page):
    page.goto(finch.url)
    page.get_by_test_id("new-chat").click()
    send(page, "review my portfolio")
    card = page.locator('[data-testid="tool-card"][data-tool="get_portfolio"]')
    expect(card).to_have_attribute("data-status", "completed", timeout=15_000)
    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_be_visible(timeout=10_000)
    if answer.get_by_test_id("needs-auth").count():  # the shared server's user may already hold the demo
        expect(
            answer.get_by_test_id("needs-auth").get_by_role("button", name="Load demo portfolio")
        ).to_be_visible()
    assert page.get_by_test_id("connect-brokerage").count() == 0
    page.get_by_test_id("open-portfolio").click()
    expect(page.get_by_test_id("portfolio-panel")).to_be_visible()
    assert page.get_by_test_id("brokerage").count() == 0
    assert page.get_by_test_id("connect-brokerage").count() == 0
