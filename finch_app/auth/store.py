"""Accounts in the database: users, sign-in sessions, API tokens, and the sign-in throttle.

Synchronous (call from a thread in async code). Secrets leave this module exactly once —
the token returned by `create_session` / `create_token` — and are stored only as hashes.
Every token and session lookup joins the user and refuses disabled users, so disabling
someone ends their sessions and tokens at once.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from finch_app.auth import passwords
from finch_app.db.accounts import ApiToken, AuthSession, LoginThrottle, User
from finch_app.db.engine import session_scope
from finch_app.db.models import utcnow

LOCAL_USER_ID = "local"
"""The one user of `FINCH_AUTH=none`; data made before accounts existed belongs to it."""
TOKEN_PREFIX = "finch_"
MAX_NAME_CHARS = 120
TOKEN_TOUCH_S = 60
"""`last_used_at` is written at most this often per token (not on every request)."""
MAX_TOKENS_PER_USER = 50
"""Live API tokens one user may have."""


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def name_key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().casefold()


def clean_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).strip()
    if not text:
        raise AccountError("The name is empty.")
    if len(text) > MAX_NAME_CHARS:
        raise AccountError(f"The name is longer than {MAX_NAME_CHARS} characters.")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise AccountError("The name contains control characters.")
    return text


@dataclass(frozen=True)
class Account:
    """A user as the rest of the app sees it (no password hash)."""

    id: str
    name: str
    is_admin: bool = False
    disabled: bool = False
    source: str = "password"
    created_at: datetime | None = None
    last_login_at: datetime | None = None


def _account(user: User) -> Account:
    return Account(
        id=user.id,
        name=user.name,
        is_admin=user.is_admin,
        disabled=user.disabled,
        source=user.source,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


# --- users ------------------------------------------------------------------------------


def _user_by_name(session: Session, name: str) -> User | None:
    return session.exec(select(User).where(User.name_key == name_key(name))).first()


def add_user(name: str, password: str, *, is_admin: bool = False) -> Account:
    name = clean_name(name)
    password_hash = passwords.hash_password(password)
    try:
        with session_scope() as session:
            if _user_by_name(session, name) is not None:
                raise AccountError(f"A user named {name!r} already exists.")
            user = User(name=name, name_key=name_key(name), password_hash=password_hash, is_admin=is_admin)
            session.add(user)
            session.flush()
            return _account(user)
    except IntegrityError as exc:
        raise AccountError(f"A user named {name!r} already exists.") from exc


def list_users() -> list[Account]:
    with session_scope() as session:
        users = session.exec(select(User).where(User.id != LOCAL_USER_ID).order_by(col(User.name_key))).all()
        return [_account(u) for u in users]


def count_users(*, enabled_only: bool = True, with_password: bool = False) -> int:
    with session_scope() as session:
        query = select(User.id).where(User.id != LOCAL_USER_ID)
        if enabled_only:
            query = query.where(User.disabled == False)  # noqa: E712
        if with_password:
            query = query.where(col(User.password_hash).is_not(None))
        return len(session.exec(query).all())


def get_user(name: str) -> Account | None:
    with session_scope() as session:
        user = _user_by_name(session, name)
        return _account(user) if user else None


def set_disabled(name: str, disabled: bool = True) -> Account:
    """Disable (or enable) a user; disabling ends every session of theirs at once."""
    with session_scope() as session:
        user = _user_by_name(session, name)
        if user is None:
            raise AccountError(f"There is no user named {name!r}.")
        user.disabled = disabled
        session.add(user)
        if disabled:
            session.exec(delete(AuthSession).where(AuthSession.user_id == user.id))  # type: ignore[arg-type]
        session.flush()
        return _account(user)


def set_password(name: str, password: str, *, keep_tokens: bool = False) -> tuple[Account, list[TokenInfo]]:
    """Set a new password. A new password is what people do after a compromise: the user's sessions
    end, and so do their API tokens unless `keep_tokens`. Returns the account and the tokens that
    ended (or, with `keep_tokens`, the ones that still work)."""
    password_hash = passwords.hash_password(password)
    now = utcnow()
    with session_scope() as session:
        user = _user_by_name(session, name)
        if user is None:
            raise AccountError(f"There is no user named {name!r}.")
        user.password_hash = password_hash
        session.add(user)
        session.exec(delete(AuthSession).where(AuthSession.user_id == user.id))  # type: ignore[arg-type]
        live = _live_tokens(session, user.id, now)
        if not keep_tokens:
            for row in live:
                row.revoked_at = now
                session.add(row)
        session.flush()
        return _account(user), [_info(row) for row in live]


def ensure_local_user() -> Account:
    """The row for `FINCH_AUTH=none`'s user, so its tokens have an owner."""
    with session_scope() as session:
        user = session.get(User, LOCAL_USER_ID)
        if user is None:
            user = User(
                id=LOCAL_USER_ID, name="local", name_key=" local", source="local"
            )  # no typed name strips to " local"
            session.add(user)
            session.flush()
        return _account(user)


