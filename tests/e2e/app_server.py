"""Start the real app the way `make run` does (prod mode, one port) for browser tests.

A prod build bakes its port into the page, so servers cannot share one build on different
ports. Instead every server takes a *slot*: a port and a web dir that it keeps while it runs
and hands on when it stops. The next server on that slot is served on the same port from the
same web dir, and `python -m finch_app serve` reuses the build there when the compiled
frontend is unchanged ("frontend unchanged, reusing the build"), so a session builds about
once per slot (plus once for each setting baked into the page that a module changes). Slots
are only as many as servers run at the same time. A new slot's web dir starts as a copy of an
existing one, node modules hard-linked, so the npm install happens once.

The slots live under `FINCH_E2E_WEB_ROOT` (a temporary directory made on first use and passed
on to subprocesses such as the benchmark, which then reuse the installed node modules).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = float(os.environ.get("FINCH_TEST_BUILD_TIMEOUT", "600"))
WEB_ROOT_ENV = "FINCH_E2E_WEB_ROOT"
OUTPUT = frozenset({"build", ".react-router", "backend"})
"""A web dir's own output, not copied into a new slot."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Slot:
    port: int
    web_dir: Path
    busy: bool = False


_slots: list[Slot] = []
_slots_lock = threading.Lock()


def web_root() -> Path:
    """Where the slots' web dirs are; made on first use and named in the environment."""
    if root := os.environ.get(WEB_ROOT_ENV):
        return Path(root)
    root = Path(tempfile.mkdtemp(prefix="finch-e2e-web-"))
    os.environ[WEB_ROOT_ENV] = str(root)  # subprocesses (the benchmark) share the installed modules
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def _take_slot(preferred: Slot | None) -> Slot:
    """`preferred` if it is free, else the first free slot, else a new one."""
    with _slots_lock:
        free = [s for s in _slots if not s.busy]
        slot = preferred if preferred is not None and not preferred.busy else (free[0] if free else None)
        if slot is None:
            port = free_port()
            slot = Slot(port, web_root() / f"web-{os.getpid()}-{port}")
            _slots.append(slot)
        slot.busy = True
        return slot


def _release(slot: Slot) -> None:
    with _slots_lock:
        slot.busy = False


def _prepare_web_dir(web: Path) -> None:
    """A new slot's web dir: a copy of an installed one (node modules hard-linked), if any."""
    if web.exists():
        return
    root = web.parent
    template = next((d for d in sorted(root.iterdir()) if (d / "node_modules").is_dir()), None)
    if template is None and (ROOT / ".web" / "node_modules").is_dir():
        template = ROOT / ".web"
    if template is None:
        return  # Reflex initialises it and installs the node modules

    def copy(source: str, destination: str) -> object:
        # The node modules are only read; everything else is rewritten by each compile.
        if "node_modules" in Path(source).relative_to(template).parts:
            os.link(source, destination)
            return destination
        return shutil.copy2(source, destination)

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder)
        if here == template:
            return OUTPUT & set(names)
        if here == template / "node_modules":
            return {".vite", ".cache"} & set(names)  # caches written in place
        return set()

    shutil.copytree(template, web, symlinks=True, ignore=ignore, copy_function=copy)


class AppServer:
    """`python -m finch_app serve` in its own process group, with its own data dir."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, log_path: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.extra_env = env or {}
        self.log_path = log_path or data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.slot: Slot | None = None
        self._ready = threading.Event()
        self.built = False
        """Whether the last start built the frontend (rather than reusing a build)."""

    @property
    def port(self) -> int:
        if self.slot is None:
            raise RuntimeError("the server has not started")
        return self.slot.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppServer:
        """Start (or, after `kill`, restart on the same port and data dir)."""
        self.slot = _take_slot(self.slot)
        try:
            self._start()
        except BaseException:
            self.kill()
            raise
        return self

    def _start(self) -> None:
        assert self.slot is not None
        env = {
            **os.environ,
            "FINCH_DATA_DIR": str(self.data_dir),
            "FINCH_ENV_FILE": os.devnull,
            # Tests never reach public hosts; the data-source tests use loopback fakes.
            "FINCH_DATA_MODE": "offline",
            **self.extra_env,
        }
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FINCH_MODEL", "DATABASE_URL",
                     "SNAPTRADE_CLIENT_ID", "SNAPTRADE_CONSUMER_KEY", "FINCH_SNAPTRADE_BASE_URL",
                     "FINCH_SECRET_KEY"):
            if name not in self.extra_env:
                env.pop(name, None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _prepare_web_dir(self.slot.web_dir)
        env["REFLEX_WEB_WORKDIR"] = str(self.slot.web_dir)
        env["REFLEX_STATES_WORKDIR"] = str(self.data_dir / "states")
        self._ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "finch_app", "serve", "--port", str(self.slot.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, args=(self.process, self._ready), daemon=True).start()
        if not self._ready.wait(BUILD_TIMEOUT_S):
            raise TimeoutError(f"Finch did not start within {BUILD_TIMEOUT_S:.0f} s:\n{self.log_tail()}")
        if self.process.poll() is not None:
            raise RuntimeError(f"Finch exited with {self.process.wait()}:\n{self.log_tail()}")
        page = httpx.get(self.url + "/", timeout=10)
        # Any answer but an error: with accounts on, "/" redirects to the sign-in page.
        if page.status_code >= 400 or httpx.get(self.url + "/ping", timeout=10).status_code != 200:
            raise RuntimeError(f"Finch said it was ready but answers {page.status_code}:\n{self.log_tail()}")

    def _pump(self, process: subprocess.Popen[bytes], ready: threading.Event) -> None:
        """Copy the server's output into its log; `ready` once it says it answers, or has ended."""
        assert process.stdout is not None
        with open(self.log_path, "ab") as log:
            for line in iter(process.stdout.readline, b""):
                log.write(line)
                log.flush()
                if line.startswith(b"frontend changed: building"):
                    self.built = True
                elif line.startswith(b"frontend unchanged"):
                    self.built = False
                elif line.startswith(b"Finch is ready: open "):
                    ready.set()
        ready.set()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Stop the whole process group (the server forks workers) and hand the slot on."""
        try:
            if self.process is not None and self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, sig)
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=10)
                except ProcessLookupError:
                    pass
        finally:
            if self.slot is not None:
                _release(self.slot)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
