"""Configuration checked at start: one clear sentence per bad or missing value.

`python -m finch_app serve` (and `check`) refuses to start on an error and prints the
warnings; the app's startup runs the same check. Messages name the variable to change
and never print a secret's value.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from pydantic import SecretStr, ValidationError

from finch_app.settings import Settings, get_settings

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


class ConfigError(Exception):
    """The settings cannot even be read; `problems` says what is wrong with each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _env_name(field_name: str) -> str:
    info = Settings.model_fields.get(field_name)
    alias = getattr(info, "validation_alias", None) if info else None
    if isinstance(alias, str):
        return alias
    return "FINCH_" + field_name.upper()


def load_settings() -> Settings:
    """The settings, or `ConfigError` with one line per invalid variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error.get("loc") else "?"
            env = _env_name(name)
            info = Settings.model_fields.get(name)
            secret = info is not None and "SecretStr" in str(info.annotation)
            shown = "" if secret or "input" not in error else f" (got {error['input']!r})"
            problems.append(f"{env}: {error['msg']}{shown}.")
        raise ConfigError(problems) from None


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _redis_has_password(url: str) -> bool:
    from urllib.parse import urlsplit

    return bool(urlsplit(url).password) or url.startswith("unix://")


def _redis_is_local(url: str) -> bool:
    from urllib.parse import urlsplit

    return _is_loopback(urlsplit(url).hostname or "localhost")


def _safe_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"


def check(settings: Settings, *, database: bool = True) -> Report:
    """Every problem with `settings`; with `database`, also connect and migrate."""
    from finch_app.auth import proxy

    report = Report()
    try:
        networks = proxy.parse_networks(settings.trusted_proxies)
    except proxy.BadProxyList as exc:
        report.errors.append(f"FINCH_TRUSTED_PROXIES: {exc}.")
        networks = ()
    if not _HEADER_NAME.match(settings.auth_header or ""):
        report.errors.append(f"FINCH_AUTH_HEADER: {settings.auth_header!r} is not a valid HTTP header name.")
    if settings.auth == "header" and not networks and not report.errors:
        report.errors.append(
            "FINCH_AUTH=header needs FINCH_TRUSTED_PROXIES: the address(es) of your authenticating proxy "
            "as a comma-separated CIDR list (e.g. 10.0.0.5/32). The header is believed from nowhere else."
        )
    if settings.auth == "none" and not _is_loopback(settings.host):
        exposed = (
            f"FINCH_HOST={settings.host} with FINCH_AUTH=none: anyone who can reach this address uses Finch "
            "as you, with your data."
        )
        if settings.unsafe_no_auth_on_network:
            report.warnings.append(f"{exposed} (allowed by FINCH_UNSAFE_NO_AUTH_ON_NETWORK).")
        else:
            report.errors.append(
                f"{exposed} Set FINCH_AUTH=password or header for a shared server, bind to 127.0.0.1, or — "
                "on a network only you can reach — set FINCH_UNSAFE_NO_AUTH_ON_NETWORK=1."
            )
    if settings.auth == "header" and settings.reflex_trusted_proxy_hops > 0:
        report.errors.append(
            "REFLEX_TRUSTED_PROXY_HOPS must not be set with FINCH_AUTH=header: Reflex would take each tab's "
            "address from X-Forwarded-For, which a client can write. Unset it; FINCH_TRUSTED_PROXIES says "
            "which proxies Finch believes."
        )
    redis_url = settings.redis_url or ""
    if redis_url and not _redis_has_password(redis_url) and not _redis_is_local(redis_url):
        report.warnings.append(
            "REFLEX_REDIS_URL has no password: Redis holds every open tab's state, including its session "
            "cookie. Require a password (redis-server --requirepass) and put it in the URL "
            "(redis://:PASSWORD@host:6379/0)."
        )
    if not _is_loopback(settings.host) and not settings.allowed_origins.strip():
        report.warnings.append(
            "FINCH_ALLOWED_ORIGINS is empty: browsers may only open Finch as http://localhost:"
            f"{settings.port}. Set it to the address people use (e.g. https://finch.example.com)."
        )
    from finch_app.runs.approvals import BadPolicy, parse_policy

    try:
        parse_policy(settings.tool_approvals)
    except BadPolicy as exc:
        report.errors.append(str(exc))
    if settings.redis_url and not re.match(r"^(rediss?|unix)://", settings.redis_url):
        report.errors.append("REFLEX_REDIS_URL: must start with redis://, rediss:// or unix://.")
    for name in ("openai_api_key", "fmp_api_key"):
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr) and value.get_secret_value() != value.get_secret_value().strip():
            report.warnings.append(
                f"{_env_name(name)}: has spaces around it; they are part of the key as given."
            )
    _check_brokerage(settings, report)
    _check_mcp(settings, report)
    if database:
        _check_database(settings, report)
    return report


def _check_brokerage(settings: Settings, report: Report) -> None:
    """SnapTrade (brokerage linking) and the key that encrypts its secrets at rest."""
    from finch_app.providers.brokerage import SecretKeyError, base_url_problem, fernet_key

    client_id = bool((settings.snaptrade_client_id or "").strip())
    consumer_key = bool(
        settings.snaptrade_consumer_key and settings.snaptrade_consumer_key.get_secret_value().strip()
    )
    if client_id != consumer_key:
        missing = "SNAPTRADE_CONSUMER_KEY" if client_id else "SNAPTRADE_CLIENT_ID"
        report.warnings.append(
            f"{missing} is not set: brokerage linking (SnapTrade) stays off until both are."
        )
    base_url = (settings.snaptrade_base_url or "").strip()
    if base_url and (problem := base_url_problem(base_url)):
        report.errors.append(f"FINCH_SNAPTRADE_BASE_URL: {problem}")
    configured = settings.secret_key.get_secret_value() if settings.secret_key else ""
    for part in (p for p in configured.split(",") if p.strip()):
        try:
            fernet_key(part)
        except SecretKeyError as exc:
            report.errors.append(str(exc))
            break
    if settings.brokerage_available and settings.redis_url and not configured.strip():
        report.warnings.append(
            "FINCH_SECRET_KEY is not set: each machine makes its own key file, so workers on other machines "
            "cannot read the brokerage secrets this one stores. Set the same FINCH_SECRET_KEY on every worker."
        )


def _check_mcp(settings: Settings, report: Report) -> None:
    """The MCP servers' file (FINCH_MCP_CONFIG): present, JSON, known keys, good names, set variables."""
    from finch_app.mcp.config import environment, load_config

    if settings.mcp_config is None:
        return
    env_file = settings.model_config.get("env_file")
    config = load_config(settings.mcp_config, environment(env_file if isinstance(env_file, str) else None))
    report.errors.extend(config.errors)
    report.warnings.extend(config.warnings)