def header_user(name: str) -> Account | None:
    """The user the proxy names, created on first sight; None if disabled or unusable."""
    try:
        name = clean_name(name)
    except AccountError:
        return None
    for _ in range(2):
        try:
            with session_scope() as session:
                user = _user_by_name(session, name)
                if user is None:
                    user = User(name=name, name_key=name_key(name), source="header")
                    session.add(user)
                    session.flush()
                return None if user.disabled else _account(user)
        except IntegrityError:
            continue  # created by a concurrent request: read it
    return None


# --- sign-in throttle -------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottleRules:
    max_failures: int
    lockout: timedelta
    slowdown_after: int
    ip_factor: int = 4
    max_delay_s: float = 5.0


@dataclass(frozen=True)
class Count:
    """One throttle row after an atomic increment."""

    count: int
    first_at: datetime
    locked_until: datetime | None


def pair_key(name: str, client_ip: str) -> str:
    """One name from one address: the only thing wrong passwords lock."""
    return f"pair:{client_ip}|{name_key(name)[:MAX_NAME_CHARS]}"


def address_key(client_ip: str) -> str:
    return f"ip:{client_ip}"


def name_throttle_key(name: str) -> str:
    return f"name:{name_key(name)[:MAX_NAME_CHARS]}"


def count_attempt(key: str, rules: ThrottleRules) -> Count:
    """Add one to the row's count, atomically (`UPDATE … RETURNING`: parallel requests each get their
    own number), starting it again when its window (`rules.lockout`) has passed."""
    now = utcnow()
    stale = (col(LoginThrottle.first_failure_at) < now - rules.lockout) & (
        col(LoginThrottle.locked_until).is_(None) | (col(LoginThrottle.locked_until) < now)
    )
    increment = (
        update(LoginThrottle)
        .where(LoginThrottle.key == key)  # type: ignore[arg-type]
        .values(
            failures=case((stale, 1), else_=col(LoginThrottle.failures) + 1),
            first_failure_at=case((stale, now), else_=col(LoginThrottle.first_failure_at)),
            locked_until=case((stale, None), else_=col(LoginThrottle.locked_until)),
        )
        .returning(
            col(LoginThrottle.failures), col(LoginThrottle.first_failure_at), col(LoginThrottle.locked_until)
        )
    )
    for _ in range(3):
        try:
            with session_scope() as session:
                row = session.execute(increment).first()
                if row is None:
                    session.add(LoginThrottle(key=key, failures=1, first_failure_at=now))
                    session.flush()
                    return Count(1, now, None)
                return Count(int(row[0]), row[1], row[2])
        except IntegrityError:
            continue  # a parallel request inserted the row first: count on it
    raise RuntimeError(f"Could not count a sign-in attempt for {key.split(':', 1)[0]}")


def lock(key: str, until: datetime) -> None:
    with session_scope() as session:
        session.exec(update(LoginThrottle).where(LoginThrottle.key == key).values(locked_until=until))  # type: ignore[arg-type]


def forget(key: str) -> None:
    with session_scope() as session:
        session.exec(delete(LoginThrottle).where(LoginThrottle.key == key))  # type: ignore[arg-type]


