"""Results you can see and keep: resource cards, the Results panel, tables, CSV and charts."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import expect

from tests.e2e.test_chat_browser import ensure_demo_portfolio, send

FIRST_SEEN = """
(() => {
  window.__firstSeen = {};
  const watch = () => {
    for (const id of ["resource-item", "resource-link", "assistant-message"]) {
      if (!window.__firstSeen[id] && document.querySelector(`[data-testid="${id}"]`)) {
        window.__firstSeen[id] = performance.now();
      }
    }
  };
  new MutationObserver(watch).observe(document.body, {subtree: true, childList: true, attributes: true});
})();
"""


def test_a_saved_result_is_announced_before_the_answer_and_opens_as_a_table(finch, page, tmp_path):
    page.goto(finch.url)
    page.get_by_test_id("new-chat").click()
    page.evaluate(FIRST_SEEN)
    send(page, "get recent senate trades")

    link = page.get_by_test_id("resource-link")
    expect(link).to_have_text("Saved: Recent Senate trades (20 rows)", timeout=10_000)
    item = page.get_by_test_id("resource-item")
    expect(item).to_have_attribute("data-kind", "senate_trades")
    expect(item).to_have_attribute("data-rows", "20")
    expect(page.get_by_test_id("assistant-message")).to_contain_text("Recent Senate trades", timeout=10_000)
    seen = page.evaluate("window.__firstSeen")
    assert seen["resource-item"] < seen["assistant-message"], seen
    assert seen["resource-link"] < seen["assistant-message"], seen

    item.click()
    table = page.get_by_test_id("resource-table")
    expect(table.locator("tbody tr")).to_have_count(20)
    expect(table.locator("td[data-type=ticker] .finch-chip").first).to_be_visible()
    expect(page.get_by_test_id("chart")).to_have_attribute("data-kind", "trades_per_week")

    # Sort by the Amount column, then descending.
    header = table.locator("th").filter(has_text="Member")
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    members = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert members == sorted(members, key=str.lower)
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    members = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert members == sorted(members, key=str.lower, reverse=True)

    # Filter, then clear.
    page.get_by_test_id("resource-filter").fill(members[0])
    page.get_by_test_id("resource-filter").press("Enter")
    expect(page.get_by_test_id("pager-info")).not_to_contain_text("· 20 rows")
    rows_with_member = table.locator("tbody tr").count()
    assert 1 <= rows_with_member < 20
    assert all(members[0] in row for row in table.locator("tbody tr").all_inner_texts())

    with page.expect_download() as download:
        page.get_by_test_id("download-csv").click()
    path = tmp_path / "trades.csv"
    download.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[0][:3] == ["Traded", "Member", "District"] and len(rows) == 21
    page.get_by_label("Close").click()
    expect(table).to_have_count(0)


def test_a_price_history_answer_draws_a_chart_and_links_its_table(finch, page):
    page.goto(finch.url)
    ensure_demo_portfolio(page)
    page.get_by_test_id("new-chat").click()
    send(page, "show me NVDA over the last 3 months")
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_contain_text("NVDA over 3 months", timeout=15_000)
    # The answer links its table; following the link opens it.
    answer.get_by_role("link", name="NVDA price history (3mo)").click()
    chart = page.get_by_test_id("chart")
    expect(chart).to_have_attribute("data-kind", "price_line", timeout=10_000)
    expect(chart.locator("svg path.recharts-line-curve")).to_have_count(1)
    d = chart.locator("svg path.recharts-line-curve").get_attribute("d")
    assert d and d.count("L") + d.count("C") > 20  # one segment per close
    expect(page.get_by_test_id("resource-table").locator("tbody tr")).to_have_count(50)  # first page
    expect(page.get_by_test_id("pager-info")).to_contain_text("Page 1 of 2")


def test_portfolio_allocation_chart(finch, page):
    page.goto(finch.url)
    ensure_demo_portfolio(page)
    page.get_by_test_id("new-chat").click()
    send(page, "review my portfolio")
    page.get_by_test_id("resource-link").click(timeout=15_000)
    chart = page.get_by_test_id("chart")
    expect(chart).to_have_attribute("data-kind", "allocation")
    expect(chart.locator("svg .recharts-pie-sector")).to_have_count(8)
