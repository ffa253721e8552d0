"""Admin commands: `users`, `tokens`, `db`, `mcp` and `check` (see `python -m finch_app --help`).

They act on the database the app uses (`DATABASE_URL`, or the SQLite file in
`FINCH_DATA_DIR`), migrating it first. Passwords are read from standard input when it is
not a terminal (one line), or typed twice at a hidden prompt. A token is printed once, alone
on standard output, so scripts can capture it.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from datetime import datetime, timedelta

from finch_app.config_check import ConfigError, check, format_report, load_settings


def _fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _read_new_password(prompt_name: str) -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    first = getpass.getpass(f"Password for {prompt_name}: ")
    second = getpass.getpass("Again: ")
    if first != second:
        raise ValueError("The two passwords differ.")
    return first


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_lifetime(text: str) -> timedelta:
    """`30d`, `12h`, `2w`, `90m` → a timedelta (for `tokens create --expires`)."""
    match = re.fullmatch(r"\s*(\d{1,6})\s*([mhdw])\s*", text.lower())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a lifetime such as 30d, 12h, 2w or 90m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _settings_or_exit():
    try:
        return load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


# --- users ------------------------------------------------------------------------------


def users_add(args: argparse.Namespace) -> int:
    from finch_app.auth import passwords, store

    _settings_or_exit()
    try:
        password = _read_new_password(args.name)
        account = store.add_user(args.name, password, is_admin=args.admin)
    except (ValueError, passwords.PasswordRejected) as exc:
        return _fail(str(exc))
    role = "admin" if account.is_admin else "user"
    print(f"Added {role} {account.name}.", file=sys.stderr)
    return 0


def users_list(args: argparse.Namespace) -> int:
    from finch_app.auth import store

    _settings_or_exit()
    users = store.list_users()
    if not users:
        print("No users yet. Add one with: python -m finch_app users add NAME --admin", file=sys.stderr)
        return 0
    width = max(len(u.name) for u in users)
    for user in users:
        flags = [f for f, on in (("admin", user.is_admin), ("disabled", user.disabled)) if on]
        flags.append(f"via {user.source}")
        print(f"{user.name:<{width}}  {', '.join(flags):<24}  last sign-in: {_when(user.last_login_at)}")
    return 0


def users_disable(args: argparse.Namespace) -> int:
    from finch_app.auth import store

    _settings_or_exit()
    try:
        account = store.set_disabled(args.name, disabled=not args.enable)
    except ValueError as exc:
        return _fail(str(exc))
    state = "disabled (their sessions ended)" if account.disabled else "enabled"
    print(f"{account.name} is {state}.", file=sys.stderr)
    return 0


def users_set_password(args: argparse.Namespace) -> int:
    from finch_app.auth import passwords, store

    _settings_or_exit()
    if store.get_user(args.name) is None:
        return _fail(f"There is no user named {args.name!r}.")
    try:
        account, tokens = store.set_password(
            args.name, _read_new_password(args.name), keep_tokens=args.keep_tokens
        )
    except (ValueError, passwords.PasswordRejected) as exc:
        return _fail(str(exc))
    print(f"Set a new password for {account.name}; their sessions ended.", file=sys.stderr)
    names = ", ".join(f"{t.name!r} ({t.prefix}…)" for t in tokens)
    if not tokens:
        print("They had no API tokens.", file=sys.stderr)
    elif args.keep_tokens:
        print(f"These API tokens of theirs still work (--keep-tokens): {names}.", file=sys.stderr)
    else:
        print(f"Their API tokens ended too: {names}.", file=sys.stderr)
    return 0


# --- tokens -----------------------------------------------------------------------------


def _token_owner(args: argparse.Namespace, settings) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """(user id, user name, token name) for `tokens create NAME [--user USER]`."""
    from finch_app.auth import store

    if settings.auth == "none" and not args.user:
        local = store.ensure_local_user()
        return local.id, local.name, args.name
    if args.user:
        account = store.get_user(args.user)
        if account is None:
            raise ValueError(f"There is no user named {args.user!r}.")
        return account.id, account.name, args.name
    named = store.get_user(args.name)
    if named is not None:
        return named.id, named.name, "cli"
    enabled = [u for u in store.list_users() if not u.disabled]
    if len(enabled) == 1:
        return enabled[0].id, enabled[0].name, args.name
    raise ValueError("Say whose token it is: python -m finch_app tokens create NAME --user USER")


def tokens_create(args: argparse.Namespace) -> int:
    from finch_app.auth import store

    settings = _settings_or_exit()
    try:
        user_id, user_name, token_name = _token_owner(args, settings)
        if store.get_user(user_name) is not None and store.get_user(user_name).disabled:  # type: ignore[union-attr]
            raise ValueError(f"{user_name} is disabled.")
        info, token = store.create_token(user_id, token_name, lifetime=args.expires)
    except ValueError as exc:
        return _fail(str(exc))
    print(token)
    ends = f"It works until {_when(info.expires_at)}." if info.expires_at else "It works until it is revoked."
    print(
        f"Created API token {info.name!r} for {user_name}. {ends} It is shown only now: keep it somewhere safe.\n"
        f"Use it as: Authorization: Bearer <token>",
        file=sys.stderr,
    )
    return 0


def tokens_list(args: argparse.Namespace) -> int:
    from finch_app.auth import store

    settings = _settings_or_exit()
    if args.user:
        account = store.get_user(args.user)
        if account is None:
            return _fail(f"There is no user named {args.user!r}.")
        owners = [account]
    elif settings.auth == "none":
        owners = [store.ensure_local_user()]
    else:
        owners = store.list_users()
    for owner in owners:
        for info in store.list_tokens(owner.id):
            print(
                f"{info.id}  {owner.name:<16} {info.name:<20} {info.prefix}…  "
                f"created {_when(info.created_at)}  last used {_when(info.last_used_at)}  "
                f"expires {_when(info.expires_at)}"
            )
    return 0


def tokens_revoke(args: argparse.Namespace) -> int:
    from finch_app.auth import store

    _settings_or_exit()
    owners = [store.ensure_local_user(), *store.list_users()]
    if any(store.revoke_token(owner.id, args.token_id) for owner in owners):
        print(f"Revoked token {args.token_id}.", file=sys.stderr)
        return 0
    return _fail(f"No live token has the id {args.token_id!r} (see `tokens list`).")


# --- db and check -----------------------------------------------------------------------


def db_upgrade(args: argparse.Namespace) -> int:
    from finch_app.db import migrate
    from finch_app.db.engine import new_engine

    settings = _settings_or_exit()
    engine = new_engine(settings.database_url)
    before = migrate.current_revision(engine)
    migrate.upgrade(engine, args.revision)
    after = migrate.current_revision(engine)
    print(f"Database at revision {after} (was {before or 'empty'}).", file=sys.stderr)
    return 0


def db_current(args: argparse.Namespace) -> int:
    from finch_app.db import migrate
    from finch_app.db.engine import new_engine

    settings = _settings_or_exit()
    current = migrate.current_revision(new_engine(settings.database_url))
    head = migrate.head_revision()
    print(f"{current or 'empty'} (latest: {head})")
    return 0


def db_revision(args: argparse.Namespace) -> int:
    from finch_app.db import migrate
    from finch_app.db.engine import new_engine

    settings = _settings_or_exit()
    migrate.revision(new_engine(settings.database_url), args.message)
    return 0


def check_command(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    report = check(settings)
    if text := format_report(report):
        print(text, file=sys.stderr)
    if report.ok:
        print("Configuration OK.", file=sys.stderr)
        return 0
    return 2


# --- mcp -------------------------------------------------------------------------------


def mcp_list(args: argparse.Namespace) -> int:
    """Connect to each server of FINCH_MCP_CONFIG as the app would, and say how it went."""
    import asyncio
    import logging

    from finch_app.mcp.client import McpClients
    from finch_app.mcp.config import environment, load_config

    settings = _settings_or_exit()
    if settings.mcp_config is None:
        print("FINCH_MCP_CONFIG is not set: Finch uses no MCP servers.", file=sys.stderr)
        return 0
    env_file = settings.model_config.get("env_file")
    config = load_config(settings.mcp_config, environment(env_file if isinstance(env_file, str) else None))
    for problem in config.errors:
        print(f"error: {problem}", file=sys.stderr)
    if not config.servers:
        print(f"No usable servers in {settings.mcp_config}.", file=sys.stderr)
        return 2 if config.errors else 0

    logging.getLogger("finch.mcp").setLevel(logging.ERROR)  # each server's state is printed below

    async def connect() -> list:  # type: ignore[type-arg]
        clients = McpClients(config.servers)
        try:
            await clients.start()
            return clients.status()
        finally:
            await clients.aclose()

    for status in asyncio.run(connect()):
        state = "connected" if status.state == "connected" else status.state
        if status.error:
            state += f": {status.error}"
        trust = "trusted (runs at once)" if status.trusted else "asks the user first"
        print(f"{status.name}  [{status.transport}] {status.where}\n  {state} · {trust}")
        for info in status.tools:
            print(f"    {info.name}  {info.description[:100]}")
        for skipped in status.skipped:
            print(f"    (left out) {skipped}")
    return 2 if config.errors else 0


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    users = commands.add_parser("users", help="manage accounts (FINCH_AUTH=password)")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add a user; the password is read from stdin or asked twice")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="make the user an admin")
    add.set_defaults(handler=users_add)
    users_sub.add_parser("list", help="list users").set_defaults(handler=users_list)
    disable = users_sub.add_parser("disable", help="disable a user and end their sessions at once")
    disable.add_argument("name")
    disable.add_argument("--enable", action="store_true", help="enable the user again instead")
    disable.set_defaults(handler=users_disable)
    setpw = users_sub.add_parser(
        "set-password",
        help="set a user's password (stdin, or asked twice); ends their sessions and API tokens",
    )
    setpw.add_argument("name")
    setpw.add_argument(
        "--keep-tokens", action="store_true", help="keep their API tokens working (they are listed)"
    )
    setpw.set_defaults(handler=users_set_password)

    tokens = commands.add_parser("tokens", help="personal API tokens")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", required=True)
    create = tokens_sub.add_parser("create", help="create an API token and print it (once)")
    create.add_argument("name", help="what the token is for, e.g. 'notebook'")
    create.add_argument("--user", help="whose token (needed when there are several users)")
    create.add_argument(
        "--expires",
        type=parse_lifetime,
        default=None,
        metavar="LIFETIME",
        help="end the token after this long: 30d, 12h, 2w, 90m (default: until revoked)",
    )
    create.set_defaults(handler=tokens_create)
    listing = tokens_sub.add_parser("list", help="list live tokens (never the tokens themselves)")
    listing.add_argument("--user")
    listing.set_defaults(handler=tokens_list)
    revoke = tokens_sub.add_parser("revoke", help="revoke a token by its id (from `tokens list`)")
    revoke.add_argument("token_id")
    revoke.set_defaults(handler=tokens_revoke)

    db = commands.add_parser("db", help="database schema (Alembic migrations)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations (serve does this at start too)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(handler=db_upgrade)
    db_sub.add_parser("current", help="show the database's revision").set_defaults(handler=db_current)
    revision = db_sub.add_parser("revision", help="write a migration for model changes (developers)")
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(handler=db_revision)

    mcp = commands.add_parser("mcp", help="the MCP servers Finch uses (FINCH_MCP_CONFIG)")
    mcp_sub = mcp.add_subparsers(dest="mcp_command", required=True)
    mcp_sub.add_parser("list", help="connect to each server and show its state and tools").set_defaults(
        handler=mcp_list
    )

    commands.add_parser("check", help="check the configuration and the database").set_defaults(
        handler=check_command
    )
