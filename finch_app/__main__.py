"""Finch's command line: `python -m finch_app serve` (what `make run` calls), and the admin
commands `users`, `tokens`, `db upgrade`, `mcp list` and `check`."""

from __future__ import annotations

import argparse
import os
import sys

from finch_app.cli_admin import add_commands


def _serve(args: argparse.Namespace) -> int:
    from finch_app.serve import serve

    return serve(args)


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
    run.set_defaults(handler=_serve)
    add_commands(commands)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
