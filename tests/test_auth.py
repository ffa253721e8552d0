"""Accounts: password hashing, users, sessions, API tokens, the sign-in throttle, and the
proxy-header trust rules. Storage is asked directly; the HTTP side is in test_auth_api.py."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from finch_app.auth import identity, passwords, proxy, signin, store
from finch_app.db.accounts import ApiToken, AuthSession, LoginThrottle, User
from finch_app.db.engine import session_scope
from finch_app.settings import get_settings

pytestmark = pytest.mark.persistence

PASSWORD = "correct horse battery"


def settings_with(monkeypatch, **values: str):
    from finch_app.settings import reset_settings

    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    return get_settings()


# --- passwords --------------------------------------------------------------------------


def test_production_hasher_is_argon2id_and_memory_hard():
    from argon2 import PasswordHasher, Type

    default = PasswordHasher()
    assert default.type is Type.ID
    assert default.memory_cost >= 64 * 1024  # KiB
    # The module's hasher in production is argon2-cffi's default profile.
    import importlib

    fresh = importlib.reload(passwords)
    try:
        assert fresh.HASHER.memory_cost == default.memory_cost
        assert fresh.HASHER.type is Type.ID
    finally:
        importlib.reload(passwords)


def test_passwords_are_stored_as_argon2_hashes_and_verified():
    stored = passwords.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert passwords.verify_password(stored, PASSWORD)
    assert not passwords.verify_password(stored, PASSWORD + "x")
    assert not passwords.verify_password(None, PASSWORD)
    assert not passwords.verify_password("not a hash", PASSWORD)


@pytest.mark.parametrize("bad", ["short", "", "x" * 2000])
def test_weak_or_absurd_passwords_are_refused(bad):
    with pytest.raises(passwords.PasswordRejected):
        passwords.hash_password(bad)


# --- users ------------------------------------------------------------------------------


def test_names_are_unique_without_regard_to_case():
    alice = store.add_user("Alice", PASSWORD, is_admin=True)
    assert alice.is_admin and alice.name == "Alice"
    with pytest.raises(store.AccountError, match="already exists"):
        store.add_user("alice", PASSWORD)
    assert store.get_user("ALICE").id == alice.id
    assert [u.name for u in store.list_users()] == ["Alice"]


def test_only_the_hash_of_a_password_is_in_the_database():
    store.add_user("alice", PASSWORD)
    with session_scope() as session:
        row = session.exec(select(User)).one()
        assert row.password_hash.startswith("$argon2id$")
        assert PASSWORD not in row.password_hash


def test_check_password_refuses_wrong_unknown_and_disabled_users():
    store.add_user("alice", PASSWORD)
    assert store.check_password("alice", PASSWORD) is not None
    assert store.check_password("alice", "wrong password") is None
    assert store.check_password("nobody", PASSWORD) is None
    store.set_disabled("alice")
    assert store.check_password("alice", PASSWORD) is None


# --- sessions ---------------------------------------------------------------------------


def test_a_session_is_stored_hashed_and_resolves_to_its_user():
    alice = store.add_user("alice", PASSWORD)
    token = store.create_session(alice.id, timedelta(days=7))
    with session_scope() as session:
        row = session.exec(select(AuthSession)).one()
        assert row.id == hashlib.sha256(token.encode()).hexdigest()
        assert token not in row.id
    assert store.session_user(token).id == alice.id
    assert store.session_user(token + "x") is None
    assert store.session_user("") is None


def test_sessions_expire():
    alice = store.add_user("alice", PASSWORD)
    token = store.create_session(alice.id, timedelta(days=7))
    with session_scope() as session:
        row = session.exec(select(AuthSession)).one()
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
    assert store.session_user(token) is None


def test_signing_out_ends_the_session():
    alice = store.add_user("alice", PASSWORD)
    token = store.create_session(alice.id, timedelta(days=7))
    store.end_session(token)
    assert store.session_user(token) is None


def test_disabling_a_user_ends_their_sessions_and_tokens_at_once():
    alice = store.add_user("alice", PASSWORD)
    bob = store.add_user("bob", PASSWORD)
    alice_session = store.create_session(alice.id, timedelta(days=7))
    bob_session = store.create_session(bob.id, timedelta(days=7))
    _, alice_token = store.create_token(alice.id, "notebook")
    store.set_disabled("alice")
    assert store.session_user(alice_session) is None
    assert store.token_user(alice_token) is None
    assert store.session_user(bob_session).id == bob.id
    store.set_disabled("alice", disabled=False)
    assert store.token_user(alice_token).id == alice.id  # tokens come back; sessions do not
    assert store.session_user(alice_session) is None


def test_a_new_password_ends_the_users_sessions():
    alice = store.add_user("alice", PASSWORD)
    token = store.create_session(alice.id, timedelta(days=7))
    store.set_password("alice", "another long password")
    assert store.session_user(token) is None
    assert store.check_password("alice", "another long password") is not None


# --- API tokens -------------------------------------------------------------------------


def test_tokens_are_shown_once_stored_hashed_and_revocable():
    alice = store.add_user("alice", PASSWORD)
    info, token = store.create_token(alice.id, "notebook")
    assert token.startswith(store.TOKEN_PREFIX) and len(token) > 40
    assert info.prefix == token[: len(info.prefix)] and len(info.prefix) < 16
    with session_scope() as session:
        row = session.exec(select(ApiToken)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (row.token_hash, row.prefix, row.name)
    assert store.token_user(token).id == alice.id
    assert [t.name for t in store.list_tokens(alice.id)] == ["notebook"]
    assert store.revoke_token(alice.id, info.id)
    assert store.token_user(token) is None
    assert store.list_tokens(alice.id) == []
    assert not store.revoke_token(alice.id, info.id)


def test_a_token_with_an_expiry_stops_working_then_and_is_not_listed():
    alice = store.add_user("alice", PASSWORD)
    info, token = store.create_token(alice.id, "for a day", lifetime=timedelta(days=1))
    assert (
        store.token_user(token).name == "alice"
        and store.list_tokens(alice.id)[0].expires_at == info.expires_at
    )
    with session_scope() as session:
        row = session.get(ApiToken, info.id)
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
    assert store.token_user(token) is None
    assert store.list_tokens(alice.id) == []


def test_a_new_password_ends_the_users_tokens():
    alice = store.add_user("alice", PASSWORD)
    _, token = store.create_token(alice.id, "cli")
    _, ended = store.set_password("alice", "another long password")
    assert [t.name for t in ended] == ["cli"] and store.token_user(token) is None


def test_a_user_has_at_most_so_many_live_tokens():
    alice = store.add_user("alice", PASSWORD)
    for n in range(store.MAX_TOKENS_PER_USER):
        store.create_token(alice.id, f"t{n}")
    with pytest.raises(store.AccountError, match="revoke one first"):
        store.create_token(alice.id, "one more")
    store.revoke_token(alice.id, store.list_tokens(alice.id)[0].id)
    assert store.create_token(alice.id, "one more")[1]


def test_a_user_cannot_revoke_someone_elses_token():
    alice = store.add_user("alice", PASSWORD)
    bob = store.add_user("bob", PASSWORD)
    info, token = store.create_token(alice.id, "notebook")
    assert not store.revoke_token(bob.id, info.id)
    assert store.token_user(token).id == alice.id
    assert store.list_tokens(bob.id) == []


def test_a_token_records_when_it_was_last_used():
    alice = store.add_user("alice", PASSWORD)
    info, token = store.create_token(alice.id, "notebook")
    assert store.list_tokens(alice.id)[0].last_used_at is None
    store.token_user(token)
    used = store.list_tokens(alice.id)[0].last_used_at
    assert used is not None and datetime.now(UTC) - used < timedelta(minutes=1)


# --- the throttle -----------------------------------------------------------------------


def test_wrong_passwords_are_slowed_down_then_locked_out(monkeypatch):
    settings = settings_with(
        monkeypatch,
        FINCH_LOGIN_MAX_FAILURES="4",
        FINCH_LOGIN_SLOWDOWN_AFTER="1",
        FINCH_LOGIN_LOCKOUT_MINUTES="15",
    )
    store.add_user("alice", PASSWORD)
    results = [signin.sign_in(settings, "alice", "wrong password", "10.0.0.1") for _ in range(3)]
    assert [r.error for r in results] == ["bad", "bad", "bad"]
    assert [r.delay_s for r in results] == [0.0, 1.0, 2.0]
    assert results[0].message == signin.WRONG
    fourth = signin.sign_in(settings, "alice", "wrong password", "10.0.0.1")
    assert fourth.error == "locked" and "Too many failed sign-ins" in fourth.message
    assert 14 * 60 < fourth.retry_after_s <= 15 * 60
    # Locked means locked from that address: the right password does not get in either…
    assert signin.sign_in(settings, "alice", PASSWORD, "10.0.0.1").error == "locked"
    # …but the guesser cannot lock alice out from everywhere else.
    assert signin.sign_in(settings, "alice", PASSWORD, "10.0.0.2").token


def test_the_lock_opens_again_after_its_time(monkeypatch):
    settings = settings_with(monkeypatch, FINCH_LOGIN_MAX_FAILURES="2")
    store.add_user("alice", PASSWORD)
    for _ in range(2):
        signin.sign_in(settings, "alice", "wrong password", "10.0.0.1")
    assert signin.sign_in(settings, "alice", PASSWORD, "10.0.0.1").error == "locked"
    with session_scope() as session:
        for row in session.exec(select(LoginThrottle)).all():
            row.locked_until = datetime.now(UTC) - timedelta(seconds=1)
            row.first_failure_at = datetime.now(UTC) - timedelta(hours=1)
            session.add(row)
    assert signin.sign_in(settings, "alice", PASSWORD, "10.0.0.1").token


def test_refusals_never_say_whether_the_name_exists(monkeypatch):
    settings = settings_with(monkeypatch, FINCH_LOGIN_MAX_FAILURES="3")
    store.add_user("alice", PASSWORD)
    known = [signin.sign_in(settings, "alice", "wrong password", "10.0.0.1") for _ in range(3)]
    unknown = [signin.sign_in(settings, "mallory", "wrong password", "10.0.0.2") for _ in range(3)]
    assert [(r.error, r.message, r.delay_s) for r in known] == [
        (r.error, r.message, r.delay_s) for r in unknown
    ]


def test_a_successful_sign_in_clears_the_count():
    settings = get_settings()
    store.add_user("alice", PASSWORD)
    for _ in range(3):
        signin.sign_in(settings, "alice", "wrong password", "10.0.0.1")
    assert signin.sign_in(settings, "alice", PASSWORD, "10.0.0.1").token
    assert signin.sign_in(settings, "alice", "wrong password", "10.0.0.1").delay_s == 0.0


def test_one_address_trying_many_names_is_slowed_but_locks_nobody_out(monkeypatch):
    """20 wrong sign-ins for random names from one address (everyone behind one proxy, say): the
    address's answers get slower, and the next right password from it still signs in."""
    settings = settings_with(monkeypatch, FINCH_LOGIN_MAX_FAILURES="5", FINCH_LOGIN_SLOWDOWN_AFTER="2")
    store.add_user("alice", PASSWORD)
    results = [signin.sign_in(settings, f"user{n}", "wrong password", "203.0.113.5") for n in range(20)]
    assert {r.error for r in results} == {"bad"}
    delays = [r.delay_s for r in results]
    assert delays[:8] == [0.0] * 8 and delays[8:12] == [1.0, 2.0, 3.0, 4.0] and delays[-1] == 5.0
    assert signin.sign_in(settings, "alice", PASSWORD, "203.0.113.5").token


