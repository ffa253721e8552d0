"""Start the real app the way `make run` does (prod mode, one port) for browser tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = float(os.environ.get("FINCH_TEST_BUILD_TIMEOUT", "600"))


_WEB_DIRS: list[Path] = []
"""Web dirs of servers started in this test session, newest last."""


def _installed_web_dir() -> Path | None:
    for candidate in [*reversed(_WEB_DIRS), ROOT / ".web"]:
        if (candidate / "node_modules").is_dir():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`python -m finch_app serve` in its own process group, with its own data dir."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.extra_env = env or {}
        self.log_path = log_path or data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppServer:
        env = {
            **os.environ,
            "FINCH_DATA_DIR": str(self.data_dir),
            "FINCH_ENV_FILE": os.devnull,
            "FINCH_DATA_MODE": "offline",  # tests never reach public hosts; the data-source tests use loopback fakes
            **self.extra_env,
        }
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FINCH_MODEL", "DATABASE_URL",
                     "SNAPTRADE_CLIENT_ID", "SNAPTRADE_CONSUMER_KEY", "FINCH_SNAPTRADE_BASE_URL", "FINCH_SECRET_KEY"):
            if name not in self.extra_env:
                env.pop(name, None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Each server builds into its own web dir: a prod build bakes its backend's port into
        # the page, so servers sharing one .web would send each other's tabs elsewhere.
        env["REFLEX_WEB_WORKDIR"] = str(self._web_dir())
        env["REFLEX_STATES_WORKDIR"] = str(self.data_dir / "states")
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "finch_app", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def _web_dir(self) -> Path:
        """A copy of an already installed web dir (node modules included), when there is one."""
        web = self.data_dir / "web"
        template = _installed_web_dir()
        if not web.exists() and template is not None:
            top_level_output = {"build", ".react-router"}  # only the template's own build, not node_modules' dirs
            shutil.copytree(
                template,
                web,
                symlinks=True,
                ignore=lambda folder, names: top_level_output & set(names) if Path(folder) == template else set(),
            )
        _WEB_DIRS.append(web)
        return web

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Finch exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                page = httpx.get(self.url + "/", timeout=2)
                ping = httpx.get(self.url + "/ping", timeout=2)
                # Any answer but an error: with accounts on, "/" redirects to the sign-in page.
                if page.status_code < 400 and ping.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"Finch did not start within {BUILD_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Stop the whole process group (reflex starts workers of its own)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
