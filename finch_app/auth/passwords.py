"""Password hashing: argon2id (memory-hard) through argon2-cffi, never anything weaker."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 1024

HASHER = PasswordHasher()
"""argon2-cffi's defaults (RFC 9106's low-memory profile: argon2id, 64 MiB, 3 passes)."""

_DUMMY_HASH: str | None = None


class PasswordRejected(ValueError):
    """The new password does not meet the rules; the message says which."""


def check_new_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"The password must have at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"The password must have at most {MAX_LENGTH} characters.")
    if password != password.strip() and not password.strip():
        raise PasswordRejected("The password cannot be only spaces.")


def hash_password(password: str) -> str:
    check_new_password(password)
    return HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if `password` matches; a missing hash costs the same time as a real one."""
    global _DUMMY_HASH
    if stored_hash is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = HASHER.hash("not a password anyone has")
        stored_hash, password = _DUMMY_HASH, password + "\x00"
        try:
            HASHER.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
