"""Linking a brokerage account through SnapTrade, and its positions as the user's portfolio.

On when `SNAPTRADE_CLIENT_ID` and `SNAPTRADE_CONSUMER_KEY` are set (`Settings.brokerage_available`).
`FINCH_SNAPTRADE_BASE_URL` points the official SDK (`snaptrade-python-sdk`) elsewhere (tests use a
loopback fake).

The flow:

1. `SnapTradeLink.connect_url(user_id)`: on a user's first connect, registers a SnapTrade user
   whose id is derived from Finch's user id (`finch-<sha256>`: stable, and no e-mail address
   leaves Finch) and stores the `userSecret` SnapTrade returns — Fernet-encrypted, see `SecretBox`
   — in `brokerage_connection`. Then asks for a Connection Portal URL (valid ~5 minutes) that
   the UI opens in a popup, where the user links their broker.
2. `SnapTradeLink.sync(user_id)`: lists the user's accounts and each account's positions, turns
   stocks/ETFs/ADRs/funds into `Position`s (options, crypto, futures, cash equivalents and
   shorts are skipped and counted), merges a symbol held in several accounts, and writes them
   as the user's holdings (replacing them) with `last_synced_at` as the marker.
3. `BrokeragePortfolio` is what `get_portfolio` reads when SnapTrade is configured: for a user
   with a connection it syncs (at most every `FINCH_SNAPTRADE_SYNC_INTERVAL_S`), and if SnapTrade
   cannot answer it falls back to the holdings of the last sync, saying so.

Secrets at rest (`secrets.py`): `FINCH_SECRET_KEY` if set (a Fernet key, or any 32+ character string from which
one is derived with SHA-256; comma-separated keys rotate: the first encrypts, all decrypt), else
a key generated once into `<FINCH_DATA_DIR>/secret.key` with mode 0600. Losing that key makes the
stored secrets unreadable (the user disconnects and connects again). Several workers on several
machines must share `FINCH_SECRET_KEY`.

The SDK is blocking (urllib3): every call runs in a worker thread. Its errors carry request URLs,
and SnapTrade puts `userSecret` in the query string, so they never leave this module as they
are: `BrokerageError` messages say what failed in words, with SnapTrade's own `detail`
scrubbed of secrets.
"""

from finch_app.providers.brokerage.errors import BrokerageError, BrokerageNotConfigured
from finch_app.providers.brokerage.portfolio import BrokeragePortfolio
from finch_app.providers.brokerage.secrets import (
    KEY_FILE_NAME,
    SecretBox,
    SecretKeyError,
    fernet_key,
    key_file_key,
)
from finch_app.providers.brokerage.snaptrade import (
    Connection,
    Conversion,
    SnapTradeLink,
    SyncResult,
    base_url_problem,
    positions_from_snaptrade,
    snaptrade_user_id,
)

__all__ = [
    "KEY_FILE_NAME",
    "BrokerageError",
    "BrokerageNotConfigured",
    "BrokeragePortfolio",
    "Connection",
    "Conversion",
    "SecretBox",
    "SecretKeyError",
    "SnapTradeLink",
    "SyncResult",
    "base_url_problem",
    "fernet_key",
    "key_file_key",
    "positions_from_snaptrade",
    "snaptrade_user_id",
]
