"""Test-wide guards: no network beyond loopback, and a private data dir per test."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


POSTGRES_URL = os.environ.get("FINCH_TEST_POSTGRES_URL", "").strip()
"""A PostgreSQL database the persistence tests also run against (`make test` sets it when
a local server answers), in a schema of each test process's own (`postgres_schema`)."""


def pytest_generate_tests(metafunc):
    """Persistence tests (marked `persistence`) run on SQLite, and on PostgreSQL when it is there."""
    if (
        POSTGRES_URL
        and "finch_db" in metafunc.fixturenames
        and metafunc.definition.get_closest_marker("persistence")
    ):
        metafunc.parametrize("finch_db", ["sqlite", "postgres"], indirect=True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file at the app's schema, made once per test process; each test starts from a
    copy (migrating a new file for every test took 40% of the unit tests' time)."""
    from finch_app.db import migrate
    from finch_app.db.engine import new_engine

    path = tmp_path_factory.mktemp("schema") / "finch.db"
    engine = new_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # folds the write-ahead log into the file
    return path


def _with_search_path(url: str, schema: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@contextmanager
def _postgres_schema() -> Iterator[str]:
    """A new, empty PostgreSQL schema, dropped on the way out."""
    import uuid

    import sqlalchemy as sa

    schema = f"finch_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """One PostgreSQL schema at the app's schema per test process, emptied before each test
    (a TRUNCATE: ~20 ms against ~150 ms to migrate a new schema; a database copied from a
    migrated template costs the server more still)."""
    from finch_app.db import migrate
    from finch_app.db.engine import new_engine

    with _postgres_schema() as schema:
        engine = new_engine(_with_search_path(POSTGRES_URL, schema))
        migrate.upgrade(engine)
        engine.dispose()
        yield schema


def _empty(schema: str) -> None:
    """Every row of `schema`'s tables goes, but the migrations' record."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sa.text("SET LOCAL lock_timeout = '10s'"))  # a leaked lock fails loudly
        tables = connection.execute(
            sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename <> 'alembic_version'"
            ),
            {"s": schema},
        ).scalars()
        names = ", ".join(f'"{schema}"."{table}"' for table in tables)
        if names:
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    admin.dispose()


@pytest.fixture
def finch_db(request) -> Iterator[str | None]:
    """The test's database URL: None for the SQLite file in its data dir, or on PostgreSQL (the
    test is then named `[postgres]`) the process's schema, emptied; a new schema for tests
    marked `empty_database`."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield None
    elif request.node.get_closest_marker("empty_database") is not None:
        with _postgres_schema() as schema:
            yield _with_search_path(POSTGRES_URL, schema)
    else:
        schema = request.getfixturevalue("postgres_schema")
        _empty(schema)
        yield _with_search_path(POSTGRES_URL, schema)


@pytest.fixture(autouse=True)
def finch_env(request, tmp_path, monkeypatch, finch_db) -> Iterator[None]:
    """Each test gets its own data dir (with the SQLite file, or a PostgreSQL schema:
    `finch_db`) and fresh cached settings/services."""
    from argon2 import PasswordHasher

    from finch_app import context, redact, settings
    from finch_app.auth import passwords
    from finch_app.db import engine

    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "FINCH_MODEL",
        "DATABASE_URL",
        "FMP_API_KEY",
        "SNAPTRADE_CLIENT_ID",
        "SNAPTRADE_CONSUMER_KEY",
        "FINCH_SNAPTRADE_BASE_URL",
        "FINCH_SECRET_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in (
        "FINCH_AUTH",
        "FINCH_AUTH_HEADER",
        "FINCH_TRUSTED_PROXIES",
        "FINCH_HOST",
        "FINCH_MAX_RUNS_PER_USER",
    ):
        monkeypatch.delenv(name, raising=False)
    if finch_db is not None:
        monkeypatch.setenv("DATABASE_URL", finch_db)
    elif request.node.get_closest_marker("empty_database") is None:
        (tmp_path / "data").mkdir()
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "data" / "finch.db")
    # argon2 at its production cost makes every sign-in in a test take ~0.1 s; the
    # parameters themselves are checked in tests/test_auth.py.
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(passwords, "_DUMMY_HASH", None)
    redact.forget_secrets()
    monkeypatch.setenv("FINCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FINCH_SAMPLE_LATENCY_MS", "0")
    # The default (auto) mode would try the public data sources, and resolving their names
    # already leaves the machine: tests use the bundled sample unless they opt in.
    monkeypatch.setenv("FINCH_DATA_MODE", "offline")
    settings.reset_settings()
    context.use_context(None)
    yield
    if finch_db is not None:
        engine.engine_for(finch_db).dispose()  # its pooled connections, before the schema goes
    settings.reset_settings()
    context.use_context(None)
    engine.engine_for.cache_clear()


_WEB_ROOT = pytest.StashKey[str]()


BROWSER_GROUPS = (
    # Two groups of browser modules, each run in order in one process beside the other: the
    # browser tests mostly wait (on tools, timers, servers starting), so two fit on two cores.
    # Servers whose pages are alike share one build (tests/e2e/app_server.py), so the order
    # within a group matters little; the warm-start test runs last in the first group, on the
    # slot (web dir) the 60 s card fade of the modules before it was built in. The groups are
    # balanced by their measured times (~250 s each on two busy cores).
    (
        "test_auth_browser.py",
        "test_openai_browser.py",
        "test_approvals_browser.py",
        "test_mcp_browser.py",
        "test_workers.py",
        "test_live_results_browser.py",
        "test_crash_browser.py",
        "test_warm_start.py",
    ),
    (
        "test_chat_browser.py",
        "test_results_browser.py",
        "test_runs_browser.py",
        "test_brokerage_browser.py",
        "test_habits_browser.py",
    ),
)
OWN_PROCESS = {"test_bench.py"}
"""Browser test modules that start no app server in this process (the benchmark runs its own)."""


def _browser_group(path: str) -> int | None:
    """The group of a browser test module (the last for a module not listed); None for others."""
    if "tests/e2e/" not in path:
        return None
    name = path.rsplit("/", 1)[-1]
    if name in OWN_PROCESS:
        return None
    return next((i for i, group in enumerate(BROWSER_GROUPS) if name in group), len(BROWSER_GROUPS) - 1)


def _browser_rank(item) -> tuple[int, int, int]:
    group = _browser_group(str(item.fspath))
    if group is None:
        return (1, 0, 0)
    name = item.path.name
    modules = BROWSER_GROUPS[group]
    return (0, group, modules.index(name) if name in modules else len(modules))


def pytest_collection_modifyitems(config, items):
    """Browser tests first (they take longest), their modules in `BROWSER_GROUPS` order."""
    items.sort(key=_browser_rank)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup` (`make test`): each browser group, in order, in one worker, where its
    app servers reuse one another's builds and one browser runs at a time; every other test
    (the benchmark too) wherever a worker is free. (pytest-xdist's own `xdist_group` marks do
    not reach its scheduler under pytest 9.2, whose node ids it can no longer suffix.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserGroups(LoadScopeScheduling):
        """Largest unit first (LoadScopeScheduling's default order): the browser groups."""

        def _split_scope(self, nodeid: str) -> str:
            group = _browser_group(nodeid.split("::", 1)[0])
            return nodeid if group is None else f"browser-{group + 1}"

    return BrowserGroups(config, log)


def _in_browser_group(item) -> bool:
    return _browser_group(str(item.fspath)) is not None


def pytest_runtest_setup(item):
    """Under pytest-xdist, a worker that runs anything but the browser tests yields the CPU to
    the one that does (nice 10, its subprocesses too): Chromium and the app servers must answer
    within the tests' timeouts, and a test of a parser does not mind waiting."""
    config = item.config
    if hasattr(config, "workerinput") and not _in_browser_group(item) and not config.stash.get(_NICE, False):
        os.nice(10)
        config.stash[_NICE] = True


_NICE = pytest.StashKey[bool]()


def pytest_configure(config):
    """One port and one place for the browser tests' servers, their web dirs and builds,
    shared by every worker of the run and the benchmark's subprocess
    (tests/e2e/app_server.py); the web dirs are removed at the end."""
    if hasattr(config, "workerinput"):
        return  # an xdist worker inherits the controller's
    from tests.e2e.app_server import server_port

    server_port()
    if os.environ.get("FINCH_E2E_WEB_ROOT"):
        return  # a developer's own is kept
    import tempfile

    root = tempfile.mkdtemp(prefix="finch-e2e-web-")
    os.environ["FINCH_E2E_WEB_ROOT"] = root
    config.stash[_WEB_ROOT] = root


def pytest_unconfigure(config):
    if root := config.stash.get(_WEB_ROOT, None):
        import shutil

        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def demo_holdings(finch_env):
    """The local user holds the demo portfolio (a fresh user has none: needs_auth)."""
    from finch_app.db import crud
    from finch_app.db.engine import session_scope
    from finch_app.providers.portfolio import DEMO_POSITIONS

    with session_scope() as session:
        for p in DEMO_POSITIONS:
            crud.upsert_holding(
                session=session,
                user_id="local",
                symbol=p.symbol,
                shares=p.shares,
                cost_basis=p.cost_basis,
                name=p.name,
            )
