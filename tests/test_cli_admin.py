"""The admin command line (`python -m finch_app users|tokens|db|check`) and the start-up
configuration check, against the test's database. One test runs it as an admin would, in a
subprocess; the others call the same `main` in this process (a subprocess spends ~3 s importing)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

import pytest

from finch_app.__main__ import main
from finch_app.auth import store
from finch_app.config_check import ConfigError, check, load_settings
from finch_app.settings import get_settings, reset_settings

ROOT = Path(__file__).resolve().parents[1]


def finch(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m finch_app ARGS` with `env` added and `stdin` piped in: its exit code and output."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env or {}), mock.patch.object(sys, "stdin", io.StringIO(stdin)):
        reset_settings()
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = main(list(args))
        except SystemExit as exit_:  # argparse and the settings check exit
            code = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            reset_settings()
    return subprocess.CompletedProcess(
        ["python", "-m", "finch_app", *args], code, out.getvalue(), err.getvalue()
    )


def finch_process(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The same, as its own process: the entry point an admin types."""
    return subprocess.run(
        [sys.executable, "-m", "finch_app", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_an_admin_adds_the_first_user_from_a_shell_and_check_passes():
    accounts = {"FINCH_AUTH": "password"}
    before = finch_process("check", env=accounts)
    assert before.returncode == 2, before.stderr
    assert "no users yet" in before.stderr and "python -m finch_app users add NAME --admin" in before.stderr
    added = finch_process("users", "add", "alice", "--admin", stdin="a long password\n")
    assert added.returncode == 0 and "Added admin alice" in added.stderr, added.stderr
    assert "a long password" not in added.stdout + added.stderr
    after = finch_process("check", env=accounts)
    assert after.returncode == 0, after.stderr
    assert store.check_password("alice", "a long password") is not None


@pytest.mark.persistence
def test_users_add_list_disable_and_set_password():
    added = finch("users", "add", "alice", "--admin", stdin="a long password\n")
    assert added.returncode == 0, added.stderr
    assert "Added admin alice" in added.stderr
    assert "a long password" not in added.stdout + added.stderr
    assert finch("users", "add", "bob", stdin="another long one\n").returncode == 0

    duplicate = finch("users", "add", "ALICE", stdin="a long password\n")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    short = finch("users", "add", "carol", stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr

    listing = finch("users", "list")
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0].startswith("alice") and "admin" in lines[0] and lines[1].startswith("bob")

    assert store.check_password("alice", "a long password") is not None
    assert finch("users", "set-password", "alice", stdin="a brand new password\n").returncode == 0
    assert store.check_password("alice", "a long password") is None
    assert store.check_password("alice", "a brand new password") is not None

    disabled = finch("users", "disable", "bob")
    assert disabled.returncode == 0 and "disabled" in disabled.stderr
    assert store.get_user("bob").disabled
    assert "disabled" in finch("users", "list").stdout.splitlines()[1]
    assert finch("users", "disable", "nobody").returncode == 1


@pytest.mark.persistence
def test_tokens_create_prints_the_token_once_and_it_works():
    store.add_user("alice", "a long password")
    store.add_user("bob", "a long password")
    created = finch("tokens", "create", "notebook", "--user", "alice")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("finch_") and "\n" not in token
    assert token not in created.stderr
    assert store.token_user(token).name == "alice"
    listing = finch("tokens", "list", "--user", "alice")
    assert "notebook" in listing.stdout and token not in listing.stdout
    token_id = listing.stdout.split()[0]
    assert finch("tokens", "revoke", token_id).returncode == 0
    assert store.token_user(token) is None


@pytest.mark.persistence
def test_a_new_password_ends_the_users_api_tokens_and_says_which():
    alice = store.add_user("alice", "a long password")
    _, first = store.create_token(alice.id, "notebook")
    _, second = store.create_token(alice.id, "ci job")
    result = finch("users", "set-password", "alice", stdin="a brand new password\n")
    assert result.returncode == 0, result.stderr
    assert "Their API tokens ended too: 'notebook'" in result.stderr and "'ci job'" in result.stderr
    assert store.token_user(first) is None and store.token_user(second) is None


@pytest.mark.persistence
def test_keep_tokens_keeps_them_and_lists_the_ones_left():
    alice = store.add_user("alice", "a long password")
    _, token = store.create_token(alice.id, "notebook")
    result = finch("users", "set-password", "alice", "--keep-tokens", stdin="a brand new password\n")
    assert result.returncode == 0, result.stderr
    assert "still work (--keep-tokens): 'notebook'" in result.stderr
    assert store.token_user(token).name == "alice"


@pytest.mark.persistence
def test_tokens_create_with_an_expiry_and_list_shows_it():
    store.add_user("alice", "a long password")
    created = finch("tokens", "create", "notebook", "--user", "alice", "--expires", "30d")
    assert created.returncode == 0, created.stderr
    (info,) = store.list_tokens(store.get_user("alice").id)
    assert (
        info.expires_at is not None
        and 29.9 < (info.expires_at - info.created_at).total_seconds() / 86400 <= 30
    )
    assert f"works until {info.expires_at:%Y-%m-%d %H:%M} UTC" in created.stderr
    listing = finch("tokens", "list", "--user", "alice")
    assert f"expires {info.expires_at:%Y-%m-%d %H:%M} UTC" in listing.stdout
    bad = finch("tokens", "create", "x", "--user", "alice", "--expires", "soon")
    assert bad.returncode == 2 and "30d, 12h, 2w or 90m" in bad.stderr


def test_tokens_create_needs_to_know_whose_token(monkeypatch):
    env = {"FINCH_AUTH": "password"}
    store.add_user("alice", "a long password")
    store.add_user("bob", "a long password")
    ambiguous = finch("tokens", "create", "notebook", env=env)
    assert ambiguous.returncode == 1 and "--user" in ambiguous.stderr
    # `tokens create NAME` with a user's name: a token for that user.
    for_bob = finch("tokens", "create", "bob", env=env)
    assert for_bob.returncode == 0 and store.token_user(for_bob.stdout.strip()).name == "bob"


def test_tokens_for_the_local_user_without_accounts():
    created = finch("tokens", "create", "script")
    assert created.returncode == 0, created.stderr
    assert store.token_user(created.stdout.strip()).id == store.LOCAL_USER_ID


def test_db_upgrade_and_current(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    assert finch("db", "current", env=env).stdout.startswith("empty")
    upgraded = finch("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "was empty" in upgraded.stderr
    from finch_app.db import migrate

    assert finch("db", "current", env=env).stdout.startswith(migrate.head_revision())


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"FINCH_AUTH": "ldap"}, "FINCH_AUTH: Input should be 'none', 'password' or 'header' (got 'ldap')"),
        (
            {"FINCH_MAX_RUNS_PER_USER": "0"},
            "FINCH_MAX_RUNS_PER_USER: Input should be greater than or equal to 1",
        ),
        ({"FINCH_SESSION_DAYS": "soon"}, "FINCH_SESSION_DAYS: Input should be a valid number"),
        ({"FINCH_AUTH": "header"}, "FINCH_AUTH=header needs FINCH_TRUSTED_PROXIES"),
        (
            {"FINCH_AUTH": "header", "FINCH_TRUSTED_PROXIES": "10.0.0.0/33"},
            "FINCH_TRUSTED_PROXIES: '10.0.0.0/33'",
        ),
        ({"FINCH_AUTH_HEADER": "X Bad Header"}, "FINCH_AUTH_HEADER"),
        ({"DATABASE_URL": "postgresql+psycopg://u:pw-secret@127.0.0.1:1/db"}, "DATABASE_URL: cannot open"),
        ({"REFLEX_REDIS_URL": "localhost:6379"}, "REFLEX_REDIS_URL: must start with redis://"),
        ({"FINCH_HOST": "0.0.0.0"}, "FINCH_UNSAFE_NO_AUTH_ON_NETWORK=1"),
        (
            {
                "FINCH_AUTH": "header",
                "FINCH_TRUSTED_PROXIES": "10.0.0.5/32",
                "REFLEX_TRUSTED_PROXY_HOPS": "1",
            },
            "REFLEX_TRUSTED_PROXY_HOPS must not be set with FINCH_AUTH=header",
        ),
    ],
)
def test_bad_configuration_stops_serve_with_one_clear_line_each(env, fragment):
    result = finch("serve", "--port", "1", env=env)
    assert result.returncode == 2
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "pw-secret" not in result.stderr


