"""Brokerage linking through SnapTrade, against a loopback fake of its API (the real SDK talks
to it over a socket): connect → sync → get_portfolio, the user secret encrypted at rest,
the not-configured behaviour, and errors that never carry a secret."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from finch_app import redact
from finch_app.agent.tools import ToolContext
from finch_app.config_check import check
from finch_app.context import app_context, build_providers
from finch_app.db import crud
from finch_app.db.engine import get_engine, session_scope
from finch_app.providers.brokerage import (
    KEY_FILE_NAME,
    BrokerageError,
    BrokeragePortfolio,
    SecretBox,
    SecretKeyError,
    SnapTradeLink,
    positions_from_snaptrade,
    snaptrade_user_id,
)
from finch_app.providers.portfolio import HoldingsBook, validate_position
from finch_app.settings import get_settings, reset_settings
from finch_app.tools.portfolio import get_portfolio, request_brokerage_connection
from tests.fakes.snaptrade import FakeSnapTrade, FakeUser, option, stock
from tests.reflex_harness import (
    HeadlessTab,  # at import, as the other state tests do (a second tab fails otherwise)
)

pytestmark = pytest.mark.persistence


@pytest.fixture
def fake():
    server = FakeSnapTrade().start()
    yield server
    server.stop()


@pytest.fixture
def configured(fake, monkeypatch):
    """Finch configured for SnapTrade, pointed at the fake; syncs are never skipped as fresh."""
    monkeypatch.setenv("SNAPTRADE_CLIENT_ID", fake.client_id)
    monkeypatch.setenv("SNAPTRADE_CONSUMER_KEY", fake.consumer_key)
    monkeypatch.setenv("FINCH_SNAPTRADE_BASE_URL", fake.base_url)
    monkeypatch.setenv("FINCH_SNAPTRADE_SYNC_INTERVAL_S", "0")
    monkeypatch.setenv("FINCH_SNAPTRADE_TIMEOUT_S", "3")
    reset_settings()
    redact.forget_secrets()
    return fake


async def portfolio(user_id: str):
    deps = app_context().providers
    return await get_portfolio(ToolContext(deps=deps, user_id=user_id), get_portfolio.params_model())


def _secret_of(fake: FakeSnapTrade, user_id: str) -> str:
    return fake.users[snaptrade_user_id(user_id)].secret


def _database_bytes() -> bytes:
    """Everything the SQLite database holds on disk (main file and write-ahead log)."""
    path = Path(get_settings().database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


# --- not configured -------------------------------------------------------------------------


async def test_without_snaptrade_credentials_there_is_no_brokerage_and_the_tools_say_so(monkeypatch):
    settings = get_settings()
    assert not settings.brokerage_available and SnapTradeLink.from_settings(settings) is None
    deps = build_providers(settings)
    assert deps.brokerage_available is False
    offer = await request_brokerage_connection(
        ToolContext(deps=deps, user_id="u"), request_brokerage_connection.params_model()
    )
    assert offer.brokerage_available is False and "not configured" in offer.message
    empty = await portfolio("nobody")
    assert empty.needs_auth and empty.brokerage_available is False
    assert "not configured" in empty.message and "connect a brokerage (SnapTrade)" not in empty.message
    # One of the two variables is not enough (and the check says which one is missing).
    monkeypatch.setenv("SNAPTRADE_CLIENT_ID", "only-the-id")
    reset_settings()
    assert (
        not get_settings().brokerage_available
        and build_providers(get_settings()).brokerage_available is False
    )
    assert any(
        "SNAPTRADE_CONSUMER_KEY is not set" in w for w in check(get_settings(), database=False).warnings
    )


async def test_the_panel_and_callout_state_offers_no_button_when_not_configured():
    from finch_app.finch_app import app
    from finch_app.states.portfolio import PortfolioState

    async with HeadlessTab(app, token="no-brokerage") as tab:
        async with tab.locked(PortfolioState) as state:
            await PortfolioState.on_load.fn(state)
            assert state.brokerage_available is False and state.brokerage_connected is False
        proxy = await tab.proxy(PortfolioState)
        events = [e async for e in PortfolioState.connect_brokerage.fn(proxy)]
        assert events == []
        async with tab.locked(PortfolioState) as state:
            assert "not configured" in state.error and state.portal_url == ""


# --- connect, sync, get_portfolio -----------------------------------------------------------


async def test_connect_registers_once_signs_every_request_and_returns_the_portal(configured):
    fake = configured
    link = app_context().brokerage
    assert link is not None and app_context().providers.brokerage_available is True
    url = await link.connect_url("alice")
    assert url.startswith(fake.base_url + "/portal?")
    again = await link.connect_url("alice")
    assert again != url  # a fresh portal session each time…
    assert list(fake.users) == [snaptrade_user_id("alice")]  # …but one SnapTrade user
    assert [r["path"] for r in fake.requests] == [
        "/snapTrade/registerUser",
        "/snapTrade/login",
        "/snapTrade/login",
    ]
    for request in fake.requests:
        assert request["headers"].get("signature"), "every partner request is signed"
        assert request["query"]["clientId"] == fake.client_id and request["query"]["timestamp"].isdigit()
        assert fake.consumer_key not in str(request), "the consumer key only signs, it is never sent"
    assert fake.requests[0]["body"] == {"userId": snaptrade_user_id("alice")}
    assert snaptrade_user_id("alice") == snaptrade_user_id("alice") != snaptrade_user_id("bob")
    assert "alice" not in snaptrade_user_id("alice")


async def test_the_user_secret_is_encrypted_at_rest(configured):
    link = app_context().brokerage
    await link.connect_url("alice")
    secret = _secret_of(configured, "alice")
    with get_engine().connect() as connection:
        row = (
            connection.execute(sa.text("SELECT * FROM brokerage_connection WHERE user_id = 'alice'"))
            .mappings()
            .one()
        )
    assert secret not in str(dict(row))
    assert row["encrypted_secret"].startswith("gAAAA")  # a Fernet token
    assert SecretBox.from_settings(get_settings()).decrypt(row["encrypted_secret"]) == secret
    if get_settings().database_url.startswith("sqlite"):
        get_engine().dispose()  # and SQLite's files on disk (main file and write-ahead log) never hold it either
        assert secret.encode() not in _database_bytes()
    # The key was generated once, in the data dir, readable by the owner only.
    key_file = get_settings().data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (
        SecretBox.from_settings(get_settings()).decrypt(SecretBox.from_settings(get_settings()).encrypt("x"))
        == "x"
    )


async def test_connect_sync_then_get_portfolio_uses_the_brokerage_positions(configured):
    fake = configured
    assert (await portfolio("alice")).needs_auth  # nothing yet
    link = app_context().brokerage
    await link.connect_url("alice")

    # Registered, but the user has not finished the portal yet: still no portfolio, and why.
    waiting = await portfolio("alice")
    assert waiting.needs_auth and "no brokerage account is linked yet" in waiting.message

    remote = snaptrade_user_id("alice")
    fake.link(
        remote,
        [
            stock("AAPL", 10, 150.0, description="Apple Inc."),
            stock("VTI", 4, 200.0, kind="etf"),
            option("AAPL", 2),
        ],
    )
    fake.link(
        remote,
        [
            stock("AAPL", 30, 170.0),  # the same security in a second account: merged
            stock("SPAXX", 1000, 1.0, kind="mutualfund", cash_equivalent=True),
            stock("GME", -5, 20.0),
        ],
    )
    valued = await portfolio("alice")
    assert not valued.needs_auth and valued.source == "brokerage" and valued.synced_at is not None
    by_symbol = {h.symbol: h for h in valued.holdings}
    assert set(by_symbol) == {"AAPL", "VTI"}
    assert by_symbol["AAPL"].shares == 40
    assert by_symbol["AAPL"].cost_basis == pytest.approx((10 * 150 + 30 * 170) / 40)
    assert by_symbol["AAPL"].name == "Apple Inc."
    assert (
        "1 option" in valued.message and "1 cash equivalent" in valued.message and "1 short" in valued.message
    )

    # The sync is kept as the user's holdings, with its time as the marker.
    assert [p.symbol for p in await HoldingsBook().list("alice")] == ["AAPL", "VTI"]
    connection = await link.connection("alice")
    assert connection is not None and connection.last_synced_at is not None
    assert await HoldingsBook().list("bob") == [] and (await portfolio("bob")).needs_auth

    # Each ask syncs again: a change at the broker shows up.
    fake.users[remote].accounts[next(iter(fake.users[remote].accounts))][0] = stock("AAPL", 12, 150.0)
    assert {h.symbol: h.shares for h in (await portfolio("alice")).holdings}["AAPL"] == 42


async def test_a_fresh_sync_is_not_repeated_within_the_interval(configured, monkeypatch):
    monkeypatch.setenv("FINCH_SNAPTRADE_SYNC_INTERVAL_S", "300")
    reset_settings()
    fake = configured
    link = app_context().brokerage
    await link.connect_url("alice")
    fake.link(snaptrade_user_id("alice"), [stock("MSFT", 3, 300.0)])
    first = await portfolio("alice")
    pulls = sum(r["path"] == "/accounts/all" for r in fake.requests)
    second = await portfolio("alice")
    assert [h.symbol for h in first.holdings] == [h.symbol for h in second.holdings] == ["MSFT"]
    assert second.source == "brokerage"
    assert sum(r["path"] == "/accounts/all" for r in fake.requests) == pulls == 1


async def test_concurrent_asks_make_one_pull(configured, monkeypatch):
    monkeypatch.setenv("FINCH_SNAPTRADE_SYNC_INTERVAL_S", "60")
    reset_settings()
    fake = configured
    await app_context().brokerage.connect_url("alice")
    fake.link(snaptrade_user_id("alice"), [stock("MSFT", 3, 300.0)])
    results = await asyncio.gather(*(portfolio("alice") for _ in range(4)))
    assert all([h.symbol for h in r.holdings] == ["MSFT"] and r.source == "brokerage" for r in results)
    assert sum(r["path"] == "/accounts/all" for r in fake.requests) == 1


async def test_when_snaptrade_fails_get_portfolio_falls_back_to_the_last_sync(configured):
    fake = configured
    link = app_context().brokerage
    await link.connect_url("alice")
    fake.link(snaptrade_user_id("alice"), [stock("NVDA", 5, 90.0)])
    assert [h.symbol for h in (await portfolio("alice")).holdings] == ["NVDA"]
    fake.fail_next(503, "Brokerage is temporarily unavailable.", "1130")
    fallback = await portfolio("alice")
    assert [h.symbol for h in fallback.holdings] == ["NVDA"] and fallback.source == "brokerage"
    assert "SnapTrade is failing (HTTP 503" in fallback.message and "last sync" in fallback.message
    assert _secret_of(fake, "alice") not in fallback.model_dump_json()


async def test_disconnect_forgets_the_user_at_snaptrade_and_in_finch_and_keeps_the_holdings(configured):
    fake = configured
    link = app_context().brokerage
    await link.connect_url("alice")
    fake.link(snaptrade_user_id("alice"), [stock("AMD", 7, 100.0)])
    await link.sync("alice")
    await link.disconnect("alice")
    assert fake.users == {} and await link.connection("alice") is None
    assert [p.symbol for p in await HoldingsBook().list("alice")] == ["AMD"]
    after = await portfolio("alice")
    assert after.source == "holdings" and [h.symbol for h in after.holdings] == ["AMD"]
    await link.connect_url("alice")  # and can connect again
    assert list(fake.users) == [snaptrade_user_id("alice")]


async def test_sync_without_accounts_leaves_manual_holdings_alone(configured):
    link = app_context().brokerage
    await HoldingsBook().save("alice", [validate_position("TSLA", 2, 200)])
    await link.connect_url("alice")
    result = await link.sync("alice")
    assert result.accounts == 0 and "finish connecting" in result.summary()
    assert [p.symbol for p in await HoldingsBook().list("alice")] == ["TSLA"]


# --- errors, without secrets ------------------------------------------------------------------


async def test_errors_are_clear_and_carry_no_secret(configured, caplog):
    redact.install_log_redaction()  # as the app does at start: urllib3 logs request URLs, with userSecret
    caplog.set_level(logging.DEBUG)
    fake = configured
    link = app_context().brokerage
    await link.connect_url("alice")
    secret = _secret_of(fake, "alice")
    fake.link(snaptrade_user_id("alice"), [stock("AAPL", 1, 1.0)])
    await link.sync("alice")

    # A refusal whose detail echoes the request (as some APIs do): the secret is scrubbed.
    fake.fail_next(
        401, f"Invalid userSecret {secret} for clientId {fake.client_id} (key {fake.consumer_key})", "1083"
    )
    with pytest.raises(BrokerageError) as refused:
        await link.sync("alice")
    assert "SnapTrade refused reading your brokerage positions (HTTP 401, code 1083)" in str(refused.value)

    fake.fail_next(429, "Too many requests")
    with pytest.raises(BrokerageError, match="rate-limiting"):
        await link.connect_url("alice")

    # Unreachable: urllib3's own error names the URL, whose query carries userSecret.
    fake.stop()
    with pytest.raises(BrokerageError) as unreachable:
        await link.sync("alice")
    assert "SnapTrade is unreachable while reading your brokerage positions" in str(unreachable.value)
    assert unreachable.value.__cause__ is None and unreachable.value.__suppress_context__

    fallback = await portfolio("alice")
    assert "unreachable" in fallback.message and [h.symbol for h in fallback.holdings] == ["AAPL"]

    for text in (str(refused.value), str(unreachable.value), fallback.model_dump_json(), caplog.text):
        assert secret not in text and fake.consumer_key not in text


async def test_a_hanging_snaptrade_times_out(configured, monkeypatch):
    monkeypatch.setenv("FINCH_SNAPTRADE_TIMEOUT_S", "0.5")
    reset_settings()
    fake = configured
    link = app_context().brokerage
    await link.connect_url("alice")
    fake.hang_s = 5
    started = time.monotonic()
    with pytest.raises(BrokerageError, match=r"did not answer within 0\.5 s"):
        await link.connect_url("alice")
    assert time.monotonic() - started < 3
    fake.hang_s = 0


async def test_a_user_snaptrade_already_knows_gets_a_way_out(configured):
    configured.users[snaptrade_user_id("alice")] = FakeUser(
        secret="lost-secret-0123456789"
    )  # Finch forgot it
    with pytest.raises(BrokerageError, match="already has a user for this Finch account") as caught:
        await app_context().brokerage.connect_url("alice")
    assert "lost-secret" not in str(caught.value)
    assert await app_context().brokerage.connection("alice") is None


async def test_bad_credentials_are_reported_without_the_key(configured, monkeypatch):
    monkeypatch.setenv("SNAPTRADE_CONSUMER_KEY", "wrong-consumer-key-000000")
    monkeypatch.setenv("SNAPTRADE_CLIENT_ID", "SOMEONE-ELSE")
    reset_settings()
    with pytest.raises(BrokerageError) as caught:
        await app_context().brokerage.connect_url("alice")
    assert "HTTP 401" in str(caught.value) and "wrong-consumer-key" not in str(caught.value)


# --- the secret key -------------------------------------------------------------------------


async def test_finch_secret_key_is_used_instead_of_a_key_file_and_a_changed_key_is_reported(
    configured, monkeypatch
):
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("FINCH_SECRET_KEY", key)
    reset_settings()
    link = app_context().brokerage
    await link.connect_url("alice")
    assert not (get_settings().data_dir / KEY_FILE_NAME).exists()
    with session_scope() as session:
        stored = crud.get_brokerage_connection(session=session, user_id="alice").encrypted_secret
    assert Fernet(key.encode()).decrypt(stored.encode()).decode() == _secret_of(configured, "alice")

    # Rotation: a new key first, the old one still decrypts.
    monkeypatch.setenv("FINCH_SECRET_KEY", Fernet.generate_key().decode() + "," + key)
    reset_settings()
    assert (await app_context().brokerage.connect_url("alice")).startswith(configured.base_url)

    # A key that cannot decrypt: a clear message, no crash, no secret.
    monkeypatch.setenv("FINCH_SECRET_KEY", "another passphrase that is long enough to use")
    reset_settings()
    with pytest.raises(BrokerageError, match="cannot be decrypted"):
        await app_context().brokerage.connect_url("alice")
    fallback = await portfolio("alice")
    assert fallback.needs_auth and "cannot be decrypted" in fallback.message


def test_secret_key_validation(monkeypatch, tmp_path):
    monkeypatch.setenv("FINCH_SECRET_KEY", "short")
    reset_settings()
    with pytest.raises(SecretKeyError):
        SecretBox.from_settings(get_settings())
    report = check(get_settings(), database=False)
    assert any("FINCH_SECRET_KEY" in e for e in report.errors) and not any(
        "short" in e for e in report.errors
    )
    monkeypatch.setenv("FINCH_SNAPTRADE_BASE_URL", "http://localhost:8080")
    reset_settings()
    assert any(
        e.startswith("FINCH_SNAPTRADE_BASE_URL: must be an http(s) URL")
        for e in check(get_settings(), database=False).errors
    )
    monkeypatch.delenv("FINCH_SNAPTRADE_BASE_URL")
    passphrase = "x" * 40
    monkeypatch.setenv("FINCH_SECRET_KEY", passphrase)
    reset_settings()
    box = SecretBox.from_settings(get_settings())
    assert box.decrypt(box.encrypt("s")) == "s"
    assert check(get_settings(), database=False).errors == []


async def test_concurrent_first_use_makes_one_key_file(tmp_path):
    from finch_app.providers.brokerage import key_file_key

    path = tmp_path / "keys" / KEY_FILE_NAME
    keys = await asyncio.gather(*(asyncio.to_thread(key_file_key, path) for _ in range(8)))
    assert len(set(keys)) == 1 and path.read_bytes().strip() == keys[0]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE_NAME]  # no temporary files left


# --- conversion -------------------------------------------------------------------------------


def test_snaptrade_positions_become_finch_holdings():
    converted = positions_from_snaptrade(
        [
            stock("BRK.B", 2, 400.0),
            stock("SHOP:XTSE", 3, None),  # an exchange-suffixed symbol: its raw symbol is used
            stock("AAPL", "0", 1.0),
            {"instrument": {"kind": "crypto", "symbol": "BTC", "raw_symbol": "BTC"}, "units": "0.5"},
            {"instrument": {}, "units": "1"},
            stock("$$$", 1, 1.0),
        ]
    )
    assert [(p.symbol, p.shares, p.cost_basis) for p in converted.positions] == [
        ("BRK.B", 2, 400.0),
        ("SHOP", 3, 0.0),
    ]
    assert converted.skipped == {"no quantity": 1, "crypto": 1, "other": 1, "unreadable symbol": 1}


async def test_brokerage_portfolio_without_a_connection_reads_the_holdings(configured):
    await HoldingsBook().save("carol", [validate_position("IBM", 1, 100)])
    load = await BrokeragePortfolio(app_context().brokerage).load("carol")
    assert load.source == "holdings" and [p.symbol for p in load.positions] == ["IBM"] and load.note is None
    assert configured.requests == []  # no SnapTrade call for a user who never connected


# --- the UI's state -----------------------------------------------------------------------------


async def test_the_ui_connects_in_a_popup_then_syncs(configured):
    from finch_app.finch_app import app
    from finch_app.states.portfolio import PortfolioState

    fake = configured
    async with HeadlessTab(app, token="brokerage-ui") as tab:
        async with tab.locked(PortfolioState) as state:
            await PortfolioState.on_load.fn(state)
            assert state.brokerage_available is True and state.brokerage_connected is False
        proxy = await tab.proxy(PortfolioState)
        events = [e async for e in PortfolioState.connect_brokerage.fn(proxy)]
        assert len(events) == 1
        redirect = events[0]
        args = {name._js_expr: value._js_expr for name, value in redirect.args}
        assert "_redirect" in redirect.handler.fn.__qualname__ or redirect.handler.fn.__name__ == "fn"
        assert args["external"] == "true" and args["popup"] == "true" and fake.base_url in args["path"]
        async with tab.locked(PortfolioState) as state:
            assert (
                state.brokerage_connected and state.portal_url.startswith(fake.base_url) and state.error == ""
            )
        fake.link(snaptrade_user_id("local"), [stock("AAPL", 10, 150.0), stock("MSFT", 5, 300.0)])
        await PortfolioState.sync_brokerage.fn(await tab.proxy(PortfolioState))
        async with tab.locked(PortfolioState) as state:
            assert [h.symbol for h in state.holdings] == ["AAPL", "MSFT"]
            assert state.message == "Synced 2 holdings from 1 account." and state.brokerage_synced.startswith(
                "Synced "
            )
        fake.fail_next(500, "boom")
        await PortfolioState.sync_brokerage.fn(await tab.proxy(PortfolioState))
        async with tab.locked(PortfolioState) as state:
            assert "SnapTrade is failing (HTTP 500" in state.error and not state.brokerage_busy


async def test_a_registration_finch_cannot_store_is_undone_at_snaptrade(configured, monkeypatch):
    def broken(**_kwargs):
        raise RuntimeError("database is gone")

    with monkeypatch.context() as patched:
        patched.setattr(crud, "add_brokerage_connection", broken)
        with pytest.raises(BrokerageError, match="could not store the brokerage connection"):
            await app_context().brokerage.connect_url("alice")
    assert configured.users == {}  # no orphan SnapTrade user that would block the next try
    assert (await app_context().brokerage.connect_url("alice")).startswith(configured.base_url)
