"""Tables of accounts: users, their sign-in sessions, API tokens, and the sign-in throttle.

Only hashes of secrets are stored: a session's id is the SHA-256 of the cookie's value, a
token row holds the SHA-256 of the token, a password is an argon2 hash. The rules (who may
sign in, how long a session lasts) live in `finch_app/auth`; this module is storage.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from finch_app.db.models import _when, new_id
from finch_app.db.types import UTCDateTime


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: str = Field(default_factory=new_id, primary_key=True)
    """What every data row's `user_id` holds."""
    name: str
    """As the admin typed it (password mode) or the proxy sent it (header mode)."""
    name_key: str = Field(unique=True, index=True)
    """`name` case-folded: names are unique and matched without regard to case."""
    password_hash: str | None = None
    """argon2id; None for users who sign in through the proxy."""
    is_admin: bool = False
    disabled: bool = False
    source: str = "password"
    """password | header: how the account came to be."""
    created_at: datetime = _when()
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuthSession(SQLModel, table=True):
    """One signed-in browser."""

    __tablename__ = "auth_session"

    id: str = Field(primary_key=True)
    """SHA-256 (hex) of the cookie's value; the value itself is never stored."""
    user_id: str = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    created_at: datetime = _when()
    expires_at: datetime = _when(index=True)


class ApiToken(SQLModel, table=True):
    """A personal API token (`Authorization: Bearer …`)."""

    __tablename__ = "api_token"

    id: str = Field(default_factory=new_id, primary_key=True)
    user_id: str = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    name: str
    token_hash: str = Field(unique=True, index=True)
    """SHA-256 (hex) of the token; tokens carry 256 random bits, so a fast hash is enough."""
    prefix: str
    """The token's first characters, so its owner can tell tokens apart."""
    created_at: datetime = _when()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """After this the token no longer works; None: until revoked."""


class LoginThrottle(SQLModel, table=True):
    """Recent sign-in attempts for one name from one address, one address, or one name (kept whether
    or not the name exists; rows whose window has passed are swept)."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True)
    """"pair:<address>|<case-folded name>", "ip:<address>" or "name:<case-folded name>"."""
    failures: int = 0
    """Attempts in the window that did not sign in (counted before the password is checked)."""
    first_failure_at: datetime = _when()
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