def test_exposing_finch_without_accounts_is_refused_unless_opted_in(monkeypatch):
    monkeypatch.setenv("FINCH_HOST", "0.0.0.0")
    reset_settings()
    report = check(get_settings(), database=False)
    assert not report.ok and any(
        "FINCH_AUTH=none" in e and "FINCH_UNSAFE_NO_AUTH_ON_NETWORK" in e for e in report.errors
    )
    assert any("FINCH_ALLOWED_ORIGINS" in w for w in report.warnings)
    monkeypatch.setenv("FINCH_UNSAFE_NO_AUTH_ON_NETWORK", "1")
    reset_settings()
    report = check(get_settings(), database=False)
    assert report.ok and any("FINCH_AUTH=none" in w for w in report.warnings)


def test_serve_host_flag_is_checked_like_finch_host():
    result = finch("serve", "--port", "1", "--host", "0.0.0.0")
    assert result.returncode == 2 and "FINCH_HOST=0.0.0.0 with FINCH_AUTH=none" in result.stderr


def test_a_remote_redis_without_a_password_is_warned_about(monkeypatch):
    monkeypatch.setenv("REFLEX_REDIS_URL", "redis://redis.internal:6379/0")
    reset_settings()
    assert any(
        "REFLEX_REDIS_URL has no password" in w for w in check(get_settings(), database=False).warnings
    )
    monkeypatch.setenv("REFLEX_REDIS_URL", "redis://:s3cret@redis.internal:6379/0")
    reset_settings()
    assert not any("REFLEX_REDIS_URL" in w for w in check(get_settings(), database=False).warnings)


def test_load_settings_names_the_variable(monkeypatch):
    monkeypatch.setenv("FINCH_LOGIN_MAX_FAILURES", "many")
    reset_settings()
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert error.value.problems[0].startswith("FINCH_LOGIN_MAX_FAILURES:")


def test_the_operators_setup_view_names_what_users_get_and_the_variable_to_change(monkeypatch):
    from finch_app.config_check import setup_items

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("FINCH_DATA_MODE", "auto")
    monkeypatch.delenv("FINCH_SEC_CONTACT", raising=False)
    reset_settings()
    items = {item.what: item for item in setup_items(get_settings())}
    offline = items["Answers come from the offline model: built-in rules over sample data."]
    assert not offline.ok and "OPENAI_API_KEY" in offline.how
    sec = items["Live SEC data (insider trades) is off: users see sample data."]
    assert not sec.ok and "FINCH_SEC_CONTACT" in sec.how

    monkeypatch.setenv("FINCH_SEC_CONTACT", "ops@example.com")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    reset_settings()
    whats = [item.what for item in setup_items(get_settings())]
    assert f"Answers come from {get_settings().model}." in whats
    assert not any("SEC" in what for what in whats)