def _check_database(settings: Settings, report: Report) -> None:
    from finch_app.auth import store
    from finch_app.db.engine import engine_for

    url = settings.database_url
    try:
        engine_for(url)
    except Exception as exc:  # noqa: BLE001 - reported, with the reason's type only
        reason = type(exc).__name__
        first_line = str(getattr(exc, "orig", "") or "").splitlines()[:1]
        detail = f": {first_line[0]}" if first_line and "password" not in first_line[0].lower() else ""
        report.errors.append(
            f"DATABASE_URL: cannot open or migrate {_safe_url(url)} ({reason}{detail}). "
            "Check that the server runs and the URL, user and database are right."
        )
        return
    if settings.auth == "password" and store.count_users(with_password=True) == 0:
        report.errors.append(
            "FINCH_AUTH=password but there are no users yet. Add the first one with "
            "`python -m finch_app users add NAME --admin` (it asks for the password), then start again."
        )


def format_report(report: Report) -> str:
    lines = [f"error: {e}" for e in report.errors] + [f"warning: {w}" for w in report.warnings]
    return "\n".join(lines)


@dataclass
class SetupItem:
    """One part of this Finch's setup, for whoever runs it (the settings page shows these to admins)."""

    what: str
    """What users get, in plain words: "Answers come from the offline model"."""
    ok: bool
    """False when users get less than they could (sample data, no live SEC data)."""
    how: str = ""
    """How to change it: the variables to set (they belong here and in the README, not in the chat)."""


def setup_items(settings: Settings) -> list[SetupItem]:
    """What this Finch gives its users and how its operator can change it."""
    items = []
    if settings.offline_model:
        items.append(
            SetupItem(
                "Answers come from the offline model: built-in rules over sample data.",
                False,
                "Set OPENAI_API_KEY (and OPENAI_BASE_URL and FINCH_MODEL for another OpenAI-compatible "
                "server), then restart Finch.",
            )
        )
    else:
        items.append(
            SetupItem(f"Answers come from {settings.model}.", True, "FINCH_MODEL chooses the model.")
        )
    if settings.data_mode == "offline":
        items.append(
            SetupItem(
                "Market data is the bundled sample, never live.",
                False,
                "Set FINCH_DATA_MODE=auto (live, with the sample as a fallback) or live.",
            )
        )
    else:
        fallback = (
            ", with cached copies or the bundled sample when a source fails"
            if settings.data_mode == "auto"
            else ""
        )
        items.append(
            SetupItem(f"Market data is live{fallback}.", True, "FINCH_DATA_MODE: auto, live or offline.")
        )
        if not (settings.sec_contact or "").strip():
            items.append(
                SetupItem(
                    "Live SEC data (insider trades) is off: users see sample data.",
                    False,
                    "SEC EDGAR asks every client for a contact email: set FINCH_SEC_CONTACT=you@example.com.",
                )
            )
        if settings.fmp_api_key is None:
            items.append(
                SetupItem(
                    "Senate trades come from the Senate Stock Watcher archive, which ends in 2020.",
                    False,
                    "Set FMP_API_KEY (Financial Modeling Prep) for current Senate trades.",
                )
            )
    items.append(
        SetupItem(
            "Users can link a brokerage (SnapTrade)."
            if settings.brokerage_available
            else "Brokerage linking is off.",
            True,
            ""
            if settings.brokerage_available
            else "Set SNAPTRADE_CLIENT_ID and SNAPTRADE_CONSUMER_KEY to offer it.",
        )
    )
    sign_in = {
        "none": (
            "There is no sign-in: whoever can open this address is the one local user.",
            "FINCH_AUTH=none.",
        ),
        "password": (
            "People sign in with a name and password.",
            "FINCH_AUTH=password; add users with `python -m finch_app users`.",
        ),
        "header": (
            "Your company's sign-on names each user.",
            f"FINCH_AUTH=header (the {settings.auth_header} header).",
        ),
    }[settings.auth]
    items.append(SetupItem(sign_in[0], True, sign_in[1]))
    return items
