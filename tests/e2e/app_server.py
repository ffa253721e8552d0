"""Start the real app the way `make run` does (prod mode, one port) for browser tests.

A prod build bakes its port into the page (the page calls `localhost:<port>`, its host name
swapped for the one it was opened on). So every server of a test run listens on the same port,
each on an address of its own in 127.0.0.0/8, and servers whose pages are alike share one build:
`python -m finch_app serve` keeps builds by fingerprint in a folder they all use
(`FINCH_BUILD_CACHE`), and a run builds once per setting baked into the page.

Each server takes a *slot*: an address and a web dir that it keeps while it runs and hands on
when it stops (a restarted server is back on its address). Slots are only as many as servers
run at the same time in one process. A new slot's web dir starts as a copy of one that has
served already (node modules hard-linked), so the npm install happens about once per run.

The port, the web dirs and the builds live under `FINCH_E2E_PORT` and `FINCH_E2E_WEB_ROOT`:
tests/conftest.py sets them once per test run, shared by pytest-xdist's workers and the
benchmark's subprocess; elsewhere they are chosen on first use.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from finch_app.serve import BUILD_CACHE_ENV

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = float(os.environ.get("FINCH_TEST_BUILD_TIMEOUT", "600"))
WEB_ROOT_ENV = "FINCH_E2E_WEB_ROOT"
PORT_ENV = "FINCH_E2E_PORT"
OUTPUT = frozenset({"build", ".react-router", "backend"})
"""A web dir's own output, not copied into a new slot."""


SERVER_PORTS = range(20_000, 32_768)
"""Below Linux's ephemeral range (32768 and up), where the kernel picks the local ports of
outgoing connections and of `bind(0)`: a slot's address and port stay unbound between two
servers, and nothing else on the machine should take them meanwhile."""


def server_port() -> int:
    """The port every server of this test run listens on; chosen on first use and named in
    the environment."""
    if port := os.environ.get(PORT_ENV):
        return int(port)
    port = random.choice(SERVER_PORTS)
    os.environ[PORT_ENV] = str(port)
    return port


def _free(address: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def _slot_address(taken: set[str]) -> str:
    """A loopback address of 127.0.0.0/8 (Linux answers on all of them) that no slot of any
    process holds: random, and free on the run's port."""
    for _ in range(500):
        address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
        if address not in taken and _free(address, server_port()):
            return address
    raise RuntimeError(f"no free address for a test server on port {server_port()}")


@dataclass
class Slot:
    address: str
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
            address = _slot_address({s.address for s in _slots})
            slot = Slot(address, web_root() / f"web-{os.getpid()}-{address}")  # unique across processes
            _slots.append(slot)
        slot.busy = True
        return slot


def _release(slot: Slot) -> None:
    with _slots_lock:
        slot.busy = False


def _served(web: Path) -> Path:
    """The marker of a web dir that has served a page: complete, usable as a template."""
    return web.with_name(web.name + ".served")


def _template(root: Path) -> Path | None:
    """A web dir with the node modules installed: one that has served, or `make run`'s."""
    if served := sorted(root.glob("*.served")):
        return served[0].with_suffix("")
    return ROOT / ".web" if (ROOT / ".web" / "node_modules").is_dir() else None


@contextmanager
def _installing(web: Path) -> Iterator[None]:
    """Held while a server starts on a web dir that nothing could be copied to: Reflex installs
    the node modules there. Other processes (xdist workers, the benchmark) wait for it, then copy."""
    if web.exists() or _template(web.parent) is not None:
        yield
        return
    with open(web.parent / "install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks until the process installing has served
        yield


def _prepare_web_dir(web: Path) -> None:
    """A new slot's web dir: a copy of one that has served (node modules hard-linked), if any."""
    if web.exists():
        return
    template = _template(web.parent)
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
    def url(self) -> str:
        if self.slot is None:
            raise RuntimeError("the server has not started")
        return f"http://{self.slot.address}:{server_port()}"

    def start(self) -> AppServer:
        """Start (or, after `kill`, restart on the same address and data dir)."""
        self.slot = _take_slot(self.slot)
        try:
            self._start()
        except BaseException:
            self.kill()
            raise
        return self

    def _start(self) -> None:
        assert self.slot is not None
        origins = [self.url, *filter(None, [self.extra_env.get("FINCH_ALLOWED_ORIGINS")])]
        env = {
            **os.environ,
            "FINCH_DATA_DIR": str(self.data_dir),
            "FINCH_ENV_FILE": os.devnull,
            # Tests never reach public hosts; the data-source tests use loopback fakes.
            "FINCH_DATA_MODE": "offline",
            "GRANIAN_LOG_LEVEL": "info",  # its workers' starts and exits, in the server's log
            BUILD_CACHE_ENV: str(web_root() / "builds"),
            **self.extra_env,
            "FINCH_HOST": self.slot.address,
            "FINCH_ALLOWED_ORIGINS": ",".join(origins),  # the page's own address
        }
        for name in (
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "FINCH_MODEL",
            "DATABASE_URL",
            "SNAPTRADE_CLIENT_ID",
            "SNAPTRADE_CONSUMER_KEY",
            "FINCH_SNAPTRADE_BASE_URL",
            "FINCH_SECRET_KEY",
        ):
            if name not in self.extra_env:
                env.pop(name, None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with _installing(self.slot.web_dir):
            _prepare_web_dir(self.slot.web_dir)
            self._serve(env)

    def _serve(self, env: dict[str, str]) -> None:
        assert self.slot is not None
        env["REFLEX_WEB_WORKDIR"] = str(self.slot.web_dir)
        env["REFLEX_STATES_WORKDIR"] = str(self.data_dir / "states")
        self._ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "finch_app", "serve", "--port", str(server_port())],
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
        _served(self.slot.web_dir).touch()

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
