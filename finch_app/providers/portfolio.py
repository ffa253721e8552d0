"""Where a user's positions come from. For now: the demo portfolio every local user has."""

from __future__ import annotations

from finch_app.providers.base import Position

DEMO_POSITIONS: tuple[Position, ...] = (
    Position("AAPL", "Apple Inc.", 40, 172.10),
    Position("MSFT", "Microsoft Corporation", 18, 338.45),
    Position("NVDA", "NVIDIA Corporation", 55, 61.20),
    Position("AMZN", "Amazon.com, Inc.", 30, 141.80),
    Position("GOOGL", "Alphabet Inc. Class A", 25, 128.30),
    Position("JPM", "JPMorgan Chase & Co.", 20, 158.00),
    Position("XOM", "Exxon Mobil Corporation", 35, 104.75),
    Position("VOO", "Vanguard S&P 500 ETF", 22, 402.60),
)


class DemoPortfolio:
    """A fixed portfolio, so the app shows something real before a user adds holdings."""

    def __init__(self, positions: tuple[Position, ...] | list[Position] = DEMO_POSITIONS) -> None:
        self._positions = list(positions)

    async def positions(self, user_id: str) -> list[Position]:
        return list(self._positions)
