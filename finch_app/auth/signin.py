"""Signing in with a name and a password, with the slow-down and the lockout.

Every refusal says the same thing whether or not the name exists, costs one argon2
verification either way, and counts against the name (and the address) either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from finch_app.auth import store
from finch_app.db.models import utcnow
from finch_app.settings import Settings

WRONG = "Wrong name or password."


@dataclass(frozen=True)
class SignInResult:
    token: str | None
    """The new session's cookie value, when signed in."""
    error: str = ""
    """"bad" or "locked" when refused."""
    message: str = ""
    delay_s: float = 0.0
    """Answer this much later (wrong passwords are slowed down)."""
    retry_after_s: int = 0


def rules(settings: Settings) -> store.ThrottleRules:
    return store.ThrottleRules(
        max_failures=settings.login_max_failures,
        lockout=timedelta(minutes=settings.login_lockout_minutes),
        slowdown_after=settings.login_slowdown_after,
    )


def _locked(until: datetime) -> SignInResult:
    seconds = max(1, math.ceil((until - utcnow()).total_seconds()))
    minutes = max(1, math.ceil(seconds / 60))
    return SignInResult(
        token=None,
        error="locked",
        message=f"Too many failed sign-ins. Wait {minutes} minute{'s' if minutes != 1 else ''} and try again.",
        retry_after_s=seconds,
    )


def sign_in(settings: Settings, name: str, password: str, client_ip: str) -> SignInResult:
    """Check the password (unless locked out) and start a session."""
    name = name.strip()[: store.MAX_NAME_CHARS * 2]
    password = password[:4096]
    throttle = rules(settings)
    until = store.locked_until(name, client_ip, throttle)
    if until is not None:
        return _locked(until)
    account = store.check_password(name, password) if name and password else None
    if account is None:
        delay, until = store.record_failure(name, client_ip, throttle)
        if until is not None:
            return _locked(until)
        return SignInResult(token=None, error="bad", message=WRONG, delay_s=delay)
    store.clear_failures(name)
    token = store.create_session(account.id, timedelta(days=settings.session_days))
    return SignInResult(token=token)
