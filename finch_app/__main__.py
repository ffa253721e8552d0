"""Finch's command line: `python -m finch_app serve` (what `make run` calls)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

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
    reflex = shutil.which("reflex", path=str(Path(sys.executable).parent)) or "reflex"
    host = args.host or os.environ.get("FINCH_HOST", "127.0.0.1")
    command = [
        reflex, "run", "--env", "prod", "--single-port",
        "--frontend-port", str(args.port), "--backend-port", str(args.port),
        "--backend-host", host,
        "--loglevel", args.loglevel,
    ]
    os.chdir(PROJECT_ROOT)
    os.execve(reflex, command, _reflex_env(args.port))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finch_app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve Finch in production mode")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    run.add_argument("--host", default=None, help="address to bind (default 127.0.0.1, or FINCH_HOST)")
    run.add_argument("--loglevel", default="info")
    run.set_defaults(handler=serve)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
