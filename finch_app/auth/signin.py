"""Signing in with a name and a password, with the slow-down and the lockout.

Every refusal says the same thing whether or not the name exists, costs one argon2
verification either way, and counts either way.

- A name from one address (`pair`) is locked after `login_max_failures` attempts that did not
  sign in. The attempt is counted (one atomic `UPDATE … RETURNING`) *before* the password is
  checked, so parallel guesses get no more checks than sequential ones.
- An address (`ip`) and a name tried from anywhere (`name`) only slow wrong answers down:
  one client guessing many names, or many clients guessing one name, waits longer and longer,
  while everyone else (a colleague behind the same proxy, the owner of the name) signs in.
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


def _slowdown(count: int, after: int, rules: store.ThrottleRules) -> float:
    return min(rules.max_delay_s, float(count - after)) if count > after else 0.0


def sign_in(settings: Settings, name: str, password: str, client_ip: str) -> SignInResult:
    """Count the attempt, check the password unless the name is locked from this address, start a session."""
    name = name.strip()[: store.MAX_NAME_CHARS * 2]
    password = password[:4096]
    throttle = rules(settings)
    pair = store.pair_key(name, client_ip)
    attempt = store.count_attempt(pair, throttle)
    now = utcnow()
    if attempt.locked_until is not None and attempt.locked_until > now:
        return _locked(attempt.locked_until)
    if attempt.count > throttle.max_failures:
        return _locked(attempt.first_at + throttle.lockout)
    account = store.check_password(name, password) if name and password else None
    if account is not None:
        store.forget(pair)
        token = store.create_session(account.id, timedelta(days=settings.session_days))
        return SignInResult(token=token)
    wide = throttle.slowdown_after * throttle.ip_factor
    delays = [_slowdown(attempt.count, throttle.slowdown_after, throttle)]
    if client_ip:
        delays.append(
            _slowdown(store.count_attempt(store.address_key(client_ip), throttle).count, wide, throttle)
        )
    if name:
        delays.append(
            _slowdown(store.count_attempt(store.name_throttle_key(name), throttle).count, wide, throttle)
        )
    store.sweep_throttle(throttle)
    if attempt.count >= throttle.max_failures:
        until = now + throttle.lockout
        store.lock(pair, until)
        return _locked(until)
    return SignInResult(token=None, error="bad", message=WRONG, delay_s=max(delays))
