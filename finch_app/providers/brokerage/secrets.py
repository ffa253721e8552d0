"""Secrets at rest: the Fernet box that encrypts brokerage user secrets in the database.

The key is `FINCH_SECRET_KEY` if set (a Fernet key, or any 32+ character string from which one is
derived with SHA-256; comma-separated keys rotate: the first encrypts, all decrypt), else a key
generated once into `<FINCH_DATA_DIR>/secret.key` with mode 0600.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from finch_app.providers.brokerage.errors import BrokerageError
from finch_app.settings import Settings

KEY_FILE_NAME = "secret.key"


class SecretKeyError(BrokerageError, ValueError):
    """`FINCH_SECRET_KEY` (or the key file) is not usable; the message says why, without the key."""


def fernet_key(text: str) -> bytes:
    """A Fernet key from FINCH_SECRET_KEY's text: used as is when it is one, else derived."""
    value = text.strip()
    try:
        Fernet(value.encode())
        return value.encode()
    except (ValueError, TypeError):
        pass
    if len(value) < 32:
        raise SecretKeyError(
            "FINCH_SECRET_KEY must be a Fernet key (python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())') or at least 32 random characters."
        )
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest())


def key_file_key(path: Path) -> bytes:
    """The key in `path`, made once (mode 0600) when there is none. Safe when several processes
    start at once: the key is written to a private temporary file and linked into place, so a
    reader never sees a half-written file and only one key ever wins."""
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".secret-", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(Fernet.generate_key() + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another process won: use its key
        finally:
            os.unlink(temporary)
        return _read_key_file(path)
    except OSError as exc:
        raise SecretKeyError(
            f"Cannot make the key file {path} ({exc.strerror}); set FINCH_SECRET_KEY instead."
        ) from None


def _read_key_file(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except PermissionError:
        raise SecretKeyError(f"Cannot read the key file {path} (permission denied).") from None
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise SecretKeyError(
            f"{path} does not hold a Fernet key; restore it, or set FINCH_SECRET_KEY."
        ) from None
    return key


class SecretBox:
    """Encrypts short secrets for the database (Fernet: AES-128-CBC + HMAC-SHA256, timestamped)."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise SecretKeyError("No secret key.")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        configured = settings.secret_key.get_secret_value() if settings.secret_key else ""
        parts = [part for part in configured.split(",") if part.strip()]
        if parts:
            return cls([fernet_key(part) for part in parts])
        return cls([key_file_key(Path(settings.data_dir) / KEY_FILE_NAME)])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise BrokerageError(
                "The stored brokerage connection cannot be decrypted: Finch's secret key changed "
                "(FINCH_SECRET_KEY or the data directory's secret.key). Disconnect the brokerage and connect it again."
            ) from None