def test_many_addresses_guessing_one_name_are_slowed_down(monkeypatch):
    settings = settings_with(monkeypatch, FINCH_LOGIN_MAX_FAILURES="5", FINCH_LOGIN_SLOWDOWN_AFTER="2")
    store.add_user("alice", PASSWORD)
    results = [signin.sign_in(settings, "alice", "wrong password", f"198.51.100.{n}") for n in range(10)]
    assert [r.delay_s for r in results][-2:] == [1.0, 2.0]  # 8 (2 × 4) wrong answers before the name slows
    assert signin.sign_in(settings, "alice", PASSWORD, "198.51.100.200").token


def test_throttle_rows_whose_time_has_passed_are_swept(monkeypatch):
    settings = settings_with(monkeypatch, FINCH_LOGIN_MAX_FAILURES="5")
    for n in range(30):
        signin.sign_in(settings, f"user{n}", "wrong password", "203.0.113.5")
    with session_scope() as session:
        assert len(session.exec(select(LoginThrottle)).all()) == 61  # 30 pairs, 30 names, 1 address
        for row in session.exec(select(LoginThrottle)).all():
            row.first_failure_at = datetime.now(UTC) - timedelta(hours=1)
            session.add(row)
    signin.sign_in(settings, "zed", "wrong password", "203.0.113.9")
    with session_scope() as session:
        assert {r.key for r in session.exec(select(LoginThrottle)).all()} == {
            "pair:203.0.113.9|zed",
            "ip:203.0.113.9",
            "name:zed",
        }


