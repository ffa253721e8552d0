"""Serving an ASGI app on a real loopback socket, for the fakes that must be reached over HTTP.

uvicorn runs on 127.0.0.1 with an ephemeral port in a daemon thread. A real socket, not
httpx's in-process ASGI transport, because that one buffers whole bodies (hiding
streaming) and cannot be reached by other processes or by code that opens its own client.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp


class LoopbackServer:
    """`start()` binds and serves `app`; `base_url` is then e.g. "http://127.0.0.1:40123"."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "loopback-server",
        lifespan: str = "off",
        ws: str = "auto",
    ) -> None:
        """`lifespan="on"` runs the app's lifespan (e.g. an MCP session manager's task group);
        `ws` picks uvicorn's websocket implementation."""
        self.app = app
        self.lifespan = lifespan
        self.ws = ws
        self.host = host
        self.port = port
        self.name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LoopbackServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            loop="asyncio",
            http="h11",
            lifespan=self.lifespan,
            ws=self.ws,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True  # do not wait for hanging handlers
        self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
