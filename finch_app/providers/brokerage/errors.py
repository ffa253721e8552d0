"""What can go wrong with a linked brokerage, in words for the user."""

from __future__ import annotations

from finch_app.agent.tools import ToolError


class BrokerageError(ToolError):
    """Linking or reading a brokerage failed. The message is meant for the user and carries no secret."""


class BrokerageNotConfigured(BrokerageError):
    def __init__(self) -> None:
        super().__init__(
            "Brokerage linking is not configured on this Finch (SNAPTRADE_CLIENT_ID and "
            "SNAPTRADE_CONSUMER_KEY are not set)."
        )