# --- who is asking ----------------------------------------------------------------------


def test_auth_none_is_the_local_user_everywhere():
    settings = get_settings()
    assert settings.auth == "none"
    assert identity.browser_identity(settings, {}, "127.0.0.1") == identity.LOCAL
    assert identity.api_identity(settings, {}, "127.0.0.1") == identity.LOCAL


def test_password_mode_reads_the_session_cookie_and_bearer_tokens(monkeypatch):
    settings = settings_with(monkeypatch, FINCH_AUTH="password")
    alice = store.add_user("alice", PASSWORD)
    cookie = store.create_session(alice.id, timedelta(days=1))
    _, token = store.create_token(alice.id, "cli")
    browser = identity.browser_identity(
        settings, {"cookie": f"theme=dark; finch_session={cookie}"}, "1.2.3.4"
    )
    assert browser.user_id == alice.id
    assert identity.browser_identity(settings, {}, "1.2.3.4") is None
    assert (
        identity.api_identity(settings, {"authorization": f"Bearer {token}"}, "1.2.3.4").user_id == alice.id
    )
    # The API takes tokens, not the browser's cookie.
    assert identity.api_identity(settings, {"cookie": f"finch_session={cookie}"}, "1.2.3.4") is None
    assert identity.api_identity(settings, {"authorization": "Bearer finch_nope"}, "1.2.3.4") is None


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("10.1.2.3", True),
        ("10.255.0.1", True),
        ("192.168.1.9", True),
        ("::ffff:10.0.0.7", True),
        ("11.0.0.1", False),
        ("127.0.0.1", False),
        ("not-an-ip", False),
        ("", False),
    ],
)
def test_trusted_proxies_are_cidrs(peer, trusted):
    assert proxy.is_trusted(peer, "10.0.0.0/8, 192.168.1.9") is trusted


