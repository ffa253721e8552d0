"""Test-wide guards: no network beyond loopback, and a private data dir per test."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator

import pytest

# A developer's own .env (say, a real OPENAI_API_KEY) must not leak into tests.
os.environ["FINCH_ENV_FILE"] = os.devnull

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # unix sockets
    host = str(address[0])
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded(real):  # type: ignore[no-untyped-def]
    def connect(self: socket.socket, address: object):  # type: ignore[no-untyped-def]
        if not _is_local(address):
            raise ConnectionRefusedError(f"tests must not use the network (tried {address!r})")
        return real(self, address)

    return connect


socket.socket.connect = _guarded(_real_connect)  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded(_real_connect_ex)  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def finch_env(tmp_path, monkeypatch) -> Iterator[None]:
    """Each test gets its own data dir (SQLite file) and fresh cached settings/services."""
    from finch_app import chat_service, settings
    from finch_app.db import engine

    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FINCH_MODEL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FINCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FINCH_SAMPLE_LATENCY_MS", "0")
    # The default (auto) mode would try the public data sources, and resolving their names
    # already leaves the machine: tests use the bundled sample unless they opt in.
    monkeypatch.setenv("FINCH_DATA_MODE", "offline")
    settings.reset_settings()
    chat_service.get_chat_service.cache_clear()
    yield
    settings.reset_settings()
    chat_service.get_chat_service.cache_clear()
    engine.engine_for.cache_clear()


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API keeps an event loop running in the main
    thread for the rest of the session, which async tests cannot share."""
    items.sort(key=lambda item: "tests/e2e/" in str(item.fspath))


@pytest.fixture
def demo_holdings(finch_env):
    """The local user holds the demo portfolio (a fresh user has none: needs_auth)."""
    from finch_app.db import crud
    from finch_app.db.engine import session_scope
    from finch_app.providers.portfolio import DEMO_POSITIONS

    with session_scope() as session:
        for p in DEMO_POSITIONS:
            crud.upsert_holding(
                session=session, user_id="local", symbol=p.symbol, shares=p.shares, cost_basis=p.cost_basis, name=p.name
            )
