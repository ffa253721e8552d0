"""Finch's configuration, read from the environment and `.env`.

One owner for every knob: nothing else in the app reads `os.environ` for its own
settings. Missing keys never fail at import time; the agent reports them at run time.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FINCH_",
        env_file=os.environ.get("FINCH_ENV_FILE", ".env"),
        extra="ignore",
        populate_by_name=True,
    )

    # The OpenAI client's own names, shared with every other tool a user has.
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    model: str = Field("gpt-4o-mini", validation_alias="FINCH_MODEL")
    model_timeout_s: float = 60.0
    """Seconds to wait for the model before giving up on a request."""
    model_max_retries: int = 2
    """Retries (with backoff) the OpenAI client makes on 429/5xx before we report an error."""
    max_tool_rounds: int = 6
    """Model rounds that may request tools before the loop stops and says so."""
    tool_result_max_chars: int = 50_000
    """Cap on one tool result as sent back to the model."""

    data_dir: Path = PROJECT_ROOT / "data"
    database_url_override: str | None = Field(None, validation_alias="DATABASE_URL")

    data_mode: Literal["auto", "live", "offline"] = "auto"
    sample_latency_ms: int = 400
    """Simulated latency of sample-data tools, so live cards are visible."""
    card_fade_ms: int = 5000
    """How long a completed tool card stays before it fades out."""
    max_message_chars: int = 8000
    allowed_origins: str = ""
    """Comma-separated browser origins allowed to use the backend (websocket, API).
    Empty: this machine's own origins on PORT only, since Finch binds to 127.0.0.1."""
    port: int = Field(3000, validation_alias="PORT")
    host: str = "127.0.0.1"
    """Address `serve` binds to; anything but loopback exposes Finch to the network."""
    unsafe_no_auth_on_network: bool = False
    """FINCH_UNSAFE_NO_AUTH_ON_NETWORK: let `FINCH_AUTH=none` bind beyond loopback (anyone who reaches
    the address uses Finch as its one user). Without it, start-up refuses that combination."""

    # Accounts (finch_app/auth). `none`: one local user, no sign-in (a laptop).
    auth: Literal["none", "password", "header"] = "none"
    auth_header: str = "X-Forwarded-Email"
    """In `header` mode, the header in which the company's proxy names the signed-in user."""
    trusted_proxies: str = ""
    """Comma-separated CIDRs whose requests may name the user in `auth_header`."""
    session_days: float = Field(7.0, gt=0)
    """How long a sign-in lasts."""
    login_max_failures: int = Field(5, ge=1)
    """Wrong passwords (per name, and per address ×4) before sign-in is locked for a while."""
    login_lockout_minutes: float = Field(15.0, gt=0)
    login_slowdown_after: int = Field(2, ge=0)
    """Wrong passwords after which each further answer is delayed (1 s more each time, up to 5 s)."""
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    """`auto`: the session cookie is `Secure` when the request came over HTTPS (directly or
    per a trusted proxy's `X-Forwarded-Proto`)."""
    max_runs_per_user: int = Field(3, ge=1)
    """Runs one user may have answering at once; more are refused (HTTP 429)."""
    max_conversations_per_user: int = Field(2000, ge=1)
    """Conversations one user may keep; a new one past this is refused until they delete some."""
    reflex_trusted_proxy_hops: int = Field(0, ge=0, validation_alias="REFLEX_TRUSTED_PROXY_HOPS")
    """Reflex's own setting (it rewrites a tab's client address from X-Forwarded-For); read here only
    so start-up can refuse it in header mode."""
    redis_url: str | None = Field(None, validation_alias="REFLEX_REDIS_URL")
    """Reflex's Redis (several workers); `/api/health` checks it when set."""
    redis_prefix: str = "finch"
    """Prefix of Finch's own Redis keys and channels (live runs, Stop, leases)."""
    run_lease_s: float = Field(10.0, gt=0)
    """A run whose worker stops renewing its lease for this long is marked `interrupted`
    by another worker (within about 1.5× this)."""
    approval_timeout_s: float = Field(86_400.0, gt=0)
    """A change waiting for the user's approval is denied ("nobody approved it in time") after this long."""
    tool_approvals: str = ""
    """The operator's approval policy, per tool: `name=ask|allow|require`, comma-separated.
    `ask` (the default for tools that change data): the user approves each call, or chooses to
    always allow the tool; `require`: ask every time, the user cannot always allow it; `allow`: run
    at once. Tools not named: those that change data ask, the others run at once."""
    mcp_config: Path | None = None
    """FINCH_MCP_CONFIG: a JSON file listing the MCP servers whose tools Finch may use
    (`{"mcpServers": {...}}`, see README "Tools from other servers (MCP)"). Unset: none. Only this
    file adds servers: there is no per-user list."""
    mcp_serve: bool = True
    """FINCH_MCP_SERVE: serve Finch's own data tools to MCP clients at `/mcp` (false turns it off)."""
    transcript_page: int = Field(50, ge=2)
    """Messages shown when a conversation opens, and added by each "Load earlier messages"."""

    # Where each live data source is (mirrors, proxies, tests point these elsewhere).
    apewisdom_base_url: str = "https://apewisdom.io"
    house_trades_url: str = (
        "https://raw.githubusercontent.com/TattooedHead/house-stock-watcher-data/main/"
        "data/all_transactions.json"
    )
    """House Stock Watcher's `all_transactions.json`, which a daily job in that data repo updates."""
    senate_trades_url: str = (
        "https://raw.githubusercontent.com/timothycarambat/senate-stock-watcher-data/master/"
        "aggregate/all_transactions.json"
    )
    """Senate Stock Watcher's aggregate (historic: it ends in 2020); used when no FMP key is set."""
    fmp_base_url: str = "https://financialmodelingprep.com"
    fmp_api_key: SecretStr | None = Field(None, validation_alias="FMP_API_KEY")
    """With a key, current Senate trades come from Financial Modeling Prep's `senate-latest`."""
    sec_base_url: str = "https://data.sec.gov"
    """EDGAR's API host (`submissions/CIK##########.json`)."""
    sec_www_base_url: str = "https://www.sec.gov"
    """EDGAR's web host, which serves `files/company_tickers.json` and the filing archives."""
    sec_contact: str | None = None
    """Contact email for the User-Agent the SEC requires; without it EDGAR is not asked."""
    yahoo_base_url: str = "https://query1.finance.yahoo.com"
    http_timeout_s: float = 8.0
    """Connect and read timeout of every request to a live data source."""
    http_max_retries: int = 2
    """Retries (with backoff, honouring Retry-After) after a 429 or 5xx from a live source."""

    # Brokerage linking (finch_app/providers/brokerage.py): on when both SnapTrade credentials are set.
    snaptrade_client_id: str | None = Field(None, validation_alias="SNAPTRADE_CLIENT_ID")
    snaptrade_consumer_key: SecretStr | None = Field(None, validation_alias="SNAPTRADE_CONSUMER_KEY")
    snaptrade_base_url: str | None = None
    """SnapTrade's API host (FINCH_SNAPTRADE_BASE_URL); unset: the SDK's default. Tests point it at a fake."""
    snaptrade_timeout_s: float = Field(20.0, gt=0)
    """Connect and read timeout of one request to SnapTrade."""
    snaptrade_sync_interval_s: float = Field(15.0, ge=0)
    """`get_portfolio` pulls a connected brokerage's positions again only when the last pull is older
    than this (two tool calls in one answer, or two tabs, make one pull)."""
    secret_key: SecretStr | None = None
    """FINCH_SECRET_KEY: encrypts secrets at rest (brokerage user secrets). A Fernet key, or any string
    of 32+ characters (a key is derived from it); several comma-separated: the first encrypts, all
    decrypt (rotation). Unset: a key generated once in `<data dir>/secret.key` (mode 0600)."""

    @property
    def brokerage_available(self) -> bool:
        """True when SnapTrade credentials are configured, so users can link a brokerage."""
        key = self.snaptrade_consumer_key.get_secret_value().strip() if self.snaptrade_consumer_key else ""
        return bool((self.snaptrade_client_id or "").strip() and key)

    @property
    def database_url(self) -> str:
        if self.database_url_override:
            return self.database_url_override
        return f"sqlite:///{self.data_dir / 'finch.db'}"

    @property
    def cors_origins(self) -> list[str]:
        if self.allowed_origins.strip():
            return [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]
        return [f"http://{host}:{self.port}" for host in ("localhost", "127.0.0.1", "[::1]")]

    @property
    def offline_model(self) -> bool:
        """True when no API key is configured, so the built-in offline model answers."""
        key = self.openai_api_key.get_secret_value() if self.openai_api_key else ""
        return not key.strip()


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def reset_settings() -> None:
    """Forget cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
