"""Finch's offline model: answers from the data tools with no API key and no network.

`intents` reads what was asked (and what a follow-up refers to), `tickers` recognises
symbols and company names, `plan` picks the tools, `answers`/`analysis`/`sections` write
from their results, `replies` answers what needs no tools, `words` writes numbers and
dates, `titles` names conversations.
"""

from finch_app.models.offline.model import OFFLINE_LABEL, OfflineChatModel

__all__ = ["OFFLINE_LABEL", "OfflineChatModel"]
