"""Finch's offline model: answers from the data tools with no API key and no network.

`intents` reads what was asked (and what a follow-up refers to), `tickers` recognises
symbols and company names, `plan` picks the tools, `answers`/`analysis`/`sections` write
from their results, `replies` answers what needs no tools, `words` writes numbers and
dates, `titles` names conversations. Changes to the holdings ("I bought 10 NVDA at 120")
are read by `changes`; `ledger` picks the call the user is asked to approve and writes
what came of it.
"""

from finch_app.models.offline.model import OFFLINE_LABEL, OfflineChatModel

__all__ = ["OFFLINE_LABEL", "OfflineChatModel"]