def test_a_bad_cidr_is_reported():
    with pytest.raises(proxy.BadProxyList, match="10.0.0.0/33"):
        proxy.parse_networks("10.0.0.0/33")


def test_header_mode_believes_the_header_only_from_trusted_proxies(monkeypatch, caplog):
    monkeypatch.setattr(proxy, "_warned", {})
    settings = settings_with(monkeypatch, FINCH_AUTH="header", FINCH_TRUSTED_PROXIES="10.0.0.0/8")
    headers = {"x-forwarded-email": "Carol@Example.com"}
    carol = identity.browser_identity(settings, headers, "10.0.0.5")
    assert carol is not None and carol.name == "Carol@Example.com"
    # Created on first sight, the same user afterwards (names match without regard to case).
    again = identity.browser_identity(settings, {"x-forwarded-email": "carol@example.com"}, "10.0.0.6")
    assert again.user_id == carol.user_id
    with caplog.at_level(logging.WARNING, logger="finch.auth"):
        assert identity.browser_identity(settings, headers, "203.0.113.7") is None
    assert "203.0.113.7" in caplog.text and "FINCH_TRUSTED_PROXIES" in caplog.text
    assert identity.browser_identity(settings, {}, "10.0.0.5") is None
    store.set_disabled("Carol@Example.com")
    assert identity.browser_identity(settings, headers, "10.0.0.5") is None


def test_header_mode_uses_the_configured_header(monkeypatch):
    settings = settings_with(
        monkeypatch,
        FINCH_AUTH="header",
        FINCH_TRUSTED_PROXIES="127.0.0.1/32",
        FINCH_AUTH_HEADER="X-Auth-Request-User",
    )
    assert identity.browser_identity(settings, {"x-forwarded-email": "a@b.c"}, "127.0.0.1") is None
    assert identity.browser_identity(settings, {"x-auth-request-user": "dave"}, "127.0.0.1").name == "dave"


def test_cookie_header_parsing_is_forgiving():
    assert identity.parse_cookies('a=1; finch_session="abc"; b') == {"a": "1", "finch_session": "abc"}
    assert identity.session_token({"cookie": "finch_session=x; finch_session=y"}) == "x"