def sweep_throttle(rules: ThrottleRules) -> int:
    """Drop the rows whose window has passed (random names and addresses must not pile up)."""
    now = utcnow()
    with session_scope() as session:
        result = session.exec(
            delete(LoginThrottle).where(  # type: ignore[arg-type]
                col(LoginThrottle.first_failure_at) < now - rules.lockout,
                col(LoginThrottle.locked_until).is_(None) | (col(LoginThrottle.locked_until) < now),
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def check_password(name: str, password: str) -> Account | None:
    """The user if `password` is theirs and they may sign in (same cost whether or not they exist)."""
    with session_scope() as session:
        user = _user_by_name(session, name) if name.strip() else None
        stored = user.password_hash if user is not None else None
        if not passwords.verify_password(stored, password) or user is None or user.disabled:
            return None
        if stored and passwords.needs_rehash(stored):
            user.password_hash = passwords.HASHER.hash(password)
        user.last_login_at = utcnow()
        session.add(user)
        session.flush()
        return _account(user)


# --- sessions ---------------------------------------------------------------------------


def create_session(user_id: str, lifetime: timedelta) -> str:
    """Start a session; returns the cookie value (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with session_scope() as session:
        # Expired sessions are of no use to anyone: sweep them while we are here.
        session.exec(delete(AuthSession).where(col(AuthSession.expires_at) < now))  # type: ignore[arg-type]
        session.add(AuthSession(id=_hash(token), user_id=user_id, created_at=now, expires_at=now + lifetime))
    return token


def session_user(token: str) -> Account | None:
    """The signed-in user of a session cookie, if the session is live and the user enabled."""
    if not token or len(token) > 200:
        return None
    with session_scope() as session:
        row = session.exec(
            select(User)
            .join(AuthSession, col(AuthSession.user_id) == col(User.id))
            .where(
                AuthSession.id == _hash(token),
                col(AuthSession.expires_at) > utcnow(),
                User.disabled == False,  # noqa: E712
            )
        ).first()
        return _account(row) if row else None


def end_session(token: str) -> None:
    if token:
        with session_scope() as session:
            session.exec(delete(AuthSession).where(AuthSession.id == _hash(token)))  # type: ignore[arg-type]


# --- API tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    prefix: str
    created_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None = None
    """None: until revoked."""


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
    )


def _live(now: datetime):  # type: ignore[no-untyped-def]
    """Tokens that work now: not revoked, not expired."""
    return col(ApiToken.revoked_at).is_(None) & (
        col(ApiToken.expires_at).is_(None) | (col(ApiToken.expires_at) > now)
    )


def _live_tokens(session: Session, user_id: str, now: datetime) -> Sequence[ApiToken]:
    return session.exec(
        select(ApiToken).where(ApiToken.user_id == user_id, _live(now)).order_by(col(ApiToken.created_at))
    ).all()


def create_token(user_id: str, name: str, *, lifetime: timedelta | None = None) -> tuple[TokenInfo, str]:
    """A new API token for the user (ending after `lifetime`, if given); returns its description
    and the token (shown once)."""
    name = clean_name(name)
    if lifetime is not None and lifetime <= timedelta(0):
        raise AccountError("A token's lifetime must be positive.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    with session_scope() as session:
        if len(_live_tokens(session, user_id, now)) >= MAX_TOKENS_PER_USER:
            raise AccountError(
                f"You have {MAX_TOKENS_PER_USER} live tokens, the most Finch allows: revoke one first."
            )
        # Expired and revoked tokens are of no use to anyone: sweep them while we are here.
        session.exec(
            delete(ApiToken).where(  # type: ignore[arg-type]
                ApiToken.user_id == user_id, ~_live(now)
            )
        )
        row = ApiToken(
            user_id=user_id,
            name=name,
            token_hash=_hash(token),
            prefix=token[: len(TOKEN_PREFIX) + 4],
            created_at=now,
            expires_at=now + lifetime if lifetime is not None else None,
        )
        session.add(row)
        session.flush()
        return _info(row), token


def list_tokens(user_id: str) -> list[TokenInfo]:
    """The user's tokens that work now (expired and revoked ones are not listed)."""
    with session_scope() as session:
        return [_info(r) for r in _live_tokens(session, user_id, utcnow())]


def revoke_token(user_id: str, token_id: str) -> bool:
    """Revoke one of the user's tokens; False if they have no such live token."""
    with session_scope() as session:
        result = session.exec(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.user_id == user_id, _live(utcnow()))  # type: ignore[arg-type]
            .values(revoked_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def token_user(token: str) -> Account | None:
    """The owner of a live API token (and note when it was used)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = utcnow()
    with session_scope() as session:
        found = session.exec(
            select(ApiToken, User)
            .join(User, col(User.id) == col(ApiToken.user_id))
            .where(
                ApiToken.token_hash == _hash(token),
                _live(now),
                User.disabled == False,  # noqa: E712
            )
        ).first()
        if found is None:
            return None
        row, user = found
        last = row.last_used_at
        if last is None or (now - last).total_seconds() >= TOKEN_TOUCH_S:
            row.last_used_at = now
            session.add(row)
        return _account(user)
