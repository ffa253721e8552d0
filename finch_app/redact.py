"""Keeping secrets out of logs and messages.

`redact(text)` replaces the configured secrets (OpenAI and FMP keys, the database's and
Redis's passwords, and those registered with `register_secret`, such as the header values
of the MCP servers Finch uses) and anything shaped like one (API tokens, bearer credentials, session
cookies, `apikey=` query values, passwords in URLs) with `[redacted]`.
`install_log_redaction()` applies it to every log record the process writes — message,
arguments and traceback — whichever library logs it (httpx logs request URLs, and a
data source's URL may carry an API key).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

MASK = "[redacted]"
_PATTERNS = [
    re.compile(r"finch_[A-Za-z0-9_\-]{20,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/\-]{8,}=*"),
    re.compile(r"(?i)(finch_session=)[^;\s\"']+"),
    re.compile(r"(?i)([?&](?:api_?key|apikey|token|access_token|key|user_?secret|signature)=)[^&\s\"']+"),
    re.compile(r"(://[^/\s:@]+:)[^@\s/]+(@)"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
]


def _secret_values() -> tuple[str, ...]:
    from urllib.parse import urlsplit

    from finch_app.settings import get_settings

    try:
        settings = get_settings()
    except Exception:  # noqa: BLE001 - bad settings are reported elsewhere
        return ()
    values = []
    for secret in (
        settings.openai_api_key,
        settings.fmp_api_key,
        settings.snaptrade_consumer_key,
        settings.secret_key,
    ):
        if secret is not None and len(secret.get_secret_value().strip()) >= 4:
            values.append(secret.get_secret_value().strip())
    for url in (settings.database_url, settings.redis_url or ""):
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password and len(password) >= 4:
            values.append(password)
    values.extend(_registered)
    return tuple(sorted(set(values), key=len, reverse=True))


_registered: set[str] = set()


def register_secret(value: str) -> None:
    """Mask `value` too from now on (a credential read from somewhere other than the settings).

    A credential with a scheme ("Bearer abc…") is masked whole and its last part alone, in case
    someone repeats just the token."""
    global _generation
    value = value.strip()
    parts = {value, value.split()[-1] if value.split() else ""}
    added = {p for p in parts if len(p) >= 8 or (p == value and len(p) >= 4)} - _registered
    if added:
        _registered.update(added)
        _generation += 1


@lru_cache(maxsize=1)
def _cached_secret_values(_generation: int) -> tuple[str, ...]:
    return _secret_values()


_generation = 0


def forget_secrets() -> None:
    """Re-read the secrets from settings, and forget registered ones (tests change them)."""
    global _generation
    _registered.clear()
    _generation += 1


def redact(text: str) -> str:
    if not text:
        return text
    for value in _cached_secret_values(_generation):
        text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(
            lambda m: (m.group(1) if m.re.groups else "") + MASK + (m.group(2) if m.re.groups >= 2 else ""),
            text,
        )
    return text


_installed = False


def install_log_redaction() -> None:
    """Redact every log record of this process from now on (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:  # type: ignore[no-untyped-def]
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: leave it to logging
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
