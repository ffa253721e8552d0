"""Finch's command line: `python -m finch_app serve` (what `make run` calls), and the admin
commands `users`, `tokens`, `db upgrade` and `check`."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from finch_app.cli_admin import add_commands
from finch_app.settings import PROJECT_ROOT


def _reflex_env(port: int) -> dict[str, str]:
    """Environment for the reflex CLI: the venv's Node first, npm, no telemetry."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env.setdefault("REFLEX_USE_NPM", "1")
    env.setdefault("REFLEX_CHECK_LATEST_VERSION", "0")
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "0")
    env["PORT"] = str(port)
    return env


def serve(args: argparse.Namespace) -> int:
    """Build the frontend and serve frontend and backend on one port (Reflex prod mode)."""
    from finch_app.config_check import check, format_report
    from finch_app.cli_admin import _settings_or_exit

    # Bad configuration stops here, one sentence per problem, before a long build.
    # (Checking also applies the database migrations.)
    settings = _settings_or_exit()
    if args.host:  # the address `--host` binds to is checked like FINCH_HOST
        settings = settings.model_copy(update={"host": args.host})
    report = check(settings)
    if text := format_report(report):
        print(text, file=sys.stderr)
    if not report.ok:
        return 2
    reflex = shutil.which("reflex", path=str(Path(sys.executable).parent)) or "reflex"
    host = args.host or os.environ.get("FINCH_HOST", "127.0.0.1")
    command = [
        reflex, "run", "--env", "prod", "--single-port",
        "--frontend-port", str(args.port), "--backend-port", str(args.port),
        "--backend-host", host,
        "--loglevel", args.loglevel,
    ]
    env = _reflex_env(args.port)
    if (workers := _workers(args.workers, env)) is None:
        return 2
    os.chdir(PROJECT_ROOT)
    os.execve(reflex, command, env)


def _workers(workers: int, env: dict[str, str]) -> int | None:
    """Set the backend's worker processes (Granian, Reflex's prod server) in `env`.

    Several workers share one port; they need Redis (Reflex's state, Finch's live runs)
    and one database. Without `--workers`, one (Reflex alone would start 2 × CPUs + 1
    as soon as Redis is configured)."""
    from finch_app.settings import get_settings

    redis_url = get_settings().redis_url
    if workers < 1:
        print("--workers must be at least 1.", file=sys.stderr)
        return None
    if workers > 1 and not redis_url:
        print(
            f"--workers {workers} needs REFLEX_REDIS_URL (e.g. redis://localhost:6379/0): the workers "
            "share browser state and live runs through Redis. Set DATABASE_URL to PostgreSQL too.",
            file=sys.stderr,
        )
        return None
    if redis_url:
        env.setdefault("REFLEX_REDIS_URL", redis_url)
    env["GRANIAN_WORKERS"] = str(workers)
    env.setdefault("REFLEX_USE_GRANIAN", "1")
    return workers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finch_app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve Finch in production mode")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    run.add_argument("--host", default=None, help="address to bind (default 127.0.0.1, or FINCH_HOST)")
    run.add_argument("--loglevel", default="info")
    run.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("FINCH_WORKERS", "1")),
        help="worker processes on the one port (default 1, or FINCH_WORKERS); above 1 needs REFLEX_REDIS_URL",
    )
    run.set_defaults(handler=serve)
    add_commands(commands)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
