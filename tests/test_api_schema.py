"""The HTTP API does what its OpenAPI document says: Schemathesis (pinned in requirements-dev.txt)
generates requests from `/api/openapi.json` — valid and invalid bodies, path ids, undocumented
methods, sequences of calls — and checks every answer against the document (status codes,
content types, schemas, `Allow` headers, no 5xx), with `FINCH_AUTH=none` and with accounts.

The API runs in uvicorn on a loopback port in this process (the offline model, the bundled
sample data); Schemathesis's own command line drives it from a subprocess, a bounded number of
examples per operation, with a fixed seed. Nothing leaves the machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from finch_app.api import create_api
from finch_app.auth import store
from finch_app.settings import reset_settings
from tests.fakes.loopback import LoopbackServer
from tests.test_api import free_port

EXAMPLES = 10
"""Examples per operation and phase: enough to find every conformance problem of issue 16 again."""


@pytest.mark.parametrize("mode", ["none", "password"])
def test_the_api_does_what_its_openapi_document_says(mode, monkeypatch, tmp_path):
    port = free_port()
    monkeypatch.setenv("PORT", str(port))
    monkeypatch.setenv("FINCH_AUTH", mode)
    reset_settings()
    headers: list[str] = []
    if mode == "password":
        alice = store.add_user("alice", "a long password")
        _, token = store.create_token(alice.id, "schemathesis")
        headers = ["-H", f"Authorization: Bearer {token}"]
    server = LoopbackServer(create_api(), port=port, name="finch-api-schema").start()
    command = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert command, "schemathesis is missing: `make install-dev` installs requirements-dev.txt"
    try:
        result = subprocess.run(
            [
                command,
                "run",
                f"http://127.0.0.1:{port}/api/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                str(EXAMPLES),
                "--seed",
                "16",
                "--workers",
                "1",
                "--generation-database",
                "none",
                "--no-color",
                "--request-timeout",
                "30",
                *headers,
            ],
            cwd=tmp_path,  # its report folder goes there
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert re.search(r"Test cases:\s+\d+ generated, \d+ passed", result.stdout), result.stdout[-3000:]
