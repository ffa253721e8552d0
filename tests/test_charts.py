"""Charts say what they show: the days covered, a price axis fitted to the prices, named trade markers."""

from __future__ import annotations

from finch_app.charts import mentions_bars, nice_domain, price_line, trade_dates


def rows(*closes: float) -> list[dict]:
    return [{"date": f"2026-11-{day:02d}", "close": close} for day, close in enumerate(closes, start=2)]


def test_a_price_line_is_titled_with_the_days_it_covers_and_its_change():
    chart = price_line(rows(200.0, 210.0, 190.0, 220.0), "NVDA", [])
    assert chart.title == "NVDA closing price, Nov 2 – Nov 5, 2026 (+10.0%)"
    assert [p["x"] for p in chart.points] == ["Nov 02", "Nov 03", "Nov 04", "Nov 05"]


def test_the_price_axis_fits_the_prices_instead_of_starting_at_zero():
    low, high = price_line(rows(172.3, 207.9, 190.0), "NVDA", []).y_domain
    assert 150 < low <= 172.3 and 207.9 <= high < 230
    assert nice_domain(0, 1234, from_zero=True)[0] == 0
    assert mentions_bars([{"ticker": "GME", "mentions": 900}]).y_domain[0] == 0


def test_trade_days_are_marked_and_named():
    trades = trade_dates(
        [
            {"ticker": "NVDA", "transaction_date": "2026-11-03", "member": "Jane Doe", "type": "Purchase"},
            {"ticker": "NVDA", "transaction_date": "2026-11-03", "member": "John Roe", "type": "Purchase"},
            {"ticker": "NVDA", "transaction_date": "2026-11-04", "insider": "A Person", "action": "Sale"},
            {"ticker": "NVDA", "transaction_date": "2026-12-30", "member": "Too Late", "type": "Sale"},
            {"ticker": "AAPL", "transaction_date": "2026-11-03", "member": "Other", "type": "Sale"},
        ],
        "NVDA",
    )
    chart = price_line(rows(200.0, 210.0, 190.0), "NVDA", trades)
    assert chart.markers == [
        {"x": "Nov 03", "label": "2 × Buy", "detail": "Nov 3: Jane Doe: Purchase; John Roe: Purchase"},
        {"x": "Nov 04", "label": "Sell", "detail": "Nov 4: A Person: Sale"},
    ]
